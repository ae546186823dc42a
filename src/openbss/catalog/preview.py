"""``POST /api/v1/pricing/preview``: price one period under a charge model, over HTTP.

For quoting tools, and for users checking a price before they publish it. A thin shell
around the pure calculator :mod:`openbss.catalog.pricing`:

* request ``{"currency": "EUR", "chargeModel": {...}, "quantity": "150"}``; for the
  ``percentage`` model ``"events": ["50", "100", "250"]`` (each transaction's amount, in
  order) instead of a quantity; or ``"productOfferingPrice": {"id": "..."}`` instead of an
  inline ``chargeModel`` (the price's charge model and currency are used; ``currency`` may
  then be omitted, and if given must be the price's);
* response ``{"amount": "...", "roundedAmount": "...", "currency": "EUR", "lines": [...]}``:
  ``amount`` is exact, ``roundedAmount`` is rounded to the currency's minor unit with
  :data:`openbss.core.money.DEFAULT_ROUNDING` (half up), ``lines`` explain the amount tier by
  tier. Every number is a decimal string (JSON numbers are accepted in the request, but they
  go through the JSON parser as doubles: send strings for exact values).

Errors are 422 TMF Error bodies naming the field: charge-model parameters as
``chargeModel.<parameter>`` (``chargeModel.tiers[1].upTo``), ``currency``, ``quantity``,
``events`` / ``events[i]``. Nothing is written: any authenticated role may preview.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from openbss.catalog.pricing import (
    ChargeModel,
    PricingLine,
    PricingResult,
    parse_charge_model,
    price,
)
from openbss.catalog.selling import charge_model_of_price, included_quantity_of_price
from openbss.core.context import Context
from openbss.core.errors import CurrencyMismatchError, ValidationError
from openbss.core.money import DEFAULT_ROUNDING, round_amount, validate_currency
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute
from openbss.core.schemas import StrictModel

__all__ = ["PricingPreviewRequest", "PricingPreviewResponse", "preview_pricing", "router"]

router = APIRouter(route_class=ExactRoute)

#: Who may preview a price (nothing is written): the role matrix's pricing family.
ANY_AUTHENTICATED = Requires.to("pricing", "read")

#: Upper bound on the transactions of one percentage preview.
MAX_EVENTS = 100_000

#: A non-negative, finite decimal (a decimal string; a JSON number is accepted too).
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class PriceRef(BaseModel):
    """A reference to a TMF620 ProductOfferingPrice (only ``id`` is used)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=4000)

    id: str = Field(min_length=1, max_length=200)
    href: str | None = None
    name: str | None = None
    referred_type: str | None = Field(default=None, alias="@referredType")


class PricingPreviewRequest(StrictModel):
    """One period to price: a charge model (inline or a price's) and a quantity or events."""

    currency: str | None = Field(
        default=None,
        description="ISO 4217 code; optional with productOfferingPrice (the price's currency).",
        examples=["EUR"],
    )
    charge_model: dict[str, Any] | None = Field(
        default=None,
        alias="chargeModel",
        description="Charge model parameters, e.g. {\"type\": \"standard\", "
        "\"unitPrice\": \"5.12345\"} (types: standard, graduated, volume, package, "
        "percentage, graduated_percentage).",
    )
    product_offering_price: PriceRef | None = Field(
        default=None,
        alias="productOfferingPrice",
        description="Price the period with this ProductOfferingPrice's charge model.",
    )
    quantity: NonNegativeDecimal | None = Field(
        default=None, description="The period's quantity (every model but percentage)."
    )
    events: list[NonNegativeDecimal] | None = Field(
        default=None,
        max_length=MAX_EVENTS,
        description="Each transaction's amount, in order (percentage model only).",
    )


class PricingPreviewResponse(BaseModel):
    """The exact amount, the amount rounded to the currency, and the explaining lines."""

    amount: str
    rounded_amount: str = Field(alias="roundedAmount")
    currency: str
    lines: list[dict[str, Any]]


def _plain(value: Decimal) -> str:
    """A decimal string without exponent notation when that stays reasonably short."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -100 <= exponent and value.adjusted() < 100:
        return format(value, "f")
    return str(value)


def _line_view(line: PricingLine) -> dict[str, Any]:
    """The line's relevant fields (``None`` ones left out, except a tier's ``to``: null is
    the unbounded last tier), decimals as decimal strings."""
    view: dict[str, Any] = {}
    for key, value in line.model_dump(by_alias=True).items():
        if value is None and not (key == "to" and line.kind == "tier"):
            continue
        view[key] = _plain(value) if isinstance(value, Decimal) else value
    return view


def _inline_charge_model(data: dict[str, Any]) -> ChargeModel:
    """Parse the inline charge model; errors name ``chargeModel.<parameter>``."""
    try:
        return parse_charge_model(data)
    except ValidationError as exc:
        def prefixed(field: str | None) -> str:
            return f"chargeModel.{field}" if field else "chargeModel"

        field = prefixed(exc.field)
        message = exc.message
        if exc.field and message.startswith(exc.field):
            message = "chargeModel." + message
        else:
            message = f"chargeModel: {message}"
        details = [{**detail, "field": prefixed(detail.get("field"))} for detail in exc.details]
        raise ValidationError(message, field=field, details=details) from None


def _price_charge_model(ctx: Context, price_id: str) -> tuple[ChargeModel, str]:
    found: tuple[ChargeModel, str] = charge_model_of_price(ctx, price_id=price_id)
    return found


def preview_pricing(ctx: Context, request: PricingPreviewRequest) -> PricingPreviewResponse:
    """Validate the request, price the period and shape the answer (no side effects)."""
    if (request.charge_model is None) == (request.product_offering_price is None):
        both = request.charge_model is not None
        raise ValidationError(
            "give either chargeModel or productOfferingPrice, "
            + ("not both" if both else "one of them is required"),
            field="productOfferingPrice" if both else "chargeModel",
        )
    if request.charge_model is not None:
        if request.currency is None:
            raise ValidationError(
                "currency is required with an inline chargeModel", field="currency"
            )
        currency = validate_currency(request.currency)
        model = _inline_charge_model(request.charge_model)
    else:
        if request.currency is not None:
            validate_currency(request.currency)
        assert request.product_offering_price is not None
        model, price_currency = _price_charge_model(ctx, request.product_offering_price.id)
        if request.currency is not None and request.currency != price_currency:
            raise CurrencyMismatchError(
                f"currency {request.currency} differs from the currency of "
                f"productOfferingPrice {request.product_offering_price.id} "
                f"({price_currency}); omit currency or send {price_currency}",
                field="currency",
            )
        currency = validate_currency(price_currency)
    quantity, included_line = request.quantity, None
    if request.product_offering_price is not None and quantity is not None:
        # A usage price's included allowance (e.g. 10 GB a month) is free: only what
        # exceeds it is priced under the charge model.
        included = included_quantity_of_price(ctx, price_id=request.product_offering_price.id)
        if included > 0:
            used = min(quantity, included)
            included_line = PricingLine(
                kind="included", description=f"{used} of {included} included units",
                amount=Decimal(0), units=used, free_units=included)
            quantity = max(quantity - included, Decimal(0))
    result: PricingResult = price(model, quantity=quantity, events=request.events)
    if included_line is not None:
        result = PricingResult(amount=result.amount, lines=[included_line, *result.lines])
    try:
        rounded = round_amount(result.amount, currency, DEFAULT_ROUNDING)
    except ArithmeticError:
        raise ValidationError(
            f"the amount {result.amount} is too large to round to {currency}",
            field="events" if request.events is not None else "quantity",
        ) from None
    return PricingPreviewResponse(
        amount=_plain(result.amount),
        roundedAmount=_plain(rounded),
        currency=currency,
        lines=[_line_view(line) for line in result.lines],
    )


@router.post(
    "/api/v1/pricing/preview",
    tags=["pricing"],
    response_model=PricingPreviewResponse,
    response_model_by_alias=True,
    summary="Price one period's quantity (or transactions) under a charge model",
)
def pricing_preview(
    body: PricingPreviewRequest,
    ctx: Annotated[Context, Depends(ANY_AUTHENTICATED)],
) -> PricingPreviewResponse:
    """Price a quantity (or, for ``percentage``, a list of transaction amounts) under an
    inline ``chargeModel`` or a ``productOfferingPrice``'s charge model. Nothing is stored.

    ``amount`` is exact; ``roundedAmount`` is rounded half up to the currency's minor unit;
    ``lines`` explain the amount tier by tier. Invalid charge-model parameters answer 422
    naming ``chargeModel.<parameter>``.
    """
    return preview_pricing(ctx, body)
