"""The tenant's settings group ``usage`` (``GET``/``PATCH /api/v1/settings/usage``): the
usage sources (where records come from: their time zone, default phone region and
deduplication key) and the period before which usage is no longer accepted."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from openbss.core import tenant_settings
from openbss.core.context import Context
from openbss.core.tmf_common import AwareDatetime

GROUP = "usage"
SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class _Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid")


class SourceSettings(_Settings):
    """One usage source (a switch, a mediation platform, an application).

    - ``timeZone``: the zone of timestamps written without an offset (Asterisk and
      FreeSWITCH write local time) — IANA name;
    - ``defaultRegion``: the region of numbers written nationally (``030 1234567``); None:
      the tenant's default region;
    - ``dedupFields``: the fields whose values, hashed with the source name, identify a
      record when it has no ``recordId`` of its own (or to replace it); None: the record
      id.
    """

    time_zone: str = "UTC"
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    dedup_fields: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = \
        Field(default=None, max_length=20)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") \
                from None
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a phone-number region (e.g. DE, US)")
        return value


class UsageSettings(_Settings):
    """``sources``: per source name (the ``--source`` of ``openbss usage import``, the
    ``source`` characteristic of a TMF635 record; ``api`` when none is given); a source
    not listed uses the defaults. ``closedThrough``: usage dated before this instant is
    rejected ``period_closed`` (its billing period is closed)."""

    sources: dict[SourceName, SourceSettings] = Field(default_factory=dict, max_length=200)
    closed_through: AwareDatetime | None = None

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name) or SourceSettings()


def read(ctx: Context) -> UsageSettings:
    return tenant_settings.read(ctx, GROUP, UsageSettings)


def is_closed(settings: UsageSettings, usage_date: datetime) -> bool:
    return settings.closed_through is not None and usage_date < settings.closed_through
