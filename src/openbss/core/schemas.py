"""Request and response shapes of the shared kernel's API."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    UrlConstraints,
)

from openbss.core.tmf_common import AwareDatetime


class StrictModel(BaseModel):
    """Base for request bodies: unknown fields are refused, naming the field."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_max_length=4000)


class HubCreate(StrictModel):
    """TMF EventSubscriptionInput, plus an optional signing secret. The callback must
    also pass the SSRF guard (openbss.core.netguard), checked by the service."""

    callback: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]
    query: str | None = Field(default=None, max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=128)


class ClockAdvance(StrictModel):
    to: AwareDatetime | None = None
    months: int = Field(default=0, ge=0, le=1200)
    days: int = Field(default=0, ge=0, le=36600)
    hours: int = Field(default=0, ge=0, le=10**6)
    seconds: int = Field(default=0, ge=0, le=10**9)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
