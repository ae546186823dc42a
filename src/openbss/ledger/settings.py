"""The tenant's settings group ``ledger`` (``GET``/``PATCH /api/v1/settings/ledger``).

- ``revenueAccounts``: a line type (``recurring``, ``usage``, ``oneTime``, ``discount``,
  ``adjustment``) → the code of the chart account its revenue posts to, for a tenant whose
  chart splits revenue further than the default roles (``{"usage": "4110"}``). Unset
  types post to their default role (docs/ledger.md).
- ``revenueByCategory``: a catalog category (its name or id) → an account code: the
  revenue of products whose offering is in that category (the product family: "Mobile
  postpaid", "Fibre") posts there, whatever the line type. It wins over
  ``revenueAccounts``; a manual charge's own ledger role (a late fee) wins over both.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from openbss.core import tenant_settings
from openbss.core.context import Context

GROUP = "ledger"
LineType = Literal["recurring", "usage", "oneTime", "discount", "adjustment"]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._-]+$")]


class LedgerSettings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid", frozen=True)

    revenue_accounts: dict[LineType, Code] = Field(default_factory=dict)
    revenue_by_category: dict[Annotated[str, Field(min_length=1, max_length=200)], Code] = \
        Field(default_factory=dict, max_length=500)


def read(ctx: Context) -> LedgerSettings:
    return tenant_settings.read(ctx, GROUP, LedgerSettings)
