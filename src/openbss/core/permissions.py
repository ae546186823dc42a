"""Who may call what: the role check every route declares, which builds the Context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import Request
from sqlalchemy.orm import Session

from openbss.core.auth import ROLES, authenticate
from openbss.core.config import get_settings
from openbss.core.context import Context, tenant_now
from openbss.core.errors import NotFoundError, PermissionDeniedError
from openbss.core.models import Tenant


class Requires:
    """Dependency that authenticates the caller, checks its role and builds the Context.

    ``Depends(Requires("catalog_manager"))`` lets that role and ``admin`` call the route;
    the allowed roles are kept on the object so tests and docs can enumerate them.
    """

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles) | {"admin"}

    def __call__(self, request: Request) -> Context:
        session: Session = request.state.session
        principal = getattr(request.state, "principal", None)  # set by the middleware
        if principal is None:
            principal = authenticate(session, request.headers.get("authorization"))
        if principal.role not in self.roles:
            raise PermissionDeniedError(
                f"role {principal.role!r} may not call this operation; allowed: "
                + ", ".join(sorted(self.roles)),
            )
        tenant = session.get(Tenant, principal.tenant_id)
        if tenant is None:
            raise NotFoundError("tenant no longer exists")
        request.state.tenant_name = tenant.name
        structlog.contextvars.bind_contextvars(tenant=tenant.name, actor=principal.actor)
        return Context(
            session=session,
            tenant=tenant,
            actor=principal.actor,
            role=principal.role,
            now=tenant_now(tenant),
            request_id=request.state.request_id,
            base_url=get_settings().base_url,
            correlation_id=request.headers.get("x-correlation-id", "") or
            request.state.request_id,
            key_id=principal.key_id,
        )


ANY_ROLE: tuple[str, ...] = ROLES
Handler = Callable[..., Any]


# Roles that see personal data (contact media, identification numbers, postal addresses,
# birth dates) in clear; every other role gets it masked, in responses and in events.
PERSONAL_DATA_ROLES: frozenset[str] = frozenset(
    {"admin", "sales_agent", "care_agent", "billing_ops", "auditor"}
)


def may_see_personal_data(role: str) -> bool:
    return role in PERSONAL_DATA_ROLES


# Which roles may read each TMF API's resources (and so register a listener on its hub
# and receive its events). The role matrix in docs/security.md is the full table.
API_READERS: dict[str, frozenset[str]] = {
    "event": frozenset(ROLES),
    "partyManagement": frozenset(
        {"admin", "sales_agent", "care_agent", "billing_ops", "finance", "auditor", "read_only"}
    ),
    "customerManagement": frozenset(
        {"admin", "sales_agent", "care_agent", "billing_ops", "finance", "auditor", "read_only"}
    ),
    "accountManagement": frozenset(
        {"admin", "sales_agent", "care_agent", "billing_ops", "finance", "auditor", "read_only"}
    ),
    "productCatalogManagement": frozenset(ROLES),
}


def may_read_api(role: str, api: str) -> bool:
    """Whether ``role`` may read the resources of the TMF API named ``api``."""
    return role in API_READERS.get(api, frozenset({"admin"}))
