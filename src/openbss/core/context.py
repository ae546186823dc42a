"""The unit-of-work context every service receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from openbss.core.models import Tenant


@dataclass
class Context:
    """One request or job: its session, tenant, actor and the business "now".

    ``now`` comes from the tenant's clock (the test clock of a sandbox tenant, the real
    time otherwise) and is fixed for the whole unit of work.
    """

    session: Session
    tenant: Tenant
    actor: str
    role: str
    now: datetime
    request_id: str = ""
    base_url: str = "http://127.0.0.1:8000"
    correlation_id: str = field(default="")
    key_id: str = ""  # the API key behind the request ("" for CLI and jobs)

    @property
    def tenant_id(self) -> str:
        return self.tenant.id


def tenant_now(tenant: Tenant) -> datetime:
    """The tenant's business time: its frozen test clock when a sandbox, else real time."""
    if tenant.sandbox and tenant.clock_time is not None:
        return tenant.clock_time
    return datetime.now(UTC)


def system_context(session: Session, tenant: Tenant, *, actor: str = "system") -> Context:
    """A context for CLI commands and background jobs."""
    from openbss.core.config import get_settings

    return Context(
        session=session,
        tenant=tenant,
        actor=actor,
        role="admin",
        now=tenant_now(tenant),
        base_url=get_settings().base_url,
    )
