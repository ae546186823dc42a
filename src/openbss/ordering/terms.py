"""Plan-change and termination timing, billing periods, commitments and early-termination
fees of products: what the product order orchestration asks before it changes a product
(when a plan change or a termination takes effect, the prices in force, the commitment,
the fee of leaving it early, recorded as a ProductCharge for billing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from openbss.catalog import pricing as catalog_pricing
from openbss.core.context import Context
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.money import Money
from openbss.core.periods import (
    Alignment,
    BillingCycle,
    Frequency,
    Period,
    add_months,
    cycle_for_subscription,
    period_containing,
    to_utc,
)
from openbss.ordering import queries, references
from openbss.ordering.errors import InvalidReference
from openbss.ordering.history import _history, _quantity
from openbss.ordering.models import (
    ChargeKind,
    Product,
    ProductCharge,
)
from openbss.ordering.pricing import ChargePeriod, PriceSpec, prices_from_catalog

# -- plan changes, terminations, commitments -----------------------------------------------
# What the product order orchestration asks before it changes a product: when a plan change
# or a termination takes effect, what the product's commitment is, and the fee of leaving
# it early (recorded as a ProductCharge for billing).

class PlanChangePolicy(StrEnum):
    """The catalog's ``planChangePolicy`` of an offering (the offering changed *to*);
    without one, an upgrade is immediate and a downgrade waits for the period end."""

    IMMEDIATE = "immediate"
    END_OF_PERIOD = "endOfPeriod"


#: A productOfferingTerm attribute: ``terminationPolicy: endOfPeriod`` ends a terminated
#: product at the end of its billing period (default ``immediate``).
TERMINATION_POLICY = "terminationPolicy"
#: A productOfferingTerm attribute: the fee (TMF Money ``{unit, value}``) of leaving the
#: term early, used when the offering has no ``penalty`` productOfferingPrice.
TERM_FEE = "earlyTerminationFee"
_MONTHLY_FACTOR = {"month": Decimal(1), "year": Decimal(1) / 12,
                   "week": Decimal(52) / 12, "day": Decimal(365) / 12}
_TERM_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week",
               "month": "month", "months": "month", "year": "year", "years": "year"}


def _z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def billing_cycle(ctx: Context, *, product_id: str) -> BillingCycle:
    """The bill cycle of the product's billing account (``billStructure.
    cycleSpecification``: frequency, anchorDay, alignment, timeZone); ``anniversary`` is
    anchored on the product's start. Without an account or a cycle specification: monthly
    on the anniversary of the product's start (UTC)."""
    row = queries.product(ctx, product_id)
    start = row.start_date or ctx.now
    spec = None
    if row.billing_account_id:
        try:
            spec = references.account_cycle(ctx, row.billing_account_id)[1]
        except NotFoundError:
            spec = None
    if not spec:
        return cycle_for_subscription(Frequency.MONTHLY, start, Alignment.ANNIVERSARY, "UTC")
    frequency = Frequency(spec.get("frequency") or "monthly")
    tz = spec.get("timeZone") or "UTC"
    if (spec.get("alignment") or "calendar") == Alignment.ANNIVERSARY:
        return cycle_for_subscription(frequency, start, Alignment.ANNIVERSARY, tz)
    return BillingCycle(frequency, spec.get("anchorDay") or 1, Alignment.CALENDAR, tz)


def billing_period(ctx: Context, *, product_id: str, at: datetime | None = None) -> Period:
    """The product's billing period containing ``at`` (default now)."""
    cycle = billing_cycle(ctx, product_id=product_id)
    return period_containing(cycle, to_utc(at, "at") if at else ctx.now)


def _account_currency(ctx: Context, row: Product) -> str | None:
    """The currency of the product's billing account (None without one)."""
    if not row.billing_account_id:
        return None
    try:
        return references.account_cycle(ctx, row.billing_account_id)[0]
    except NotFoundError:
        return None


def _monthly_recurring(ctx: Context, offering_id: str | None, currency: str,
                       quantity: int) -> Decimal:
    """The offering's recurring list price per month in ``currency`` (0 without one)."""
    if not offering_id:
        return Decimal(0)
    total = Decimal(0)
    pops = references.offering_prices(ctx, offering_id, currency=currency, at=ctx.now)
    for spec in prices_from_catalog(pops):
        if spec.price_type != "recurring" or spec.currency != currency:
            continue
        if spec.unit_price is not None:
            amount = spec.unit_price.amount * quantity
        else:
            assert spec.charge_model is not None
            amount = catalog_pricing.price(spec.charge_model, quantity).amount
        period = spec.period or ChargePeriod()
        total += amount * _MONTHLY_FACTOR[period.type] / period.length
    return total


def plan_change_effective(ctx: Context, *, product_id: str, offering_id: str) -> datetime:
    """When a plan change of the product to ``offering_id`` takes effect: the new
    offering's ``planChangePolicy`` if it has one; otherwise an upgrade (a new recurring
    price per month, in the account's currency, at least the current one) now
    (``ctx.now``) and a downgrade at the end of the product's current billing period."""
    row = queries.product(ctx, product_id)
    offering = references.offering_document(ctx, offering_id)
    if offering is None:
        raise InvalidReference(f"productOffering.id: no productOffering {offering_id!r}",
                               field="productOffering.id")
    policy = offering.get("planChangePolicy")
    if policy == PlanChangePolicy.IMMEDIATE or row.offering_id == offering_id:
        return ctx.now
    if policy == PlanChangePolicy.END_OF_PERIOD:
        return billing_period(ctx, product_id=product_id).end
    currency = _account_currency(ctx, row)
    if currency is None:
        return ctx.now
    quantity = _quantity(row.body)
    old = _monthly_recurring(ctx, row.offering_id, currency, quantity)
    new = _monthly_recurring(ctx, offering_id, currency, quantity)
    return ctx.now if new >= old else billing_period(ctx, product_id=product_id).end


def _amounts(spec: PriceSpec, amount: Money) -> dict[str, Any]:
    key = "taxIncludedAmount" if spec.tax_included else "dutyFreeAmount"
    return {key: {"unit": amount.currency, "value": amount.amount}}


def prices_in_force(ctx: Context, *, offering_id: str, currency: str,
                    at: datetime) -> list[dict[str, Any]]:
    """TMF637 ``productPrice`` entries of the offering's catalog prices in ``currency`` at
    ``at`` (unit prices; one-time, recurring, usage and penalty), each naming its
    productOfferingPrice, with its discounts as ``productPriceAlteration``. A product
    created without ``productPrice`` gets these."""
    out = []
    for spec in prices_from_catalog(references.offering_prices(
            ctx, offering_id, currency=currency, at=at)):
        entry: dict[str, Any] = {"name": spec.name, "priceType": spec.price_type,
                                 "productOfferingPrice": {"id": spec.id, "name": spec.name}}
        if spec.recurring_charge_period:
            entry["recurringChargePeriod"] = spec.recurring_charge_period
        if spec.unit_of_measure:
            entry["unitOfMeasure"] = spec.unit_of_measure
        entry["price"] = _amounts(spec, spec.unit_price) if spec.unit_price else {}
        alterations = []
        for alt in spec.alterations:
            change: dict[str, Any] = ({"percentage": alt.percentage}
                                      if alt.percentage is not None else
                                      _amounts(spec, alt.amount) if alt.amount else {})
            alteration: dict[str, Any] = {"name": alt.name, "priceType": "discount",
                                          "price": change,
                                          "productOfferingPrice": {"id": alt.id}}
            if alt.application_duration is not None:
                alteration["applicationDuration"] = alt.application_duration
            if alt.priority is not None:
                alteration["priority"] = alt.priority
            alterations.append(alteration)
        if alterations:
            entry["productPriceAlteration"] = alterations
        out.append(entry)
    return out


def _offering_terms(ctx: Context, offering_id: str | None) -> list[dict[str, Any]]:
    offering = references.offering_document(ctx, offering_id) if offering_id else None
    return [t for t in (offering or {}).get("productOfferingTerm") or [] if isinstance(t, dict)]


def termination_effective(ctx: Context, *, product_id: str,
                          requested: datetime | None) -> datetime:
    """When a termination of the product takes effect: the ``requested`` date when the
    order asks for one (never before now), else now, unless a productOfferingTerm of the
    product's offering says ``terminationPolicy: endOfPeriod`` (then the end of the
    current billing period)."""
    row = queries.product(ctx, product_id)
    if requested is not None:
        return max(to_utc(requested, "requestedCompletionDate"), ctx.now)
    if any(t.get(TERMINATION_POLICY) == PlanChangePolicy.END_OF_PERIOD
           for t in _offering_terms(ctx, row.offering_id)):
        return billing_period(ctx, product_id=product_id).end
    return ctx.now


def _term_end(start: datetime, duration: Any) -> datetime | None:
    """``start`` plus a TMF Quantity duration (days, weeks, months, years); None when the
    duration is not a whole number of known units."""
    if not isinstance(duration, dict):
        return None
    unit = _TERM_UNITS.get(str(duration.get("units") or "").strip().lower())
    try:
        amount = Decimal(str(duration.get("amount")))
    except ArithmeticError:
        return None
    if unit is None or not amount.is_finite() or amount != amount.to_integral_value() \
            or not 0 < amount <= 1200:
        return None
    n = int(amount)
    if unit == "day":
        return start + timedelta(days=n)
    if unit == "week":
        return start + timedelta(weeks=n)
    return add_months(start, n * (12 if unit == "year" else 1))


def commitment_terms(ctx: Context, offering_id: str | None,
                     start: datetime) -> list[dict[str, Any]]:
    """TMF637 ``productTerm`` entries for a product of ``offering_id`` starting at
    ``start``: each productOfferingTerm with a duration, with ``validFor`` from the start
    to the end of the commitment."""
    terms = []
    for term in _offering_terms(ctx, offering_id):
        end = _term_end(start, term.get("duration"))
        if end is None:
            continue
        entry: dict[str, Any] = {"name": term.get("name") or "commitment",
                                 "duration": term["duration"],
                                 "validFor": {"startDateTime": _z(start),
                                              "endDateTime": _z(end)}}
        if term.get("description"):
            entry["description"] = term["description"]
        terms.append(entry)
    return terms


def commitment_end(ctx: Context, *, product_id: str) -> datetime | None:
    """The end of the product's commitment (the latest ``productTerm.validFor.
    endDateTime``), None without one."""
    row = queries.product(ctx, product_id)
    return _commitment_end(row.body)


def _commitment_end(body: dict[str, Any]) -> datetime | None:
    ends = []
    for term in body.get("productTerm") or []:
        end = ((term or {}).get("validFor") or {}).get("endDateTime")
        if isinstance(end, str):
            ends.append(to_utc(datetime.fromisoformat(end), "productTerm.validFor"))
        elif isinstance(end, datetime):
            ends.append(to_utc(end, "productTerm.validFor"))
    return max(ends) if ends else None


def _with_commitment(ctx: Context, body: dict[str, Any], start: datetime,
                     keep_longer: bool) -> None:
    """Give ``body`` the commitment of its offering from ``start`` (a plan change keeps the
    old commitment when it ends later)."""
    offering_id = (body.get("productOffering") or {}).get("id")
    terms = commitment_terms(ctx, offering_id, start)
    if not terms:
        return
    old_end = _commitment_end(body) if keep_longer else None
    new_end = _commitment_end({"productTerm": terms})
    if old_end is not None and new_end is not None and old_end >= new_end:
        return
    body["productTerm"] = terms


def early_termination_fee(ctx: Context, *, product_id: str,
                          at: datetime) -> tuple[Money, str | None, str] | None:
    """The fee of terminating the product at ``at`` (amount, the catalog price id, a
    description), None when its commitment is over at ``at`` or its offering has no fee.
    The fee is the offering's ``penalty`` productOfferingPrices in the account's currency
    times the product's quantity, or else the term's ``earlyTerminationFee``."""
    row = queries.product(ctx, product_id)
    at = to_utc(at, "at")
    end = _commitment_end(row.body)
    currency = _account_currency(ctx, row)
    if end is None or at >= end or currency is None:
        return None
    quantity = _quantity(row.body)
    pops = references.offering_prices(ctx, row.offering_id, currency=currency, at=at) \
        if row.offering_id else []
    penalties = [s for s in prices_from_catalog(pops)
                 if s.price_type == "penalty" and s.currency == currency]
    if penalties:
        total = Money.zero(currency)
        for spec in penalties:
            if spec.unit_price is not None:
                total += Money(spec.unit_price.amount * quantity, currency)
            else:
                assert spec.charge_model is not None
                total += Money(catalog_pricing.price(spec.charge_model, quantity).amount,
                               currency)
        names = ", ".join(s.name for s in penalties)
        return (total.rounded(), penalties[0].id if len(penalties) == 1 else None,
                f"early termination before {_z(end)}: {names}")
    for term in _offering_terms(ctx, row.offering_id):
        fee = term.get(TERM_FEE)
        if isinstance(fee, dict) and fee.get("unit") == currency \
                and fee.get("value") is not None:
            try:
                amount = Money(Decimal(str(fee["value"])), currency)
            except (ArithmeticError, ValidationError):
                continue
            if amount.is_positive():
                return (amount.rounded(), None,
                        f"early termination before {_z(end)}: {term.get('name') or 'term'}")
    return None


def record_early_termination(ctx: Context, *, product_id: str, at: datetime,
                             order_id: str | None,
                             order_item_id: str | None) -> ProductCharge | None:
    """Record the early-termination fee of terminating the product at ``at`` as a one-time
    :class:`ProductCharge` for billing (None when the commitment is over at ``at`` or there
    is no fee). Idempotent per order item: a retried step returns the charge it recorded."""
    row = queries.product(ctx, product_id, lock=True)
    kind = ChargeKind.EARLY_TERMINATION_FEE.value
    existing = queries.charge_for(ctx, row.id, kind, order_id, order_item_id)
    if existing is not None:
        return existing
    fee = early_termination_fee(ctx, product_id=row.id, at=at)
    if fee is None:
        return None
    amount, price_id, description = fee
    charge = ProductCharge(
        tenant_id=ctx.tenant_id, product_id=row.id, billing_account_id=row.billing_account_id,
        kind=kind, amount=amount.amount, currency=amount.currency, at=to_utc(at, "at"),
        order_id=order_id, order_item_id=order_item_id, price_id=price_id,
        description=description, billed=False)
    ctx.session.add(charge)
    ctx.session.flush()
    _history(ctx, row, "chargeRecorded", at=to_utc(at, "at"), before=None,
             after={"charge": {"id": charge.id, "kind": kind,
                               "amount": {"unit": amount.currency, "value": amount.amount}}},
             order_id=order_id, order_item_id=order_item_id)
    return charge


def render_charge(charge: ProductCharge) -> dict[str, Any]:
    return {"id": charge.id, "kind": charge.kind,
            "amount": {"unit": charge.currency, "value": charge.amount},
            "at": _z(charge.at), "billingAccount": (
                {"id": charge.billing_account_id} if charge.billing_account_id else None),
            "productOfferingPrice": {"id": charge.price_id} if charge.price_id else None,
            "productOrder": ({"id": charge.order_id, "orderItemId": charge.order_item_id}
                             if charge.order_id else None),
            "description": charge.description, "billed": charge.billed}


def product_charges(ctx: Context, *, product_id: str) -> list[ProductCharge]:
    """The product's one-time charges, oldest first (404 for another tenant's product)."""
    queries.product(ctx, product_id)
    return queries.charges_of(ctx, product_id)


def mark_charges_billed(ctx: Context, *, charge_ids: Iterable[str]) -> int:
    """Billing's call when it issues an invoice: these product charges (early-termination
    fees) are billed and no longer offered to the next invoice. Answers how many were
    marked (those already billed are not)."""
    ids = list(charge_ids)
    return queries.mark_charges_billed(ctx, ids) if ids else 0
