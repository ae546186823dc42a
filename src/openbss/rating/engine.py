"""The per-record rating engine (API and stream path): pure, no I/O, no clock.

``rate_events(events, book, allowances)`` gives one :class:`~openbss.rating.book.RatedUsage`
or :class:`~openbss.rating.book.Unrated` per event, in input order. The meaning is
:mod:`openbss.rating.book`'s; :mod:`openbss.rating.vector` is the same engine over a
Polars frame (tests/rating/test_engines_agree.py proves they agree field by field).

Per event, in ``(usage_date, key)`` order:

1. a quantity that is negative or not finite → ``invalid_quantity``;
2. the usage price: the first of the offering (``price_version``) with the event's usage
   type (and, for ``event``, its metric) — none → ``unrated_destination``; a price with
   neither a rating plan nor a charge model → ``unrated_destination``;
3. telecom (a price with a rating plan): the whole call is rated first
   (``telecom.rate_plan(..., skip=0)``): a destination the plan does not cover, an
   unknown plan or no tariffs at all → ``unrated_destination`` (nothing consumed). Its
   destination id decides whether a destination-restricted allowance applies;
4. the allowance (:mod:`~openbss.rating.allowances`): quantity > 0 and the price includes
   units → ``included`` from the bucket, ``charged = quantity - included``;
5. the charged part: telecom — nothing included: the whole call's cost; everything
   included: 0; split: ``rate_plan(..., skip=included)``. Metered — charged 0: amount 0
   (not a transaction, the period total unchanged); else
   :func:`~openbss.rating.metered.price_charged` (period-incremental; a price that cannot
   be represented → ``invalid_quantity``, the allowance stays consumed).

``RatedUsage.tariff`` is the rating plan (telecom) or the charge model type (metered);
``rate`` the rates id and ``destination`` the destination id (telecom; None for metered);
``allowance`` the bucket when the event consumed from it (included > 0).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openbss.catalog.pricing import ChargeModel
from openbss.core.errors import ValidationError
from openbss.core.money import PRECISION
from openbss.rating import allowances as allowance_rules
from openbss.rating import metered, telecom
from openbss.rating.book import (
    Allowances,
    MeteredKey,
    RatedUsage,
    RatingBook,
    Unrated,
    UsageEvent,
    UsagePrice,
)
from openbss.rating.errors import RatingPlanNotFound, UnauthorizedDestination

__all__ = [
    "INVALID_QUANTITY",
    "UNRATED_DESTINATION",
    "TelecomCost",
    "invalid_quantity_detail",
    "no_model_detail",
    "no_price_detail",
    "rate_events",
    "select_price",
    "telecom_error_detail",
]

INVALID_QUANTITY = "invalid_quantity"
#: Quantities (base units) must be below this (what the vectorized engine's columns hold).
QUANTITY_LIMIT = Decimal(10) ** 28
#: Sums of quantities (< 10^28, any decimals up to 30 places) are exact at 60 digits.
_WIDE = decimal.Context(prec=PRECISION)
UNRATED_DESTINATION = "unrated_destination"
_ZERO = Decimal(0)


def select_price(book: RatingBook, event: UsageEvent) -> UsagePrice | None:
    """The first usage price of the event's offering for its usage type (and metric)."""
    for candidate in book.prices.get(event.price_version, ()):
        if candidate.usage_type != event.usage_type:
            continue
        if event.usage_type == "event" and candidate.metric != event.metric:
            continue
        return candidate
    return None


def no_price_detail(usage_type: str, metric: str | None, offering_id: str) -> str:
    what = f"event metric {metric!r}" if usage_type == "event" else usage_type
    return f"no usage price for {what} in offering {offering_id}"


def invalid_quantity_detail(quantity: Decimal) -> str:
    shown = f"{quantity.normalize():f}" if quantity.is_finite() else str(quantity)
    return f"quantity must be a finite number >= 0 and < 1E+28, got {shown}"


def no_model_detail(price_id: str) -> str:
    return f"usage price {price_id} has neither a rating plan nor a charge model"


def telecom_error_detail(error: str, *, plan: str, destination: str | None) -> str:
    """The detail of a telecom rating failure (``error`` as ``telecom_vector`` names it)."""
    if error == "rating_plan_not_found":
        return f"rating plan {plan} not found in the tariffs"
    if error == "no_tariffs":
        return f"no tariffs loaded (rating plan {plan})"
    return f"destination {destination or '(none)'} is not covered by rating plan {plan}"


@dataclass(frozen=True, slots=True)
class TelecomCost:
    cost: Decimal
    destination_id: str | None
    rates_id: str | None


def _rate_call(tariffs: Any, plan: str, event: UsageEvent, skip: Decimal) -> TelecomCost | str:
    """The telecom cost of the event from ``skip``, or the error name."""
    if tariffs is None:
        return "no_tariffs"
    try:
        call = telecom.rate_plan(tariffs, rating_plan_id=plan,
                                 destination=event.destination or "",
                                 answer_time=event.usage_date, usage=event.quantity, skip=skip,
                                 usage_type=event.usage_type)
    except RatingPlanNotFound:
        return "rating_plan_not_found"
    except UnauthorizedDestination:
        return "unrated_destination"
    return TelecomCost(call.cost, call.destination_id, call.rates_id)


class _Engine:
    def __init__(self, book: RatingBook, allowances: Allowances) -> None:
        self.book = book
        self.allowances = allowances
        self.models: dict[int, ChargeModel] = {}

    def base_model(self, price: UsagePrice, model: ChargeModel) -> ChargeModel:
        cached = self.models.get(id(price))
        if cached is None:
            cached = self.models[id(price)] = metered.base_unit_model(model, price.scale)
        return cached

    def rate(self, event: UsageEvent) -> RatedUsage | Unrated:
        q = event.quantity
        if not q.is_finite() or q < 0 or q >= QUANTITY_LIMIT:
            return Unrated(event.key, INVALID_QUANTITY, invalid_quantity_detail(q))
        price = select_price(self.book, event)
        if price is None:
            return Unrated(event.key, UNRATED_DESTINATION,
                           no_price_detail(event.usage_type, event.metric, event.price_version))
        if price.rating_plan is None and price.charge_model is None:
            return Unrated(event.key, UNRATED_DESTINATION, no_model_detail(price.price_id))
        full: TelecomCost | None = None
        if price.rating_plan is not None:
            rated = _rate_call(self.book.tariffs, price.rating_plan, event, _ZERO)
            if isinstance(rated, str):
                return Unrated(event.key, UNRATED_DESTINATION, telecom_error_detail(
                    rated, plan=price.rating_plan, destination=event.destination))
            full = rated
        included = _ZERO
        bucket = allowance_rules.bucket_of(price, event)
        if (bucket is not None and q > 0 and allowance_rules.consumes(
                price, full.destination_id if full is not None else None)):
            included = allowance_rules.consume(self.allowances, bucket,
                                               default_granted=price.included, quantity=q)
        charged = q - included
        if full is not None:
            assert price.rating_plan is not None
            if included == 0:
                amount = full.cost
            elif charged == 0:
                amount = _ZERO
            else:
                split = _rate_call(self.book.tariffs, price.rating_plan, event, included)
                if isinstance(split, str):
                    return Unrated(event.key, UNRATED_DESTINATION, telecom_error_detail(
                        split, plan=price.rating_plan, destination=event.destination))
                amount = split.cost
            tariff, rate, destination = price.rating_plan, full.rates_id, full.destination_id
        else:
            model = price.charge_model
            assert model is not None
            amount = _ZERO
            if charged > 0:
                key = MeteredKey(event.product_id, price.price_id, event.period_start)
                try:
                    amount = metered.price_charged(self.base_model(price, model), price.scale,
                                                   key=key, charged=charged,
                                                   allowances=self.allowances)
                except ValidationError as exc:
                    return Unrated(event.key, INVALID_QUANTITY, exc.message)
            tariff, rate, destination = model.type, None, None
        return RatedUsage(
            key=event.key, product_id=event.product_id,
            billing_account_id=event.billing_account_id, price_id=price.price_id,
            usage_type=event.usage_type, metric=event.metric, quantity=q,
            included=included, charged=charged, amount=amount, currency=price.currency,
            tariff=tariff, rate=rate, destination=destination,
            tax_category=price.tax_category, period_start=event.period_start,
            period_end=event.period_end, usage_date=event.usage_date,
            allowance=bucket if included > 0 else None)


def rate_events(events: Sequence[UsageEvent], book: RatingBook,
                allowances: Allowances) -> list[RatedUsage | Unrated]:
    """Rate ``events`` (results in input order; consumed in ``(usage_date, key)`` order),
    updating ``allowances`` (``used``, ``granted`` of buckets not loaded, ``metered``,
    ``metered_events``)."""
    engine = _Engine(book, allowances)
    order = sorted(range(len(events)), key=lambda i: (events[i].usage_date, events[i].key))
    results: list[RatedUsage | Unrated | None] = [None] * len(events)
    with decimal.localcontext(_WIDE):
        for index in order:
            results[index] = engine.rate(events[index])
    return [result for result in results if result is not None]
