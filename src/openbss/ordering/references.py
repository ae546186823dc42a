"""What the ordering context asks the party and catalog contexts (through their use
cases, never their tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openbss.catalog import selling
from openbss.catalog import service as catalog
from openbss.catalog.errors import NoPriceInCurrency
from openbss.core.context import Context
from openbss.core.errors import NotFoundError
from openbss.ordering.errors import InvalidReference
from openbss.party import accounts
from openbss.party.models import Account

#: Billing accounts already read while one order (or quote) is validated, by id: the
#: order-level and item-level checks, the buyer and the credit check read the same
#: account once (within the caller's unit of work; never kept across requests).
AccountsRead = dict[str, Account]


def billing_account(ctx: Context, account_id: str,
                    read: AccountsRead | None = None) -> Account:
    """The tenant's billing account (NotFoundError otherwise), from ``read`` when this
    validation already read it."""
    if read is not None and account_id in read:
        return read[account_id]
    account = accounts.get_account(ctx, kind="billingAccount", account_id=account_id)
    if read is not None:
        read[account_id] = account
    return account


def check_billing_account(ctx: Context, account_id: str, *, field: str,
                          read: AccountsRead | None = None) -> str:
    """The account's currency; 422 ``field`` unless it is an open billing account of the
    tenant."""
    try:
        account = billing_account(ctx, account_id, read)
    except NotFoundError:
        raise InvalidReference(f"{field}: no billingAccount {account_id!r}",
                               field=field) from None
    if account.state == "closed":
        raise InvalidReference(f"{field}: billingAccount {account_id} is closed",
                               field=field)
    return account.currency


def check_offering(ctx: Context, offering_id: str, *, field: str) -> str:
    """The offering's version; 422 ``field`` unless it is a productOffering of the
    tenant."""
    try:
        row = catalog.get_resource(ctx, kind="productOffering", resource_id=offering_id)
    except NotFoundError:
        raise InvalidReference(f"{field}: no productOffering {offering_id!r}",
                               field=field) from None
    return str(row.version)


# -- what plan changes, terminations and commitments read (helper INVENTORY) -------------

def account_cycle(ctx: Context, account_id: str) -> tuple[str, dict[str, Any] | None]:
    """The billing account's currency and its ``billStructure.cycleSpecification`` (None
    when it has none)."""
    account = accounts.get_account(ctx, kind="billingAccount", account_id=account_id)
    structure = (account.body or {}).get("billStructure") or {}
    return account.currency, structure.get("cycleSpecification") or None


def offering_document(ctx: Context, offering_id: str) -> dict[str, Any] | None:
    """The TMF620 productOffering of the tenant (None when it no longer exists)."""
    try:
        row = catalog.get_resource(ctx, kind="productOffering", resource_id=offering_id)
    except NotFoundError:
        return None
    return catalog.render_resource(ctx, row)


def offering_prices(ctx: Context, offering_id: str, *, currency: str | None,
                    at: datetime) -> list[dict[str, Any]]:
    """The offering's productOfferingPrice documents in force at ``at`` for a buyer in
    ``currency`` (empty when the offering is gone or has no price in that currency)."""
    try:
        pops = selling.select_prices(ctx, offering_id=offering_id, currency=currency, at=at)
    except (NotFoundError, NoPriceInCurrency):
        return []
    return [catalog.render_resource(ctx, p) for p in pops]
