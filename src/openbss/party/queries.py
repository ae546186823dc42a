"""All SQL of the party context, through the tenant-scoped helpers of
:mod:`openbss.core.queries` (a statement without the tenant cannot be written here).

Functions take the :class:`~openbss.core.context.Context` (or, for jobs working on one
tenant without a request, a session and the tenant id) and plain values; they return rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import false as sql_false
from sqlalchemy import or_
from sqlalchemy.orm import Session

from openbss.core.context import Context
from openbss.core.models import AuditEntry
from openbss.core.queries import find_owned, get_owned, scoped, scoped_delete
from openbss.core.tmf import ListParams, apply_filters, paginate
from openbss.party.models import Account, Customer, Party, PartyLink, PartySearchKey

T = TypeVar("T", Party, Customer, Account)
ACCOUNT_KINDS = ("billingAccount", "partyAccount")

# --- one row ------------------------------------------------------------------------------


def owned(ctx: Context, model: type[T], resource_id: str, label: str, *,
          lock: bool = False) -> T:
    """The row of this tenant, or 404 naming ``label``; ``lock`` before every change."""
    return get_owned(ctx.session, model, ctx.tenant_id, resource_id, label, lock=lock)


def find(ctx: Context, model: type[T], resource_id: str) -> T | None:
    """The row of this tenant, or ``None`` (reference checks report their own error)."""
    return find_owned(ctx.session, model, ctx.tenant_id, resource_id)


# --- search keys and links ----------------------------------------------------------------


def delete_search_keys(session: Session, tenant_id: str, party_id: str) -> None:
    session.execute(scoped_delete(tenant_id, PartySearchKey)
                    .where(PartySearchKey.party_id == party_id))


def delete_links(ctx: Context, resource_type: str, resource_id: str) -> None:
    """Drop the links of one referring resource (they are rebuilt on every change)."""
    ctx.session.execute(scoped_delete(ctx, PartyLink).where(
        PartyLink.resource_type == resource_type, PartyLink.resource_id == resource_id))


def links_to(ctx: Context, target_type: str, target_id: str) -> list[PartyLink]:
    """The links of every customer or account that refers to this party or customer."""
    return list(ctx.session.scalars(scoped(ctx, PartyLink).where(
        PartyLink.target_type == target_type, PartyLink.target_id == target_id)))


def customer_ids_of(ctx: Context, party_id: str) -> list[str]:
    """The customers whose engaged party is ``party_id``."""
    return list(ctx.session.scalars(scoped(ctx, Customer.id)
                                    .where(Customer.party_id == party_id)))


def customer_of_party(ctx: Context, party_id: str) -> Customer | None:
    row: Customer | None = ctx.session.scalar(
        scoped(ctx, Customer).where(Customer.party_id == party_id)
        .order_by(Customer.created_at, Customer.id).limit(1))
    return row


# --- accounts -----------------------------------------------------------------------------


def children_of(ctx: Context, ids: Sequence[str]) -> list[Account]:
    """The child accounts of ``ids``, oldest first."""
    if not ids:
        return []
    return list(ctx.session.scalars(scoped(ctx, Account).where(Account.parent_id.in_(ids))
                                    .order_by(Account.created_at, Account.id)))


def lock_for_billing(ctx: Context, ids: Iterable[str]) -> None:
    """Lock the accounts ``ids`` and the billing accounts they pay for (``paidByParent``
    children) until the transaction ends, in id order, in one statement (PostgreSQL
    ``FOR NO KEY UPDATE``; SQLite has one writer)."""
    wanted = sorted(set(ids))
    a = Account
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        ctx.session.execute(scoped(ctx, a.id, of=[a]).where(
            a.id.in_(chunk) | (a.parent_id.in_(chunk) & a.paid_by_parent.is_(True)
                               & (a.kind == "billingAccount")))
            .order_by(a.id).with_for_update(key_share=True)).all()


def accounts_by_id(ctx: Context, ids: Iterable[str]) -> list[Account]:
    """The accounts among ``ids`` (others' and unknown ids are left out), oldest first."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(ctx.session.scalars(scoped(ctx, Account).where(Account.id.in_(wanted))
                                    .order_by(Account.created_at, Account.id)))


def account_named(ctx: Context, name: str) -> Account | None:
    row: Account | None = ctx.session.scalar(
        scoped(ctx, Account).where(Account.name == name)
        .order_by(Account.created_at, Account.id).limit(1))
    return row


def customer_account_ids(ctx: Context, customer_id: str) -> set[str]:
    """Accounts that refer to the customer."""
    return set(ctx.session.scalars(scoped(ctx, PartyLink.resource_id).where(
        PartyLink.target_type == "customer", PartyLink.target_id == customer_id)))


# --- the personal-data holdings of a person ----------------------------------------------


def customers_of_person(ctx: Context, party_id: str) -> list[Customer]:
    """Customers the person is the engaged party of, or is related to."""
    linked = scoped(ctx, PartyLink.resource_id).where(
        PartyLink.target_type == "party", PartyLink.target_id == party_id,
        PartyLink.resource_type == "customer")
    return list(ctx.session.scalars(scoped(ctx, Customer).where(
        or_(Customer.party_id == party_id, Customer.id.in_(linked)),
    ).order_by(Customer.created_at, Customer.id)))


def account_ids_referring(ctx: Context, party_id: str, customer_ids: Sequence[str]
                          ) -> set[str]:
    """Accounts whose links point at the person or at one of ``customer_ids``."""
    conditions = [(PartyLink.target_type == "party") & (PartyLink.target_id == party_id)]
    if customer_ids:
        conditions.append((PartyLink.target_type == "customer")
                          & PartyLink.target_id.in_(customer_ids))
    return set(ctx.session.scalars(scoped(ctx, PartyLink.resource_id).where(
        PartyLink.resource_type.in_(ACCOUNT_KINDS), or_(*conditions))))


def history_of(ctx: Context, resource_ids: Sequence[str]) -> list[AuditEntry]:
    """The audit trail of these resources, in order."""
    return list(ctx.session.scalars(scoped(ctx, AuditEntry).where(
        AuditEntry.resource_id.in_(resource_ids)).order_by(AuditEntry.seq)))


def tenant_documents(session: Session, tenant_id: str) -> list[Party | Customer | Account]:
    """Every party, customer and account of the tenant (re-encryption)."""
    return [*session.scalars(scoped(tenant_id, Party)),
            *session.scalars(scoped(tenant_id, Customer)),
            *session.scalars(scoped(tenant_id, Account))]


def parties(ctx: Context) -> list[Party]:
    return list(ctx.session.scalars(scoped(ctx, Party).order_by(Party.created_at, Party.id)))


# --- lists ----------------------------------------------------------------------------------


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere (``%`` and ``_`` escaped with
    a backslash; use ``escape="\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def party_page(ctx: Context, kind: str, params: ListParams, *, names: Sequence[str] = (),
               searches: Sequence[tuple[str, Sequence[str]]] = ()) -> tuple[list[Any], int]:
    """One page of parties of ``kind``: ``names`` are case-folded substrings of the name;
    each search is ``(key_type, blind indexes)`` of which one must match (an empty list
    matches nothing); ``params`` filter the columns."""
    stmt = scoped(ctx, Party).where(Party.kind == kind)
    for name in names:
        stmt = stmt.where(Party.name_key.like(contains_pattern(name), escape="\\"))
    for key_type, keys in searches:
        if not keys:  # the tenant has no index key yet, so nothing was ever indexed
            stmt = stmt.where(sql_false())
            continue
        stmt = stmt.where(Party.id.in_(scoped(ctx, PartySearchKey.party_id).where(
            PartySearchKey.key_type == key_type, PartySearchKey.value.in_(keys))))
    stmt = apply_filters(stmt, params, {
        "status": Party.status, "country": Party.country, "name": Party.name_key,
        "lastUpdate": Party.updated_at, "creationDate": Party.created_at,
    })
    return paginate(ctx.session, stmt, params, [Party.name_key, Party.id])


def customer_page(ctx: Context, params: ListParams, *, names: Sequence[str] = ()
                  ) -> tuple[list[Any], int]:
    stmt = scoped(ctx, Customer)
    for name in names:
        stmt = stmt.where(Customer.name.ilike(contains_pattern(name), escape="\\"))
    stmt = apply_filters(stmt, params, {
        "status": Customer.status, "engagedParty.id": Customer.party_id,
        "name": Customer.name, "lastUpdate": Customer.updated_at,
    })
    return paginate(ctx.session, stmt, params, [Customer.name, Customer.id])


def account_page(ctx: Context, kind: str, params: ListParams, *, names: Sequence[str] = ()
                 ) -> tuple[list[Any], int]:
    stmt = scoped(ctx, Account).where(Account.kind == kind)
    for name in names:
        stmt = stmt.where(Account.name.ilike(contains_pattern(name), escape="\\"))
    stmt = apply_filters(stmt, params, {
        "state": Account.state, "currency": Account.currency, "name": Account.name,
        "parentId": Account.parent_id, "paidByParent": Account.paid_by_parent,
        "lastModified": Account.updated_at,
    })
    return paginate(ctx.session, stmt, params, [Account.name, Account.id])
