"""Request and response shapes of the rating API (``/api/v1/rating``).

- :class:`CostRequest` — ``POST /api/v1/rating/cost``: CGRateS's ``GetCost`` arguments
  (``category``, ``subject``, ``account``, ``destination``, ``answerTime``, ``usage``,
  optional ``tenant``: the tariff's tenant name, not the openbss tenant);
- :class:`CostResponse` / :class:`IncrementOut` — the price of that one event; money
  (``cost``, ``connectFee``, an increment's ``rate`` and ``cost``) as exact decimal
  strings, seconds (or units) as exact JSON numbers;
- :class:`TariffOut` — a stored tariff (``GET /api/v1/rating/tariffs``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

from openbss.core.tmf_common import AwareDatetime, TmfModel

Key = Annotated[str, Field(min_length=1, max_length=200)]


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a duration such as \"130s\" or a number, not true/false")
    return value


#: ``usage``: "130s", "2m10s", "500ms", a plain count ("10") or a JSON number of seconds
#: (units). A bool is refused (``true`` is not a duration).
UsageValue = Annotated[
    Annotated[StrictStr, Field(min_length=1, max_length=64)]
    | Annotated[Decimal, Field(allow_inf_nan=False, ge=0, max_digits=30)],
    BeforeValidator(_no_bool)]


class CostRequest(TmfModel):
    """One event to price (nothing is stored)."""

    category: Key = Field(description="CGRateS category, e.g. call, sms, data",
                          examples=["call"])
    subject: Key = Field(description="the rating subject (a rating profile's subject)",
                         examples=["1001"])
    account: Key | None = Field(default=None, examples=["1001"])
    destination: Key = Field(description="the called number (longest-prefix match)",
                             examples=["1002"])
    answer_time: AwareDatetime = Field(description="when the call was answered (with "
                                       "an offset)", examples=["2014-08-04T13:00:00Z"])
    usage: UsageValue = Field(description='"130s", "2m10s", a number of seconds, or '
                              "units for data/SMS categories", examples=["130s"])
    tenant: Key | None = Field(default=None, description="the tariff's tenant (CGRateS "
                               "rating profiles' Tenant); default: the profiles' tenant")


class IncrementOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Decimal  # seconds (units) from the start of the event
    duration: Decimal
    rate: str
    cost: str


class CostResponse(BaseModel):
    """The price of one event. ``cost`` is the total CGRateS gives (rounded as the
    destination rate says), ``increments`` the rated increments."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cost: str
    currency: str
    connect_fee: str = Field(alias="connectFee")
    rating_plan: str = Field(alias="ratingPlan")
    destination: str | None
    destination_rate: str | None = Field(alias="destinationRate")
    rates: str | None
    usage: Decimal
    max_cost_applied: bool = Field(alias="maxCostApplied")
    increments: list[IncrementOut]


class TariffOut(BaseModel):
    """A stored tariff: its name, currency, what it holds and the TariffSet itself
    (``GET /api/v1/rating/tariffs/{id}``; the list leaves ``tariff`` out)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    href: str
    name: str
    currency: str
    source: str
    created_at: str = Field(alias="createdAt")
    last_update: str = Field(alias="lastUpdate")
    version: int
    counts: dict[str, int]
    tariff: dict[str, Any] | None = None
