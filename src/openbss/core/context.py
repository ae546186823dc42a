"""The unit-of-work context every service receives."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from openbss.core import clock
from openbss.core.cache_invalidation import forget_on_change
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


def system_context(session: Session, tenant: Tenant, *, actor: str = "system") -> Context:
    """A context for CLI commands and background jobs."""
    from openbss.core.config import get_settings

    return Context(
        session=session,
        tenant=tenant,
        actor=actor,
        role="admin",
        now=clock.tenant_now(tenant),
        base_url=get_settings().base_url,
    )


# --- the tenant cache -----------------------------------------------------------------
# Every request needs its tenant (name, region, currency, clock). A process keeps the
# columns of production tenants for ``OPENBSS_AUTH_CACHE_SECONDS`` and attaches a copy to
# the request's session without a query. Sandbox tenants are always read (their test
# clock must be the same in every process at once). A change to a tenant made through the
# ORM in this process drops it from the cache; other processes see it within the bound.
# The audit chain head (``audit_seq``/``audit_head``) is never taken from the cache:
# ``audit.record`` re-reads it under the tenant row lock.
_TENANT_COLUMNS = tuple(c.key for c in inspect(Tenant).column_attrs)
_TENANT_MANAGER = inspect(Tenant).class_manager
_TENANT_ROW = select(*(a.columns[0] for a in inspect(Tenant).column_attrs)).where(
    Tenant.__table__.c.id == bindparam("tenant_id"))
_VOLATILE = frozenset({"audit_seq", "audit_head"})
_tenants: dict[str, tuple[dict[str, Any], float]] = {}
_tenants_lock = threading.Lock()
_tenant_generation = 0


def cached_tenant(session: Session, tenant_id: str) -> Tenant | None:
    """The tenant ``tenant_id`` attached to ``session`` from the cache, or None (a miss:
    load it with :func:`load_tenant`)."""
    entry = _tenants.get(tenant_id)
    if entry is None or entry[1] <= clock.monotonic():
        return None
    present = session.identity_map.get(identity_key(Tenant, tenant_id))
    if present is not None:
        return present
    return _attach(session, entry[0])


def _attach(session: Session, columns: dict[str, Any]) -> Tenant:
    """A persistent Tenant of ``columns`` in ``session`` without a query: built as a load
    would (no attribute events), then attached — what merge(load=False) does, without its
    attribute-by-attribute copy."""
    copy: Tenant = _TENANT_MANAGER.new_instance()
    copy.__dict__.update(columns)
    make_transient_to_detached(copy)
    session.add(copy)
    return copy


def load_tenant(session: Session, tenant_id: str) -> Tenant | None:
    """Read the tenant and remember it (production tenants only).

    One Core statement on the session's connection (every request of a sandbox tenant
    comes here: the ORM's ``Session.get`` cost as much as the endpoint's own query)."""
    from openbss.core.config import get_settings

    present = session.identity_map.get(identity_key(Tenant, tenant_id))
    if present is not None:
        return present
    generation = _tenant_generation
    row = session.connection().execute(_TENANT_ROW, {"tenant_id": tenant_id}).first()
    if row is None:
        return None
    columns = dict(zip(_TENANT_COLUMNS, row, strict=True))
    tenant = _attach(session, columns)
    ttl = get_settings().auth_cache_seconds
    if tenant.sandbox or ttl <= 0:
        return tenant
    with _tenants_lock:
        if generation == _tenant_generation:
            _tenants[tenant_id] = (columns, clock.monotonic() + ttl)
    return tenant


def forget_tenant(tenant_id: str | None = None) -> None:
    """Drop a tenant (every tenant if None) from this process's cache."""
    global _tenant_generation
    with _tenants_lock:
        _tenant_generation += 1
        if tenant_id is None:
            _tenants.clear()
        else:
            _tenants.pop(tenant_id, None)


def _audit_append_only(target: Tenant) -> bool:
    """An audit append moves only the chain head, which the cache never serves."""
    state = inspect(target)
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    return bool(changed) and changed <= _VOLATILE


forget_on_change(Tenant, key=lambda row: row.id, forget=forget_tenant,
                 ignore=_audit_append_only)
