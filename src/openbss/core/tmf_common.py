"""The TMF common shapes, defined once for every context (TMF630 / the ``Common`` schemas
of the v4 swagger files): ``TimePeriod``, ``Money``, ``Quantity``, ``EntityRef``,
``RelatedParty``, ``Characteristic`` and the value types they are built from.

Python attributes are snake_case; on the wire they are the TMF camelCase names
(``startDateTime``, ``@referredType``). Unknown attributes are refused (422 naming them)
unless a shape says otherwise. A context refines a shape by subclassing it (a stricter
bound, an extra attribute), never by copying it. Numbers are exact ``Decimal``s: the
kernel parses JSON numbers as ``Decimal`` and bounds their digits and exponent
(:mod:`openbss.core.jsonx`); :data:`Amount` bounds what a money value may be.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from openbss.core import jsonx
from openbss.core.money import is_currency
from openbss.core.tmf_types import Uri


def _date_time_text(value: object) -> object:
    # JSON has no date-time type: TMF's are strings (RFC 3339). Pydantic would also take
    # a number, or a string of digits, as seconds since 1970 — a client's mistake that
    # would bill, order or close a period in 1970 — so those are refused.
    if isinstance(value, (int, float, Decimal)) or (
            isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()):
        raise PydanticCustomError(
            "datetime_type", "must be a date-time string with a time zone offset, "
            "e.g. 2026-01-31T00:00:00Z (got {got})", {"got": repr(value)[:30]})
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. 2026-01-31T00:00:00Z")
    try:  # (0001-01-01T00:00:00+14:00 is no instant a datetime can hold in UTC)
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "is outside the years 1–9999 once in UTC (got {got})",
            {"got": value.isoformat()}) from None
    return value


def _currency(value: str) -> str:
    if not is_currency(value):
        raise PydanticCustomError(
            "invalid_currency", "must be an ISO 4217 currency code such as EUR (got {got})",
            {"got": repr(value[:10])})
    return value


#: A date-time with a time zone offset (a naive one is refused: which zone would it be?).
AwareDatetime = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_aware)]
#: An ISO 4217 currency code (upper case, as Babel knows them).
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
#: A money value: up to 18 integer digits and 28 decimal places — beyond any price or
#: balance, and small enough that every amount serializes exactly.
Amount = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=48, decimal_places=28,
                                  lt=Decimal("1e18"), gt=Decimal("-1e18"))]
NonNegativeAmount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=48,
                                             decimal_places=28, lt=Decimal("1e18"))]
Str = Annotated[str, Field(max_length=255)]
Name = Annotated[str, Field(min_length=1, max_length=500)]
Text = Annotated[str, Field(max_length=4000)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class TmfModel(BaseModel):
    """Base of every TMF shape: camelCase on the wire, strict about unknown attributes."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid", str_max_length=4000)

    def doc(self) -> dict[str, Any]:
        """The shape as stored and served: TMF names, no absent attributes, exact numbers."""
        return jsonx.plain(self.model_dump(by_alias=True, exclude_none=True))  # type: ignore[no-any-return]


class Polymorphic(TmfModel):
    """A TMF entity or sub-resource with the polymorphism attributes."""

    type_: Str | None = Field(default=None, alias="@type")
    base_type: Str | None = Field(default=None, alias="@baseType")
    schema_location: Uri | None = Field(default=None, alias="@schemaLocation")


class TimePeriod(TmfModel):
    """``validFor``: a period with an optional start and end (the end not before the start)."""

    start_date_time: AwareDatetime | None = None
    end_date_time: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date_time and self.end_date_time and \
                self.end_date_time < self.start_date_time:
            raise PydanticCustomError(
                "invalid_period", "endDateTime must not be before startDateTime")
        return self


class Money(TmfModel):
    """An amount in a currency; both are required (TMF leaves them optional, but an amount
    without its currency is not money)."""

    unit: Currency
    value: Amount


class PartialMoney(TmfModel):
    """TMF's ``Money`` as the swagger declares it, both attributes optional (a catalog
    price drafted before its currency is known)."""

    unit: Currency | None = None
    value: Amount | None = None


class Quantity(TmfModel):
    amount: Amount | None = None
    units: Text | None = None


class EntityRef(Polymorphic):
    """A reference to another resource: its ``id`` in this tenant, or with an ``href`` to
    another system."""

    id: Id
    href: Uri | None = None
    name: Text | None = None
    referred_type: Str | None = Field(default=None, alias="@referredType")


class RelatedParty(EntityRef):
    """A party playing a ``role`` (``@referredType`` says which kind of party)."""

    role: Str | None = None
    referred_type: Str = Field(alias="@referredType")


class Characteristic(Polymorphic):
    """A name/value pair; the value is any JSON value but must be present."""

    id: Id | None = None
    name: Name
    value_type: Str | None = None
    value: Any = None

    @model_validator(mode="after")
    def _has_value(self) -> Self:
        if self.value is None:
            raise PydanticCustomError("missing_value", "a characteristic needs a value")
        return self
