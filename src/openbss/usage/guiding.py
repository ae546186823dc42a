"""Guiding, one record at a time: which product held the record's identifier at the
record's time, through the ordering context's in-force query (so a number that moved from
one customer to another is charged to whoever held it then), and which billing account
and customer that product belonged to.

- nobody held the identifier in force at that instant (never known, not yet started,
  already terminated) → ``unknown_identifier``;
- the holder was suspended then → ``product_inactive``.

The batch pipeline (``usage.batch``) guides files set-based through
``ordering.in_force.identifier_intervals`` with the same two rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from openbss.core.context import Context
from openbss.core.errors import NotFoundError
from openbss.ordering import inventory
from openbss.ordering.in_force import in_force
from openbss.party.accounts import get_account
from openbss.party.paths import account_path
from openbss.usage.models import RejectReason

_INSTANT = timedelta(microseconds=1)
#: Party types a billing account may relate to, in the order the guided customer is
#: chosen: a customer first, then the account's owner, then any.
_CUSTOMER_TYPES = ("customer",)


@dataclass(frozen=True, slots=True)
class Guided:
    """The product that used a record, with what was in force then."""

    product_id: str
    billing_account_id: str | None
    party: dict[str, Any] | None  # the customer / owner reference (id, @referredType …)
    price_version: str  # the offering id in force at the record's time
    bundle_id: str | None  # the bundle product it belongs to


@dataclass(frozen=True, slots=True)
class NotGuided:
    reason: str  # a RejectReason value
    detail: str


@dataclass
class GuideCache:
    """What one request (or one bulk call) already looked up: products' bundles and
    accounts' customers, so a thousand records of one line read them once."""

    bundles: dict[str, str | None] = field(default_factory=dict)
    parties: dict[str, dict[str, Any] | None] = field(default_factory=dict)


def customer_of(ctx: Context, account_id: str, cache: GuideCache) -> dict[str, Any] | None:
    """The customer (or owner) of a billing account as a related-party reference, or
    None (the account has none, or is gone)."""
    if account_id in cache.parties:
        return cache.parties[account_id]
    try:
        account = get_account(ctx, kind="billingAccount", account_id=account_id)
    except NotFoundError:
        cache.parties[account_id] = None
        return None
    refs = [r for r in account.body.get("relatedParty") or [] if isinstance(r, dict)]
    chosen = next((r for r in refs if str(r.get("@referredType", "")).lower()
                   in _CUSTOMER_TYPES), None) \
        or next((r for r in refs if str(r.get("role", "")).lower() == "owner"), None) \
        or (refs[0] if refs else None)
    party = None
    if chosen is not None:  # no names: they may be personal data
        party = {key: chosen[key] for key in ("id", "href", "@referredType")
                 if chosen.get(key)}
        party["role"] = "customer"
    cache.parties[account_id] = party
    return party


def _bundle_of(ctx: Context, product_id: str, cache: GuideCache) -> str | None:
    if product_id not in cache.bundles:
        cache.bundles[product_id] = inventory.get_product(ctx, product_id=product_id) \
            .parent_id
    return cache.bundles[product_id]


def guide(ctx: Context, *, identifier_name: str, identifier_value: str, at: datetime,
          cache: GuideCache | None = None) -> Guided | NotGuided:
    """The product that held ``identifier_value`` in force at ``at`` (see the module
    docstring)."""
    cache = cache if cache is not None else GuideCache()
    suspended = None
    for held in in_force(ctx, start=at, end=at + _INSTANT, identifier=identifier_value):
        for interval in held.intervals:
            if interval.in_force:
                account = held.billing_account_id
                return Guided(
                    product_id=held.product_id, billing_account_id=account,
                    party=customer_of(ctx, account, cache) if account else None,
                    price_version=interval.price_version,
                    bundle_id=_bundle_of(ctx, held.product_id, cache))
            suspended = held.product_id
    if suspended is not None:
        return NotGuided(RejectReason.PRODUCT_INACTIVE.value,
                         f"{identifier_name} {identifier_value}: product {suspended} was "
                         f"suspended at {at.isoformat()}")
    return NotGuided(RejectReason.UNKNOWN_IDENTIFIER.value,
                     f"{identifier_name} {identifier_value}: no product held it at "
                     f"{at.isoformat()}")


def account_ref(ctx: Context, account_id: str) -> dict[str, Any]:
    """The billing account as a related party of a usage record."""
    return {"id": account_id,
            "href": f"{ctx.base_url.rstrip('/')}{account_path('billingAccount')}/{account_id}",
            "@referredType": "BillingAccount", "role": "billingAccount"}
