"""The catalog as other contexts read it: what can be ordered, and at what price.

:func:`get_orderable_offering` / :func:`is_orderable`, :func:`check_eligibility`,
:func:`select_prices`, :func:`charge_model_of_price` (a charge model with the
currency of its amounts) and :func:`included_quantity_of_price`. Keyword-only, taking a
:class:`~openbss.core.context.Context`; reads only.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from openbss.catalog import queries
from openbss.catalog.errors import (
    NoPriceInCurrency,
    NotChargeable,
    NotOrderable,
    OfferingNotActive,
    OfferingNotSellable,
    OfferingNotValidAt,
)
from openbss.catalog.lifecycle import ACTIVE, IN_DESIGN
from openbss.catalog.models import ProductOffering, ProductOfferingPrice
from openbss.catalog.pricing import (
    ChargeModel,
    StandardChargeModel,
    parse_charge_model,
)
from openbss.core.context import Context


def _within(row: Any, at: datetime) -> bool:
    return (row.valid_from is None or row.valid_from <= at) and \
        (row.valid_to is None or at < row.valid_to)


def get_orderable_offering(ctx: Context, *, offering_id: str,
                           at: datetime | None = None) -> ProductOffering:
    """The offering if it can be ordered at ``at`` (default now): Active, within its
    validFor, sellable on its own. 404 if unknown; a :class:`NotOrderable` (409) saying why
    otherwise."""
    at = at or ctx.now
    row = queries.get_offering(ctx, offering_id)
    label = f"productOffering {row.id!r}"
    if row.lifecycle_status != ACTIVE:
        raise OfferingNotActive(f"{label} is {row.lifecycle_status}, only Active offerings "
                                "can be ordered", field="lifecycleStatus")
    if not _within(row, at):
        raise OfferingNotValidAt(f"{label} is not valid at {at.isoformat()}", field="validFor")
    if not row.is_sellable:
        raise OfferingNotSellable(f"{label} is sold only inside a bundle", field="isSellable")
    return row


def is_orderable(ctx: Context, *, offering_id: str, at: datetime | None = None) -> bool:
    try:
        get_orderable_offering(ctx, offering_id=offering_id, at=at)
    except NotOrderable:
        return False
    return True


def check_eligibility(offering: ProductOffering | dict[str, Any], *,
                      customer_type: str | None, country: str | None) -> bool:
    """Whether a customer of ``customer_type`` in ``country`` (ISO 3166 alpha-2) may buy
    the offering; an absent or empty rule list admits everyone."""
    body = offering.body if isinstance(offering, ProductOffering) else offering
    rules = body.get("eligibility") or {}
    types = [t.lower() for t in rules.get("customerTypes") or []]
    countries = rules.get("countries") or []
    if types and (customer_type or "").lower() not in types:
        return False
    return not (countries and (country or "").upper() not in countries)


def select_prices(ctx: Context, *, offering_id: str, currency: str | None,
                  at: datetime | None = None,
                  offering: ProductOffering | None = None) -> list[ProductOfferingPrice]:
    """The offering's prices that apply to a buyer paying in ``currency`` at ``at``.

    Prices in that currency plus currency-less percentage discounts, valid at ``at`` and
    not Retired/Obsolete (``currency`` None: every such price). :class:`NoPriceInCurrency`
    (422 ``currency``, naming the available currencies) if the offering has no price in
    ``currency``. ``offering``: the offering's row when the caller has just read it
    through ``ctx`` (a scoped read of this tenant): it is not read again.
    """
    at = at or ctx.now
    if offering is None or offering.id != offering_id:
        offering = queries.get_offering(ctx, offering_id)
    ids = [str(r.get("id")) for r in offering.body.get("productOfferingPrice") or []]
    pops = queries.prices_among(ctx, ids)
    pops.sort(key=lambda p: ids.index(p.id))
    live = [p for p in pops if p.lifecycle_status in (IN_DESIGN, ACTIVE) and _within(p, at)]
    if currency is None:
        return live
    chosen = [p for p in live if p.currency == currency or
              (p.currency is None and p.price_type == "discount")]
    if pops and not any(p.currency == currency for p in chosen):
        available = sorted({p.currency for p in live if p.currency})
        raise NoPriceInCurrency(
            f"productOffering {offering_id!r} has no price in {currency}; available: "
            + (", ".join(available) or "none"), field="currency",
        )
    return chosen


def charge_model_of_price(ctx: Context, *, price_id: str) -> tuple[ChargeModel, str]:
    """The charge model of a productOfferingPrice and the currency its amounts are in.

    A price without an explicit ``chargeModel`` but with ``price.value`` prices as
    ``standard`` with that unit price. 404 if the price is not this tenant's;
    :class:`NotChargeable` (422 ``productOfferingPrice.id``) if it has no chargeable price
    or no currency.
    """
    pop = queries.get_price(ctx, price_id)
    body = pop.body
    model: ChargeModel
    if body.get("chargeModel") is not None:
        model = parse_charge_model(body["chargeModel"])
    elif (body.get("price") or {}).get("value") is not None and \
            body.get("priceType") != "discount":
        model = StandardChargeModel(unit_price=pop.amount)
    else:
        raise NotChargeable(f"productOfferingPrice {price_id!r} has no charge model",
                            field="productOfferingPrice.id")
    if not pop.currency:
        raise NotChargeable(f"productOfferingPrice {price_id!r} has no currency",
                            field="productOfferingPrice.id")
    return model, pop.currency


def included_quantity_of_price(ctx: Context, *, price_id: str) -> Decimal:
    """Units included in every period before a usage price applies (0 without any)."""
    pop = queries.get_price(ctx, price_id)
    included = (pop.body.get("includedQuantity") or {}).get("amount")
    return Decimal(str(included)) if included is not None else Decimal(0)
