"""Tenant-scoped SQL: the only way a context reads or changes its rows.

Every business table carries ``tenant_id``. A context's ``queries.py`` builds its
statements with these helpers instead of ``select``/``update``/``delete``, so the tenant
condition is part of the statement's construction, not something to remember::

    scoped(ctx, Party).where(Party.kind == kind)               # SELECT … WHERE tenant_id = …
    scoped(ctx, Customer.id, Customer.party_id)                # columns: scoped by their table
    scoped(ctx, func.count(), of=[Account]).where(…)           # an aggregate over a table
    scoped(ctx, Party, of=[PartySearchKey]).join(PartySearchKey, …)  # both tables scoped
    scoped_delete(ctx, PartyLink).where(PartyLink.resource_id == rid)
    get_owned(ctx, Party, party_id, "individual", lock=True)   # one row or 404

``tests/test_tenant_scoped_sql.py`` fails on any ``select(``, ``update(``, ``delete(``,
``session.get(`` or hand-written ``tenant_id ==`` in a context's modules outside these
helpers. ``tenant`` is a :class:`~openbss.core.context.Context` or a tenant id (jobs and
the CLI that work on one tenant without a request).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Delete, Select, Update, bindparam, delete, select, update
from sqlalchemy.orm import Session

from openbss.core.errors import NotFoundError

T = TypeVar("T")


class _HasTenant(Protocol):
    @property
    def tenant_id(self) -> str: ...


def tenant_of(tenant: _HasTenant | str) -> str:
    return tenant if isinstance(tenant, str) else tenant.tenant_id


def _owner(item: Any) -> type | None:
    """The mapped class a selectable item belongs to (an entity, or a column of one)."""
    if isinstance(item, type):
        return item if hasattr(item, "tenant_id") else None
    owner = getattr(item, "class_", None)  # an InstrumentedAttribute (Model.column)
    return owner if isinstance(owner, type) and hasattr(owner, "tenant_id") else None


def _tenant_models(items: Iterable[Any]) -> list[type]:
    models: list[type] = []
    for item in items:
        owner = _owner(item)
        if owner is not None and owner not in models:
            models.append(owner)
    return models


def scoped(tenant: _HasTenant | str, *entities: Any, of: Iterable[Any] = ()) -> Select[Any]:
    """``select(*entities)`` limited to ``tenant``'s rows of every tenant-owned table named
    in ``entities`` (entities or their columns) and in ``of`` (joined or aggregated tables).
    """
    models = _tenant_models([*entities, *of])
    if not models:
        raise TypeError("scoped() needs at least one tenant-owned table (an entity, one of "
                        "its columns, or of=[Model])")
    tenant_id = tenant_of(tenant)
    stmt = select(*entities)
    for model in models:
        stmt = stmt.where(model.tenant_id == tenant_id)  # type: ignore[attr-defined]
    return stmt


def scoped_update(tenant: _HasTenant | str, model: type) -> Update:
    """``update(model)`` limited to ``tenant``'s rows."""
    if _owner(model) is None:
        raise TypeError(f"{model.__name__} has no tenant_id")
    return update(model).where(model.tenant_id == tenant_of(tenant))  # type: ignore[attr-defined]


def scoped_update_many(session: Session, tenant: _HasTenant | str, model: type, *,
                       key: str, column: str, values: Iterable[tuple[Any, Any]],
                       only: Sequence[Any] = ()) -> int:
    """Set ``column`` of many ``tenant`` rows, each to its own value, in one executemany:
    ``values`` are ``(key value, new value)`` pairs (``key``: usually the primary key),
    ``only`` further conditions a row must meet. Answers how many rows were set. The
    set-based form of one UPDATE per row (bill runs mark thousands of rows)."""
    if _owner(model) is None:
        raise TypeError(f"{model.__name__} has no tenant_id")
    params = [{"k_key": k, "k_value": v} for k, v in values]
    if not params:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    statement = (update(table)
                 .where(table.c.tenant_id == tenant_of(tenant),
                        table.c[key] == bindparam("k_key"), *only)
                 .values({column: bindparam("k_value")}))
    return int(session.connection().execute(statement, params).rowcount)


def scoped_delete(tenant: _HasTenant | str, model: type) -> Delete:
    """``delete(model)`` limited to ``tenant``'s rows."""
    if _owner(model) is None:
        raise TypeError(f"{model.__name__} has no tenant_id")
    return delete(model).where(model.tenant_id == tenant_of(tenant))  # type: ignore[attr-defined]


_OWNED: dict[tuple[Any, bool], Any] = {}


def _owned_statement(model: type, lock: bool) -> Any:
    stmt = _OWNED.get((model, lock))
    if stmt is None:  # built once per model: no statement construction per request
        if _owner(model) is None:
            raise TypeError(f"{model.__name__} has no tenant_id")
        stmt = select(model).where(
            model.id == bindparam("owned_id"),  # type: ignore[attr-defined]
            model.tenant_id == bindparam("owned_tenant"),  # type: ignore[attr-defined]
        )
        if lock:
            stmt = stmt.with_for_update(key_share=True).execution_options(
                populate_existing=True)
        _OWNED[(model, lock)] = stmt
    return stmt


def find_owned(session: Session, model: type[T], tenant_id: str, resource_id: str, *,
               lock: bool = False) -> T | None:
    """The row ``resource_id`` of ``tenant_id``, or ``None`` (for reference checks that
    report their own error; another tenant's row is ``None`` too)."""
    row: T | None = session.scalar(_owned_statement(model, lock),
                                   {"owned_id": resource_id, "owned_tenant": tenant_id})
    return row


def get_owned(session: Session, model: type[T], tenant_id: str, resource_id: str,
              label: str, *, lock: bool = False) -> T:
    """The row ``resource_id`` of ``tenant_id``, or 404 naming the resource (another
    tenant's id is indistinguishable from a missing one).

    ``lock=True`` (for a read-modify-write, and before every status change) takes the row
    lock ``FOR NO KEY UPDATE`` on PostgreSQL, so two concurrent changes cannot lose one
    another's update or both pass a state check; SQLite serializes writers anyway.
    """
    row = find_owned(session, model, tenant_id, resource_id, lock=lock)
    if row is None:
        raise NotFoundError(f"{label} {resource_id!r} not found", field="id")
    return row
