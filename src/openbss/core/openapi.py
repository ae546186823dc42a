"""The OpenAPI document of the app, made complete in one place.

FastAPI's generated document is finished here (:func:`install`), for every operation:

- request bodies of routes that parse their JSON themselves (:func:`request_body`), and a
  merge-patch schema for every ``PATCH`` (the resource's create schema, nothing required);
- the success response schema: TMF resources from the official TMF v4 swagger definitions
  (``tmf_definitions.json``, extracted from ``specs/tmf`` by :func:`extract_definitions`),
  lists as arrays of them, the kernel's own resources from :data:`OWN_SCHEMAS`;
- every error status (400, 401, 403, 404, 409, 413, 415, 422, 503) with the TMF630 Error
  schema;
- ``securitySchemes`` (bearer API key or JWT, OAuth2 client credentials at
  ``/oauth/token``) on every ``/tmf-api`` and ``/api`` operation, so ``/docs`` has an
  Authorize button;
- the query parameters of every list operation (``offset``, ``limit``, ``fields``,
  ``sort`` and the attribute filters registered with :func:`list_filters`).

``/docs`` (Swagger UI) and ``/redoc`` load their JavaScript and CSS from this server
(``/docs-static``, the files shipped by the ``fastapi-offline`` package), never from a CDN.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from openbss.core.config import get_settings
from openbss.core.tmf_types import TMF_REF, tmf_definitions

_models: dict[str, type[BaseModel]] = {}
_filters: dict[str, tuple[str, ...]] = {}

#: TMF API name in paths → the TMF specification whose definitions describe it.
TMF_SPECS: dict[str, str] = {
    "productCatalogManagement": "TMF620-ProductCatalog-v4.0.0.swagger.json",
    "partyManagement": "TMF632-PartyManagement-v4.0.0.swagger.json",
    "customerManagement": "TMF629-CustomerManagement-v4.0.0.swagger.json",
    "accountManagement": "TMF666-AccountManagement-v4.0.0.swagger.json",
    "event": "TMF688-EventManagement-v4.0.0.swagger.json",
    "productInventory": "TMF637-ProductInventory-v4.0.0.swagger.json",
    "productOrderingManagement": "TMF622-ProductOrdering-v4.0.0.swagger.json",
    "quoteManagement": "TMF648-QuoteManagement-v4.0.0.swagger.json",
    "usageManagement": "TMF635-UsageManagement-v4.0.0.swagger.json",
    "customerBillManagement": "TMF678-CustomerBillManagement-v4.0.0.swagger.json",
    "paymentManagement": "TMF676-PaymentManagement-v4.0.0.swagger.json",
    "paymentMethods": "TMF670-PaymentMethods-v4.0.0-release2025.swagger.json",
}
#: Definitions used as response schemas, per specification (with what they reference).
TMF_ROOTS: dict[str, tuple[str, ...]] = {
    "TMF620-ProductCatalog-v4.0.0.swagger.json": (
        "Catalog", "Category", "ProductSpecification", "ProductOffering",
        "ProductOfferingPrice", "ImportJob", "ExportJob", "EventSubscription"),
    "TMF632-PartyManagement-v4.0.0.swagger.json": (
        "Individual", "Organization", "EventSubscription"),
    "TMF629-CustomerManagement-v4.0.0.swagger.json": ("Customer", "EventSubscription"),
    "TMF666-AccountManagement-v4.0.0.swagger.json": (
        "BillingAccount", "PartyAccount", "EventSubscription"),
    "TMF688-EventManagement-v4.0.0.swagger.json": ("EventSubscription",),
    "TMF637-ProductInventory-v4.0.0.swagger.json": ("Product", "EventSubscription"),
    "TMF622-ProductOrdering-v4.0.0.swagger.json": (
        "ProductOrder", "CancelProductOrder", "EventSubscription"),
    "TMF648-QuoteManagement-v4.0.0.swagger.json": ("Quote", "EventSubscription"),
    "TMF635-UsageManagement-v4.0.0.swagger.json": (
        "Usage", "UsageSpecification", "EventSubscription"),
    "TMF678-CustomerBillManagement-v4.0.0.swagger.json": (
        "CustomerBill", "AppliedCustomerBillingRate", "CustomerBillOnDemand",
        "EventSubscription"),
    "TMF676-PaymentManagement-v4.0.0.swagger.json": ("Payment", "Refund", "EventSubscription"),
    "TMF670-PaymentMethods-v4.0.0-release2025.swagger.json": (
        "PaymentMethod", "DirectDebit", "BankAccountTransfer", "BankAccountDebit",
        "TokenizedCard", "BankCard", "Voucher", "Cash", "Check", "DigitalWallet",
        "EventSubscription"),
}
ERROR_STATUSES: dict[str, str] = {
    "400": "Bad request: malformed JSON, nesting too deep, a bad query parameter",
    "401": "Missing, invalid, expired or revoked credentials (names Authorization)",
    "403": "The caller's role may not call this operation",
    "404": "No such resource in the caller's tenant",
    "409": "Conflicts with the resource's state or with existing data",
    "413": "The request body is larger than the server accepts",
    "415": "A body sent without Content-Type: application/json "
           "(PATCH: application/merge-patch+json)",
    "422": "A value is invalid (the error names the field)",
    "503": "The database is busy or unreachable; retry",
}
AUTHENTICATED_PREFIXES = ("/tmf-api/", "/api/")
LIST_PARAMETERS_DOC = (
    "Paging: `offset`, `limit`; `fields=a,b` keeps only those attributes; `sort=name,-id`. "
    "Attribute filters: `attr=x` (or `attr=x,y` for either), `attr.gt=`, `.gte=`, `.lt=`, "
    "`.lte=`, `.ne=`; an attribute that cannot be filtered on answers 400 naming it. The "
    "answer carries `X-Total-Count` and `X-Result-Count`."
)

_STRING = {"type": "string"}
_INSTANT = {"type": ["string", "null"], "format": "date-time"}
#: Response schemas of the kernel's and the contexts' own (non-TMF) resources.
OWN_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "TMF630 Error",
        "required": ["code", "reason", "status"],
        "properties": {
            "@type": _STRING, "code": _STRING, "reason": _STRING, "message": _STRING,
            "status": _STRING, "referenceError": _STRING,
            "field": {"type": "string", "description": "the offending field, parameter "
                      "or header"},
            "details": {"type": "array", "items": {"type": "object"}},
        },
    },
    "OAuthError": {
        "type": "object", "required": ["error"],
        "properties": {"error": _STRING, "error_description": _STRING},
    },
    "Status": {"type": "object", "required": ["status"],
               "properties": {"status": _STRING, "reason": _STRING}},
    "AuditEntry": {
        "type": "object",
        "properties": {
            "id": _STRING, "seq": {"type": "integer"}, "time": _INSTANT, "actor": _STRING,
            "action": _STRING, "resourceType": _STRING, "resourceId": _STRING,
            "before": {}, "after": {}, "requestId": {"type": ["string", "null"]},
            "prevHash": _STRING, "hash": _STRING,
        },
    },
    "TestClock": {
        "type": "object",
        "properties": {"@type": _STRING, "tenant": _STRING, "sandbox": {"type": "boolean"},
                       "frozen": {"type": "boolean"}, "now": _INSTANT},
    },
    "EventDelivery": {
        "type": "object",
        "properties": {
            "id": _STRING, "eventId": _STRING, "eventType": {"type": ["string", "null"]},
            "subscriptionId": {"type": ["string", "null"]},
            "callback": {"type": ["string", "null"]}, "status": _STRING,
            "attempts": {"type": "integer"}, "nextAttemptAt": _INSTANT,
            "lastError": {"type": ["string", "null"]}, "deliveredAt": _INSTANT,
            "attempt": {"type": "array", "items": {"type": "object", "properties": {
                "time": _INSTANT, "httpStatus": {"type": ["integer", "null"]},
                "error": {"type": ["string", "null"]},
                "durationMs": {"type": ["integer", "number", "null"]}}}},
        },
    },
    "Eligibility": {
        "type": "object", "required": ["id", "eligible", "orderable"],
        "properties": {"id": _STRING, "eligible": {"type": "boolean"},
                       "orderable": {"type": "boolean"}},
    },
    "PersonalDataExport": {"type": "object", "description": "Everything held about a party"},
    "AnonymizationResult": {"type": "object"},
    "ProductChange": {
        "type": "object", "description": "One change of a product (its history, oldest first)",
        "required": ["seq", "at", "change", "status", "actor"],
        "properties": {
            "seq": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
            "change": {"type": "string", "description": "started, plan_changed, "
                       "quantity_changed, suspended, resumed, terminated, created, "
                       "statusChanged or updated"},
            "status": {"type": "string"},
            "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
            "productOrder": {"type": ["object", "null"], "properties": {
                "id": _STRING, "orderItemId": {"type": ["string", "null"]}}},
            "actor": _STRING}},
    "ProductCharge": {
        "type": "object", "description": "A one-time charge of a product for billing "
        "(an early-termination fee), oldest first",
        "required": ["id", "kind", "amount", "at", "billed"],
        "properties": {
            "id": _STRING, "kind": {"type": "string", "enum": ["earlyTerminationFee"]},
            "amount": {"type": "object", "required": ["unit", "value"], "properties": {
                "unit": _STRING, "value": {"type": "number"}}},
            "at": {"type": "string", "format": "date-time"},
            "billingAccount": {"type": ["object", "null"]},
            "productOfferingPrice": {"type": ["object", "null"]},
            "productOrder": {"type": ["object", "null"], "properties": {
                "id": _STRING, "orderItemId": {"type": ["string", "null"]}}},
            "description": {"type": ["string", "null"]}, "billed": {"type": "boolean"}}},
    "RatingTariff": {
        "type": "object", "description": "A tariff of the tenant (rating: a TariffSet by "
        "name); the list leaves `tariff` out",
        "required": ["id", "href", "name", "currency", "source", "version", "counts"],
        "properties": {
            "id": _STRING, "href": _STRING, "name": _STRING, "currency": _STRING,
            "source": {"type": "string", "enum": ["cgrates", "json"]},
            "createdAt": _INSTANT, "lastUpdate": _INSTANT, "version": {"type": "integer"},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "tariff": {"type": "object", "description": "the TariffSet document"}}},
    "RatingCost": {
        "type": "object", "description": "The price of one event (CGRateS GetCost); money "
        "as exact decimal strings, seconds or units as numbers",
        "required": ["cost", "currency", "connectFee", "ratingPlan", "increments"],
        "properties": {
            "cost": _STRING, "currency": _STRING, "connectFee": _STRING,
            "ratingPlan": {"type": ["string", "null"]},
            "destination": {"type": ["string", "null"]},
            "destinationRate": {"type": ["string", "null"]},
            "rates": {"type": ["string", "null"]}, "usage": {"type": "number"},
            "maxCostApplied": {"type": "boolean"},
            "increments": {"type": "array", "items": {
                "type": "object", "required": ["start", "duration", "rate", "cost"],
                "properties": {"start": {"type": "number"}, "duration": {"type": "number"},
                               "rate": _STRING, "cost": _STRING}}}}},
    "UsageBulkResult": {
        "type": "object", "description": "POST /api/v1/usage/bulk: one result per record, "
        "in input order, and the counts (accepted + duplicates + rejected = records sent)",
        "required": ["results", "accepted", "duplicates", "rejected"],
        "properties": {
            "results": {"type": "array", "items": {
                "type": "object", "required": ["index", "status", "id"],
                "properties": {
                    "index": {"type": "integer"},
                    "status": {"type": "string", "enum": ["accepted", "duplicate",
                                                          "rejected"]},
                    "id": {"type": ["string", "null"]}, "reason": _STRING,
                    "message": _STRING}}},
            "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
            "rejected": {"type": "integer"}}},
    "UsageReject": {
        "type": "object", "description": "A rejected usage record: its reason, where it "
        "came from and the raw record reprocessing reads",
        "required": ["id", "href", "reason", "source", "record"],
        "properties": {
            "id": _STRING, "href": _STRING, "reason": _STRING,
            "message": {"type": ["string", "null"]}, "source": _STRING,
            "recordId": _STRING, "usageDate": _INSTANT, "receivedDate": _INSTANT,
            "record": {"type": "object"}}},
    "UsageRunSummary": {
        "type": "object", "description": "What a usage run did (reprocessing): read = "
        "accepted + duplicates + rejected; amounts per currency as exact decimal strings",
        "required": ["read", "accepted", "duplicates", "rejected", "rejectedByReason",
                     "rated", "amounts"],
        "properties": {
            "read": {"type": "integer"}, "accepted": {"type": "integer"},
            "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
            "rejectedByReason": {"type": "object",
                                 "additionalProperties": {"type": "integer"}},
            "rated": {"type": "integer"},
            "amounts": {"type": "object", "additionalProperties": _STRING}}},
    "BillingCharge": {
        "type": "object", "description": "A manual one-off charge or credit on a billing "
        "account, for its next invoice (customerBill once billed)",
        "required": ["id", "href", "kind", "amount", "name", "billingAccount", "billed"],
        "properties": {
            "id": _STRING, "href": _STRING,
            "kind": {"type": "string", "enum": ["charge", "credit"]},
            "amount": {"type": "object", "required": ["unit", "value"], "properties": {
                "unit": _STRING, "value": {"type": "number"}}},
            "name": _STRING, "description": _STRING, "taxCategory": _STRING,
            "taxIncluded": {"type": "boolean"}, "at": _INSTANT,
            "billingAccount": {"type": "object"}, "product": {"type": "object"},
            "customerBill": {"type": "object"}, "billed": {"type": "boolean"},
            "createdBy": _STRING, "@type": _STRING}},
    "BillRun": {
        "type": "object", "description": "A bill run: state (running, completed, failed), "
        "progress and results (accounts billed, invoices, totals per currency, failures)",
        "required": ["id", "state"],
        "properties": {
            "id": _STRING, "href": _STRING,
            "state": {"type": "string", "enum": ["running", "completed", "failed"]},
            "asOf": _INSTANT, "dryRun": {"type": "boolean"},
            "progress": {"type": "object"}, "results": {"type": "object"},
            "startedAt": _INSTANT, "finishedAt": _INSTANT}},
    "Tmf641Listener": {
        "type": "object", "description": "The tenant's listener on its OSS's TMF641 hub "
        "(never the callback secret)",
        "properties": {
            "id": {"type": ["string", "null"], "description": "the OSS's hub id"},
            "baseUrl": {"type": ["string", "null"]},
            "callback": {"type": ["string", "null"], "description": "the callback URL, "
                         "its tenant and secret elided"},
            "registeredAt": _INSTANT}},
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_TMF_PATH = re.compile(r"^/tmf-api/(?P<api>\w+)/v4/(?P<kind>\w+)(?P<item>/\{id\})?$")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


#: (method, path) → success response schema, for the operations that are not plain TMF
#: resource operations. ``None``: no body (204) or not JSON (described in place).
OWN_RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/health"): _ref("Status"),
    ("get", "/ready"): _ref("Status"),
    ("get", "/api/v1/audit"): _array("AuditEntry"),
    ("get", "/api/v1/testClock"): _ref("TestClock"),
    ("post", "/api/v1/testClock/advance"): _ref("TestClock"),
    ("get", "/api/v1/eventDeliveries"): _array("EventDelivery"),
    ("get", "/api/v1/eventDeliveries/{id}"): _ref("EventDelivery"),
    ("post", "/api/v1/eventDeliveries/{id}/retry"): _ref("EventDelivery"),
    ("post", "/api/v1/catalog/productOffering/{id}/version"):
        _ref("TMF620.ProductOffering"),
    ("get", "/api/v1/catalog/productOffering/{id}/prices"):
        _array("TMF620.ProductOfferingPrice"),
    ("get", "/api/v1/catalog/productOffering/{id}/eligibility"): _ref("Eligibility"),
    ("get", "/api/v1/parties/{id}/personal-data"): _ref("PersonalDataExport"),
    ("post", "/api/v1/parties/{id}/anonymize"): _ref("AnonymizationResult"),
    ("get", "/api/v1/products/{id}/history"): _array("ProductChange"),
    ("get", "/api/v1/products/{id}/charges"): _array("ProductCharge"),
    ("get", "/api/v1/settings/provisioning"): _ref("ordering.ProvisioningSettings"),
    ("patch", "/api/v1/settings/provisioning"): _ref("ordering.ProvisioningSettings"),
    ("get", "/api/v1/provisioning/tmf641/listener"): _ref("Tmf641Listener"),
    ("post", "/api/v1/provisioning/tmf641/listener"): _ref("Tmf641Listener"),
    ("post", "/api/v1/quotes/{id}/order"): _ref("TMF622.ProductOrder"),
    ("get", "/api/v1/rating/tariffs"): _array("RatingTariff"),
    ("get", "/api/v1/rating/tariffs/{id}"): _ref("RatingTariff"),
    ("put", "/api/v1/rating/tariffs/{name}"): _ref("RatingTariff"),
    ("post", "/api/v1/rating/cost"): _ref("RatingCost"),
    ("post", "/api/v1/usage/bulk"): _ref("UsageBulkResult"),
    ("get", "/api/v1/usage/rejects"): _array("UsageReject"),
    ("post", "/api/v1/usage/rejects/reprocess"): _ref("UsageRunSummary"),
    ("get", "/api/v1/settings/usage"): _ref("usage.UsageSettings"),
    ("patch", "/api/v1/settings/usage"): _ref("usage.UsageSettings"),
    ("post", "/api/v1/customerBills/{id}/creditNotes"): _ref("TMF678.CustomerBill"),
    ("get", "/api/v1/billingAccounts/{id}/charges"): _array("BillingCharge"),
    ("post", "/api/v1/billingAccounts/{id}/charges"): _ref("BillingCharge"),
    ("post", "/api/v1/billRuns"): _ref("BillRun"),
    ("get", "/api/v1/billRuns"): _array("BillRun"),
    ("get", "/api/v1/billRuns/{id}"): _ref("BillRun"),
    ("get", "/api/v1/settings/billing"): _ref("billing.BillingSettings"),
    ("patch", "/api/v1/settings/billing"): _ref("billing.BillingSettings"),
    ("get", "/api/v1/settings/billingDocument"): _ref("billing.DocumentTemplate"),
    ("patch", "/api/v1/settings/billingDocument"): _ref("billing.DocumentTemplate"),
}
#: Optional request bodies of routes that read their body themselves.
OWN_REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/quotes/{id}/order"): {
        "required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {
                **{name: {"type": "string"} for name in (
                    "description", "externalId", "priority", "category")},
                **{name: {"type": "string", "format": "date-time"} for name in (
                    "requestedStartDate", "requestedCompletionDate")},
                "note": {"type": "array", "items": {"type": "object", "required": ["text"],
                                                    "properties": {
                                                        "text": {"type": "string"},
                                                        "author": {"type": "string"},
                                                        "date": {"type": "string",
                                                                 "format": "date-time"}}}}},
        }}},
    },
    ("post", "/api/v1/catalog/productOffering/{id}/version"): {
        "required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"version": {"type": "string", "pattern": r"^\d+(\.\d+){0,3}$"},
                           "validFor": {"$ref": "#/components/schemas/TMF620.TimePeriod"}},
        }}},
    },
}
#: List operations outside the TMF collections (they take the TMF630 list parameters).
OWN_LISTS = ["/api/v1/audit", "/api/v1/eventDeliveries",
             "/api/v1/catalog/productOffering/{id}/prices", "/api/v1/usage/rejects",
             "/api/v1/billRuns"]


# The kernel's own lists (core/api.py); tests/test_openapi_fuzz.py checks every
# documented list against the attributes the route itself says it filters on.
_filters.update({
    "/api/v1/audit": ("action", "actor", "requestId", "resourceId", "resourceType", "seq",
                      "time"),
    "/api/v1/eventDeliveries": ("attempts", "eventId", "eventType", "status",
                                "subscriptionId"),
})


def _namespace(model: type[BaseModel]) -> str:
    """Component names are namespaced by context (``party.Money``, ``catalog.Money``)."""
    parts = model.__module__.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "openbss" else parts[0]


def _model_ref(namespace: str) -> str:
    return "#/components/schemas/" + namespace + ".{model}"


def request_body(model: type[BaseModel], *, patch: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a route: its JSON body is ``model`` (merge-patch for PATCH)."""
    name = f"{_namespace(model)}.{model.__name__}"
    _models[name] = model
    media = "application/merge-patch+json" if patch else "application/json"
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    content = {media: {"schema": schema}}
    if patch:
        content["application/json"] = {"schema": schema}
    return {"requestBody": {"required": True, "content": content}}


def list_filters(path: str, names: Iterable[str]) -> None:
    """Document the attribute filters of the list operation ``GET path``."""
    _filters[path] = tuple(sorted(set(_filters.get(path, ())) | set(names)))


def document_response(method: str, path: str, schema: dict[str, Any], *,
                      component: str | None = None, listing: bool = False) -> None:
    """Document the success answer of a context's own operation (``/api/v1/...``):
    ``schema`` itself, or, with ``component``, a component of that name holding it
    (``listing``: the operation is a list taking the TMF630 list parameters)."""
    if component is not None:
        OWN_SCHEMAS[component] = schema
        schema = _ref(component)
    OWN_RESPONSES[method.lower(), path] = schema
    if listing and path not in OWN_LISTS:
        OWN_LISTS.append(path)


def documented_filters(path: str) -> tuple[str, ...]:
    return _filters.get(path, ())


# -- TMF definitions --------------------------------------------------------------------------

def _prefix(spec_file: str) -> str:
    return spec_file.split("-", 1)[0]


def extract_definitions(specs_dir: Path) -> dict[str, dict[str, Any]]:
    """The definitions named in :data:`TMF_ROOTS` and all they reference, from the
    official swagger files in ``specs_dir``, as OpenAPI components named
    ``TMF620.ProductOffering`` (what ``tmf_definitions.json`` holds)."""
    out: dict[str, dict[str, Any]] = {}
    for spec_file, roots in TMF_ROOTS.items():
        definitions = json.loads((specs_dir / spec_file).read_text())["definitions"]
        prefix = _prefix(spec_file)
        todo = list(roots)
        while todo:
            name = todo.pop()
            key = f"{prefix}.{name}"
            if key in out:
                continue
            text = json.dumps(definitions[name])
            todo += re.findall(r'"#/definitions/([^"]+)"', text)
            out[key] = json.loads(text.replace('"#/definitions/',
                                               f'"#/components/schemas/{prefix}.'))
    return dict(sorted(out.items()))


def _tmf_resource(path: str) -> tuple[str, bool] | None:
    """(component, is_item) of the TMF resource a path serves, if it is one."""
    match = _TMF_PATH.match(path)
    if match is None or match["api"] not in TMF_SPECS:
        return None
    kind = match["kind"]
    name = "EventSubscription" if kind == "hub" else kind[:1].upper() + kind[1:]
    component = f"{_prefix(TMF_SPECS[match['api']])}.{name}"
    if component not in tmf_definitions():
        return None
    return component, bool(match["item"])


# -- the document -----------------------------------------------------------------------------

def _success_schema(method: str, path: str) -> dict[str, Any] | None:
    if (method, path) in OWN_RESPONSES:
        return OWN_RESPONSES[method, path]
    resource = _tmf_resource(path)
    if resource is None:
        return None
    component, item = resource
    if method == "get" and not item:
        return _array(component)
    return _ref(component)


def is_list_operation(method: str, path: str) -> bool:
    resource = _tmf_resource(path)
    if method != "get":
        return False
    return path in OWN_LISTS or (resource is not None and not resource[1])


def _list_parameters(path: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    settings = get_settings()
    known = {(p.get("in"), p.get("name")) for p in existing}
    params: list[dict[str, Any]] = [
        {"name": "offset", "in": "query", "required": False,
         "description": "Index of the first item (default 0)",
         "schema": {"type": "integer", "minimum": 0, "maximum": 10**9}},
        {"name": "limit", "in": "query", "required": False,
         "description": f"Items per page (default {settings.default_page_size})",
         "schema": {"type": "integer", "minimum": 1, "maximum": settings.max_page_size}},
        {"name": "fields", "in": "query", "required": False,
         "description": "Comma-separated attributes to keep (id, href and @type stay)",
         "schema": {"type": "string", "pattern": r"^[A-Za-z@][A-Za-z0-9_.@]*"
                    r"(,[A-Za-z@][A-Za-z0-9_.@]*)*$"}},
        {"name": "sort", "in": "query", "required": False,
         "description": "Comma-separated attributes, `-` for descending",
         "schema": {"type": "string"}},
    ]
    for name in documented_filters(path):
        params.append({"name": name, "in": "query", "required": False,
                       "description": f"Filter on {name} (`{name}=a,b` for either; "
                       f"`{name}.gte=` … for ranges)",
                       "schema": {"type": "string"}})
    return [*existing, *(p for p in params if ("query", p["name"]) not in known)]


def _merge_patch_component(schemas: dict[str, Any], ref: str) -> dict[str, str]:
    """A ``….MergePatch`` copy of the component ``ref``: the same attributes, none
    required (RFC 7396: absent attributes are kept)."""
    name = ref.rsplit("/", 1)[-1]
    if name.endswith(".MergePatch"):
        return {"$ref": ref}
    patch_name = name + ".MergePatch"
    if patch_name not in schemas and name in schemas:
        schema = copy.deepcopy(schemas[name])
        schema.pop("required", None)
        schema["description"] = f"JSON merge-patch (RFC 7396) of {name}"
        schema["title"] = patch_name
        schemas[patch_name] = schema
    return {"$ref": f"#/components/schemas/{patch_name}"}


def _body_ref(operation: Mapping[str, Any] | None) -> str | None:
    if not operation:
        return None
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref")
        if ref:
            return str(ref)
    return None


#: Where openbss knowingly serves something else than the TMF v4 definition says
#: (docs/conventions: birth and death dates are dates, as TMF v5 has them).
DEVIATIONS: dict[str, dict[str, Any]] = {
    "TMF632.Individual": {
        "birthDate": {"type": "string", "anyOf": [{"format": "date"},
                                                  {"format": "date-time"}],
                      "description": "Date of birth: a date (as in TMF632 v5) or, as "
                      "sent, a date-time"},
        "deathDate": {"type": "string", "anyOf": [{"format": "date"},
                                                  {"format": "date-time"}],
                      "description": "Date of death: a date (as in TMF632 v5) or, as "
                      "sent, a date-time"},
    },
}


def _apply_deviations(schemas: dict[str, Any]) -> None:
    for component, properties in DEVIATIONS.items():
        if component in schemas:
            schema = copy.deepcopy(schemas[component])
            schema.setdefault("properties", {}).update(properties)
            schemas[component] = schema


def _link_tmf_types(node: Any) -> None:
    """Replace the markers of :class:`openbss.core.tmf_types.TmfType` by references to
    the TMF components."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and TMF_REF in value:
                node[key] = _ref(value[TMF_REF])
            else:
                _link_tmf_types(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict) and TMF_REF in value:
                node[index] = _ref(value[TMF_REF])
            else:
                _link_tmf_types(value)


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Finish FastAPI's document (see the module docstring)."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, model in _models.items():
        namespace = _namespace(model)
        schema = model.model_json_schema(by_alias=True, ref_template=_model_ref(namespace))
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(f"{namespace}.{def_name}", definition)
        schemas[name] = schema
    schemas.update(tmf_definitions())
    _apply_deviations(schemas)
    schemas.update(OWN_SCHEMAS)
    _link_tmf_types(spec)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An API key (`obss_…`, from `openbss apikey create`) or a JWT "
                           "from POST /oauth/token",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Client credentials: client_id is the key's id (between the "
                           "first two `_`), client_secret the whole key",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}},
        },
    }
    paths: dict[str, dict[str, Any]] = spec.get("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            _complete_operation(schemas, paths, path, method, operation)
    return spec


def _complete_operation(schemas: dict[str, Any], paths: dict[str, dict[str, Any]],
                        path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    authenticated = path.startswith(AUTHENTICATED_PREFIXES)
    if authenticated:
        operation["security"] = [{"bearerAuth": []}, {"oauth2": []}]
    if method == "patch":
        ref = _body_ref(operation) or _body_ref(paths.get(path.rsplit("/", 1)[0], {})
                                                .get("post"))
        if ref:
            schema = _merge_patch_component(schemas, ref)
            operation["requestBody"] = {"required": True, "content": {
                "application/merge-patch+json": {"schema": schema},
                "application/json": {"schema": schema}}}
    if (method, path) in OWN_REQUEST_BODIES and "requestBody" not in operation:
        operation["requestBody"] = OWN_REQUEST_BODIES[method, path]
    if is_list_operation(method, path):
        operation["parameters"] = _list_parameters(path, operation.get("parameters", []))
        operation["description"] = (operation.get("description", "") + "\n\n"
                                    + LIST_PARAMETERS_DOC).strip()
    success = next((code for code in responses if code.startswith("2")), "200")
    body = _success_schema(method, path)
    if success == "204" or method == "delete":
        responses.pop("200", None)
        responses.pop(success, None)
        responses["204"] = {"description": "Done; no content"}
    elif path.endswith("/content"):
        responses[success] = {"description": "The exported file", "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {}}}}
    elif path == "/metrics":
        responses[success] = {"description": "Prometheus metrics", "content": {
            "text/plain": {"schema": {"type": "string"}}}}
    elif body is not None:
        entry = responses.setdefault(success, {"description": "Success"})
        entry["content"] = {"application/json": {"schema": body}}
    for code, description in ERROR_STATUSES.items():
        if not authenticated and code in ("401", "403") and path != "/oauth/token":
            continue
        schema = _ref("OAuthError") if path == "/oauth/token" and code in ("400", "401") \
            else _ERROR_REF
        responses[code] = {"description": description,
                           "content": {"application/json": {"schema": schema}}}
    if path == "/ready":
        responses["503"] = {"description": "The database does not answer",
                            "content": {"application/json": {"schema": _ref("Status")}}}


# -- /docs and /redoc without a CDN -----------------------------------------------------------

STATIC_URL = "/docs-static"


def _static_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _serve_docs_locally(app: FastAPI) -> None:
    docs, redoc = app.docs_url, app.redoc_url
    oauth_redirect = app.swagger_ui_oauth2_redirect_url
    drop = {docs, redoc, oauth_redirect}
    app.router.routes[:] = [r for r in app.router.routes
                            if not (isinstance(r, Route) and r.path in drop)]
    app.mount(STATIC_URL, StaticFiles(directory=_static_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    routes: list[BaseRoute] = []

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=app.title + " — API",
            oauth2_redirect_url=root + (oauth_redirect or "/docs/oauth2-redirect"),
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True},
        )

    async def swagger_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url, title=app.title + " — API",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png", with_google_fonts=False,
        )

    routes.append(Route(docs or "/docs", swagger_ui, include_in_schema=False))
    routes.append(Route(oauth_redirect or "/docs/oauth2-redirect", swagger_redirect,
                        include_in_schema=False))
    routes.append(Route(redoc or "/redoc", redoc_ui, include_in_schema=False))
    app.router.routes[:0] = routes


def install(app: FastAPI) -> None:
    """Complete the app's OpenAPI document and serve /docs and /redoc locally."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        app.openapi_schema = complete(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    _serve_docs_locally(app)
