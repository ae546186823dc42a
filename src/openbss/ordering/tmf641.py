"""The ``tmf641`` provisioning adapter: openbss as the CLIENT of an external OSS's TMF641
v4 Service Ordering API.

- :class:`Tmf641Provisioner` implements :class:`~openbss.ordering.provisioning_port.Provisioner`
  with a synchronous ``httpx`` client (the worker calls it from its thread; timeouts from
  the tenant's ``provisioning`` settings). ``submit`` POSTs one ``serviceOrder`` per
  request to ``{baseUrl}/serviceOrder``; before sending it looks the order up by
  ``externalId`` (``GET {baseUrl}/serviceOrder?externalId=``), so a re-send after a crash
  between the OSS's 201 and our commit (or after a timeout the OSS survived) never
  provisions twice. ``poll`` reads ``{baseUrl}/serviceOrder/{id}``.
- TMF641 states map to outcomes: ``completed`` -> completed; ``failed``, ``rejected``,
  ``cancelled``, ``partial`` -> failed (``partial`` with the items' states in
  ``details``); anything else -> in progress, asked again after ``pollSeconds``.
  Connection errors, timeouts, 5xx and unreadable answers raise
  :class:`~openbss.ordering.provisioning.ProvisioningUnavailable` (the worker retries with
  backoff); a 4xx to a POST is the OSS refusing the order: failed.
- Notifications: :func:`register_listener` registers a callback on the OSS's ``/hub``
  whose URL carries a per-tenant random secret (only its SHA-256 is stored, in the
  tenant's settings group ``provisioningListener``); :func:`record_notification` checks it
  and records the OSS's new state on the matching fulfilment step (``external_state``,
  ``due_at`` = now), so the worker polls that step at once instead of at its next poll
  time. Without notifications the worker polls every ``pollSeconds``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from openbss.core import clock, tenant_settings
from openbss.core.context import Context
from openbss.core.errors import AuthenticationError, NotFoundError, ValidationError
from openbss.ordering import queries
from openbss.ordering.errors import OssUnavailable
from openbss.ordering.paths import TMF641_EVENTS_PATH
from openbss.ordering.provisioning_port import (
    Outcome,
    ProvisioningRequest,
    ProvisioningResult,
    ProvisioningSettings,
    ProvisioningUnavailable,
)

log = logging.getLogger(__name__)

SETTINGS_GROUP = "provisioning"
LISTENER_GROUP = "provisioningListener"
#: TMF641 v4 ``ServiceOrderStateType``.
ORDER_STATES = frozenset({
    "acknowledged", "rejected", "pending", "held", "inProgress", "cancelled", "completed",
    "failed", "partial", "assessingCancellation", "pendingCancellation"})
FAILED_STATES = frozenset({"failed", "rejected", "cancelled", "partial"})
#: Our actions as TMF641 item actions, and the service state each asks for.
ITEM_ACTIONS: dict[str, tuple[str, str | None]] = {
    "add": ("add", "active"), "modify": ("modify", None), "delete": ("delete", "terminated"),
    "suspend": ("modify", "inactive"), "resume": ("modify", "active"),
    "compensate": ("delete", "terminated")}


# -- the service order we send ----------------------------------------------------------

def _characteristics(product: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for char in product.get("productCharacteristic") or []:
        if isinstance(char, dict) and char.get("name") and "value" in char:
            entry = {"name": str(char["name"]), "value": char["value"]}
            if char.get("valueType"):
                entry["valueType"] = str(char["valueType"])
            out.append(entry)
    return out


def _specification(product: dict[str, Any]) -> dict[str, Any] | None:
    offering = product.get("productOffering")
    if not isinstance(offering, dict) or not offering.get("id"):
        return None
    spec = {"id": str(offering["id"]), "@referredType": "ServiceSpecification"}
    for key in ("name", "version"):
        if offering.get(key):
            spec[key] = str(offering[key])
    return spec


def _related_parties(product: dict[str, Any]) -> list[dict[str, Any]]:
    parties = []
    for party in product.get("relatedParty") or []:
        if isinstance(party, dict) and party.get("id"):
            ref = {"id": str(party["id"]),
                   "@referredType": str(party.get("@referredType") or "Individual")}
            for key in ("role", "name"):
                if party.get(key):
                    ref[key] = str(party[key])
            parties.append(ref)
    return parties


def service_value(request: ProvisioningRequest, service_id: str | None = None) -> dict[str, Any]:
    """The ``ServiceRefOrValue`` of the request's product: its characteristics (MSISDN …),
    the offering as the service specification, the target state."""
    _, state = ITEM_ACTIONS[request.action]
    service: dict[str, Any] = {"@type": "Service"}
    if service_id:
        service["id"] = service_id
    if request.product.get("name"):
        service["name"] = str(request.product["name"])
    characteristics = _characteristics(request.product)
    if characteristics:
        service["serviceCharacteristic"] = characteristics
    spec = _specification(request.product)
    if spec:
        service["serviceSpecification"] = spec
    if state:
        service["state"] = state
    return service


def service_order(request: ProvisioningRequest,
                  previous_services: list[str] | None = None) -> dict[str, Any]:
    """The TMF641 ``ServiceOrder_Create`` for one request. ``previous_services``: the ids
    of the services an earlier order created (for modify, delete, suspend, resume,
    compensate): one item per service; none known: one item identified by its
    characteristics."""
    action, _ = ITEM_ACTIONS[request.action]
    targets: list[str | None] = list(previous_services or []) or [None]
    items = [{"id": str(index), "action": action,
              "service": service_value(request, service_id), "@type": "ServiceOrderItem"}
             for index, service_id in enumerate(targets, start=1)]
    body: dict[str, Any] = {
        "externalId": request.external_id,
        "description": f"openbss product order {request.order_id} item {request.item_id}"
                       f" ({request.action})",
        "category": "openbss",
        "externalReference": [
            {"externalReferenceType": "productOrder", "name": request.order_id},
            {"externalReferenceType": "productOrderItem", "name": request.item_id}],
        "serviceOrderItem": items,
        "@type": "ServiceOrder",
    }
    parties = _related_parties(request.product)
    if parties:
        body["relatedParty"] = parties
    return body


# -- what the OSS answers ---------------------------------------------------------------

def result_of(order: dict[str, Any], poll_seconds: float) -> ProvisioningResult:
    """Our outcome for a TMF641 ``ServiceOrder`` as the OSS shows it."""
    ref = order.get("id")
    if not isinstance(ref, str) or not ref:
        raise ProvisioningUnavailable("the OSS answered a serviceOrder without an id")
    state = order.get("state")
    state = state if isinstance(state, str) and state in ORDER_STATES else None
    items = [{"id": item.get("id"), "state": item.get("state")}
             for item in order.get("serviceOrderItem") or [] if isinstance(item, dict)]
    if state == "completed":
        return ProvisioningResult(Outcome.COMPLETED, external_ref=ref, external_state=state,
                                  message=f"serviceOrder {ref} completed")
    if state in FAILED_STATES:
        details: dict[str, Any] = {"serviceOrder": ref, "state": state}
        if state == "partial":
            details["serviceOrderItem"] = items
        return ProvisioningResult(Outcome.FAILED, external_ref=ref, external_state=state,
                                  message=f"serviceOrder {ref} {state}", details=details)
    return ProvisioningResult(Outcome.IN_PROGRESS, external_ref=ref, external_state=state,
                              message=f"serviceOrder {ref} {state or 'state unknown'}",
                              retry_after=poll_seconds)


def services_of(order: dict[str, Any]) -> list[str]:
    """The ids of the services a ``ServiceOrder`` names (what it provisioned)."""
    ids = []
    for item in order.get("serviceOrderItem") or []:
        service = item.get("service") if isinstance(item, dict) else None
        if isinstance(service, dict) and isinstance(service.get("id"), str) and service["id"]:
            ids.append(service["id"])
    return ids


class Tmf641Provisioner:
    """The provisioning port over an OSS's TMF641 v4 API (``settings.base_url``)."""

    def __init__(self, settings: ProvisioningSettings) -> None:
        if not settings.base_url:
            raise ValueError("the tmf641 adapter needs baseUrl")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.timeout = httpx.Timeout(settings.timeout_seconds)

    # -- HTTP ------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Any = None,
              params: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.request(method, url, json=json, params=params,
                                          headers={"Accept": "application/json"})
        # connect error, timeout, reset, protocol error; a URL httpx cannot send
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ProvisioningUnavailable(
                f"OSS {method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise ProvisioningUnavailable(
                f"OSS {method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProvisioningUnavailable(f"OSS {what}: the answer is not JSON") from exc

    def _order(self, ref: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/serviceOrder/{ref}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProvisioningUnavailable(
                f"OSS GET serviceOrder/{ref}: HTTP {response.status_code}")
        order = self._json(response, f"GET serviceOrder/{ref}")
        if not isinstance(order, dict):
            raise ProvisioningUnavailable(f"OSS GET serviceOrder/{ref}: not an object")
        return order

    def find(self, external_id: str) -> dict[str, Any] | None:
        """The OSS's order sent with this ``externalId``, if it has one. The list is
        filtered here too: an OSS that ignores the filter does not make us take another
        order for ours."""
        response = self._call("GET", "/serviceOrder", params={"externalId": external_id})
        if response.status_code != 200:
            raise ProvisioningUnavailable(
                f"OSS GET serviceOrder?externalId=: HTTP {response.status_code}")
        orders = self._json(response, "GET serviceOrder?externalId=")
        if not isinstance(orders, list):
            raise ProvisioningUnavailable("OSS GET serviceOrder?externalId=: not a list")
        for order in orders:
            if isinstance(order, dict) and order.get("externalId") == external_id:
                return order
        return None

    # -- the port ----------------------------------------------------------------------

    def submit(self, request: ProvisioningRequest) -> ProvisioningResult:
        existing = self.find(request.external_id)
        if existing is not None:  # a re-send: the OSS has it already
            return result_of(existing, self.settings.poll_seconds)
        previous: list[str] = []
        if request.previous_ref and request.action != "add":
            earlier = self._order(request.previous_ref)
            if earlier is None:
                if request.action == "compensate":
                    return ProvisioningResult(
                        Outcome.FAILED, message=f"the OSS does not know serviceOrder "
                        f"{request.previous_ref}: nothing to compensate",
                        details={"previousRef": request.previous_ref})
            else:
                previous = services_of(earlier)
        body = service_order(request, previous)
        response = self._call("POST", "/serviceOrder", json=body)
        if response.status_code == 409:  # the OSS says it has this externalId: take it
            existing = self.find(request.external_id)
            if existing is not None:
                return result_of(existing, self.settings.poll_seconds)
        if response.status_code in (200, 201):
            order = self._json(response, "POST serviceOrder")
            if not isinstance(order, dict):
                raise ProvisioningUnavailable("OSS POST serviceOrder: not an object")
            return result_of(order, self.settings.poll_seconds)
        # any other 4xx: the OSS refuses this order (final for the step)
        return ProvisioningResult(
            Outcome.FAILED, external_state="rejected",
            message=f"the OSS refused the serviceOrder: HTTP {response.status_code} "
                    f"{response.text[:300]}",
            details={"status": response.status_code})

    def poll(self, request: ProvisioningRequest, external_ref: str) -> ProvisioningResult:
        order = self._order(external_ref)
        if order is None:  # the OSS lost it (or never kept it): send again, idempotently
            return self.submit(request)
        return result_of(order, self.settings.poll_seconds)

    # -- the OSS's hub -----------------------------------------------------------------

    def register_hub(self, callback: str) -> dict[str, Any]:
        response = self._call("POST", "/hub", json={"callback": callback})
        if response.status_code not in (200, 201):
            raise ProvisioningUnavailable(
                f"OSS POST hub: HTTP {response.status_code} {response.text[:200]}")
        hub = self._json(response, "POST hub")
        if not isinstance(hub, dict) or not isinstance(hub.get("id"), str | int):
            raise ProvisioningUnavailable("OSS POST hub: the answer has no id")
        return hub

    def unregister_hub(self, hub_id: str) -> None:
        self._call("DELETE", f"/hub/{hub_id}")


# -- listener registration and notifications (use cases) ------------------------------

class ListenerRegistration(BaseModel):
    """The tenant's registration on the OSS's hub (settings group
    ``provisioningListener``, not served over HTTP: it holds the callback secret's
    hash)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid")

    hub_id: str | None = None
    base_url: str | None = None
    callback_base_url: str | None = None
    secret_sha256: str | None = None
    registered_at: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def listener_view(registration: ListenerRegistration) -> dict[str, Any]:
    return {"id": registration.hub_id, "baseUrl": registration.base_url,
            "callback": (f"{registration.callback_base_url}"
                         f"{TMF641_EVENTS_PATH.split('{tenant}')[0]}…")
            if registration.hub_id else None,
            "registeredAt": registration.registered_at}


def tmf641_settings(ctx: Context) -> ProvisioningSettings:
    settings = tenant_settings.read(ctx, SETTINGS_GROUP, ProvisioningSettings)
    if settings.adapter != "tmf641" or not settings.base_url:
        raise ValidationError("the tenant's provisioning adapter is not tmf641 (PATCH "
                              "/api/v1/settings/provisioning with adapter and baseUrl)",
                              field="adapter")
    return settings


def get_listener(ctx: Context) -> dict[str, Any]:
    return listener_view(tenant_settings.read(ctx, LISTENER_GROUP, ListenerRegistration))


def register_listener(ctx: Context) -> dict[str, Any]:
    """Register (again) for the OSS's notifications: a fresh callback secret, the new
    listener on ``{baseUrl}/hub``, the previous one removed (best effort). The secret
    itself is only ever in the callback URL sent to the OSS."""
    settings = tmf641_settings(ctx)
    adapter = Tmf641Provisioner(settings)
    before = tenant_settings.read(ctx, LISTENER_GROUP, ListenerRegistration)
    secret = secrets.token_urlsafe(32)
    callback_base = (settings.callback_base_url or ctx.base_url).rstrip("/")
    callback = callback_base + TMF641_EVENTS_PATH.format(tenant=ctx.tenant_id, secret=secret)
    try:
        hub = adapter.register_hub(callback)
    except ProvisioningUnavailable as exc:
        raise OssUnavailable(f"could not register on the OSS's hub: {exc}",
                             field="baseUrl") from exc
    if before.hub_id and before.base_url == settings.base_url:
        try:
            adapter.unregister_hub(before.hub_id)
        except ProvisioningUnavailable:
            log.warning("could not remove the previous OSS listener %s", before.hub_id)
    registration = tenant_settings.update(ctx, LISTENER_GROUP, ListenerRegistration, {
        "hubId": str(hub["id"]), "baseUrl": settings.base_url,
        "callbackBaseUrl": callback_base, "secretSha256": _digest(secret),
        "registeredAt": ctx.now.isoformat()})
    return listener_view(registration)


def callback_secret_matches(ctx: Context, secret: str) -> bool:
    registration = tenant_settings.read(ctx, LISTENER_GROUP, ListenerRegistration)
    if not registration.secret_sha256:
        return False
    return hmac.compare_digest(registration.secret_sha256, _digest(secret))


def _event_order(body: Any) -> tuple[str, str]:
    """The ``serviceOrder`` id and state of a TMF641 event."""
    if not isinstance(body, dict):
        raise ValidationError("a TMF641 event must be a JSON object", field="body")
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("serviceOrder"), dict):
        raise ValidationError("the event has no serviceOrder", field="event.serviceOrder")
    order = event["serviceOrder"]
    ref, state = order.get("id"), order.get("state")
    if not isinstance(ref, str) or not ref or len(ref) > 200:
        raise ValidationError("the serviceOrder id must be a string of 1 to 200 characters",
                              field="event.serviceOrder.id")
    if state not in ORDER_STATES:
        raise ValidationError(f"unknown serviceOrder state {state!r}; TMF641 states: "
                              + ", ".join(sorted(ORDER_STATES)),
                              field="event.serviceOrder.state")
    return ref, state


def record_notification(ctx: Context, *, secret: str, body: Any) -> int:
    """Record an OSS notification on the tenant's fulfilment steps of that serviceOrder
    (``external_state``; ``due_at`` = now so the worker polls it at once). Returns how
    many steps it touched (final steps are left alone). Refused (401) without the
    tenant's callback secret; 404 when no step of this tenant has that order."""
    if not callback_secret_matches(ctx, secret):
        raise AuthenticationError("unknown callback")
    ref, state = _event_order(body)
    steps = queries.steps_by_external_ref(ctx, ref, lock=True)
    if not steps:
        raise NotFoundError(f"no fulfilment step of this tenant has serviceOrder {ref}",
                            field="event.serviceOrder.id")
    touched = 0
    for step in steps:
        if step.state in ("done", "failed", "cancelled"):
            continue
        step.external_state = state
        step.due_at = clock.utcnow()
        touched += 1
    log.info("tmf641 notification: serviceOrder %s %s (%d steps)", ref, state, touched)
    return touched
