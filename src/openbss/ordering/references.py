"""What the ordering context asks the party and catalog contexts (through their use
cases, never their tables)."""

from __future__ import annotations

from openbss.catalog import service as catalog
from openbss.core.context import Context
from openbss.core.errors import NotFoundError
from openbss.ordering.errors import InvalidReference
from openbss.party import accounts


def check_billing_account(ctx: Context, account_id: str, *, field: str) -> str:
    """The account's currency; 422 ``field`` unless it is an open billing account of the
    tenant."""
    try:
        account = accounts.get_account(ctx, kind="billingAccount", account_id=account_id)
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
