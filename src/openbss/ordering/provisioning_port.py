"""The provisioning port's types: request, result, outcome, the adapter protocol, the
tenant's settings and the immediate adapter. Adapters import these from here;
:mod:`openbss.ordering.provisioning` (which re-exports them) holds the adapter registry, so
an adapter module never imports the registry that imports it."""


from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from openbss.core.errors import ValidationError
from openbss.core.netguard import http_url

Action = Literal["add", "modify", "delete", "suspend", "resume", "compensate"]


class Outcome(StrEnum):
    COMPLETED = "completed"
    IN_PROGRESS = "inProgress"
    FAILED = "failed"


@dataclass(frozen=True)
class ProvisioningRequest:
    """What to do in the network for one order item."""

    tenant_id: str
    order_id: str
    item_id: str
    action: Action
    #: The product as it should be afterwards (TMF ``ProductRefOrValue`` document):
    #: offering, characteristics (MSISDN …), place.
    product: dict[str, Any]
    #: Idempotency key of this request (stable across re-sends).
    external_id: str
    #: For ``compensate``, ``modify``, ``delete``: the OSS's reference of what was
    #: provisioned before (the earlier step's ``external_ref``).
    previous_ref: str | None = None


@dataclass(frozen=True)
class ProvisioningResult:
    outcome: Outcome
    #: The OSS's reference (a TMF641 serviceOrder id), kept on the step.
    external_ref: str | None = None
    external_state: str | None = None
    message: str = ""
    retry_after: float | None = None  # seconds, for ``in_progress``
    details: dict[str, Any] = field(default_factory=dict)


class ProvisioningUnavailable(Exception):
    """The OSS could not be reached or answered an error that may pass (timeout,
    connection refused, 5xx): retry later."""


class Provisioner(Protocol):
    def submit(self, request: ProvisioningRequest) -> ProvisioningResult: ...

    def poll(self, request: ProvisioningRequest, external_ref: str) -> ProvisioningResult: ...


class ImmediateProvisioner:
    """Succeeds at once (no network side to ask)."""

    def submit(self, request: ProvisioningRequest) -> ProvisioningResult:
        return ProvisioningResult(Outcome.COMPLETED, external_ref=None,
                                  message=f"{request.action} done (immediate adapter)")

    def poll(self, request: ProvisioningRequest, external_ref: str) -> ProvisioningResult:
        return self.submit(request)


class ProvisioningSettings(BaseModel):
    """The tenant's settings group ``provisioning`` (``GET``/``PATCH
    /api/v1/settings/provisioning``)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid")

    adapter: Literal["immediate", "tmf641"] = "immediate"
    #: TMF641 base URL of the OSS, e.g. ``https://oss.example/tmf-api/serviceOrdering/v4``.
    #: Set by an admin only; usually an internal address, so the webhook SSRF guard does
    #: not apply to it.
    base_url: Annotated[str, Field(max_length=2000), AfterValidator(http_url)] | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    max_attempts: int = Field(default=8, ge=1, le=100)
    #: Seconds between polls of an OSS order in progress when no notification arrives.
    poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    #: openbss's own base URL as the OSS reaches it, for the notification callback
    #: registered on the OSS's ``/hub`` (default: ``OPENBSS_BASE_URL``).
    callback_base_url: Annotated[str, Field(max_length=500),
                                 AfterValidator(http_url)] | None = None

    @field_validator("base_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _needs_url(self) -> ProvisioningSettings:
        if self.adapter == "tmf641" and not self.base_url:
            # raised as our 422 (not a ValueError), so it names the field ``baseUrl``
            raise ValidationError("the tmf641 adapter needs baseUrl (the OSS's TMF641 API)",
                                  field="baseUrl")
        return self
