"""TMF635 usage records, one at a time: :func:`flatten` (a TMF635 document → the raw
record the pipeline reads) and the per-record ingestion path of ``POST usage``:

flatten → ``usage.normalize.normalize`` → dedupe (the unique ``(tenant, dedup_key)``:
looked up, then inserted inside a SAVEPOINT, so a concurrent copy that wins the race
makes this one a duplicate instead of an error) → ``closedThrough`` → guiding
(:mod:`openbss.usage.guiding`) → ``rating.service.rate_events`` → the stored record,
``rated`` or ``rejected`` with its reason.

No audit row and no TMF688 event per record: usage is high volume, and the record itself
(with its ``received_at`` business time and source) is the trace. Corrections of a
rejected record (PATCH) and deletions are ordinary audited changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from openbss.catalog import queries as catalog_queries
from openbss.core.context import Context
from openbss.core.db import new_id
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.resources import patched, record_change
from openbss.core.tmf import ListParams, href, iso
from openbss.rating import service as rating
from openbss.rating.book import Unrated
from openbss.usage import queries, settings
from openbss.usage.errors import UsageNotDeletable, UsageNotEditable
from openbss.usage.guiding import GuideCache, Guided, account_ref, customer_of, guide
from openbss.usage.models import USAGE_STATES, RejectReason, UsageRecord, UsageStatus
from openbss.usage.normalize import Normalized, Rejected, normalize
from openbss.usage.paths import PRODUCT_PATH, USAGE_API, USAGE_PATH, USAGE_SPECIFICATION_PATH
from openbss.usage.schemas import Usage
from openbss.usage.settings import SourceName, UsageSettings

#: Top-level attributes of a TMF635 usage that the raw record carries as they are.
TOP_LEVEL = ("usageDate", "usageType")
#: The attributes of a TMF635 usage document (everything else in a mapping given to
#: :func:`flatten` is a raw key already).
DOCUMENT_KEYS = frozenset({
    "id", "href", "description", "usageDate", "usageType", "ratedProductUsage",
    "relatedParty", "status", "usageCharacteristic", "usageSpecification", "@type",
    "@baseType", "@schemaLocation", "rejectReason"})
DEFAULT_SOURCE = "api"
#: What a PATCH may change, and only on a rejected record (then it is processed again).
PATCHABLE = frozenset({"description", "usageCharacteristic", "usageDate", "usageType"})
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def flatten(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The raw record of a TMF635 usage document: ``usageDate``, ``usageType`` and each
    ``usageCharacteristic`` ``name → value`` (``msisdn``, ``calledNumber``, ``duration``,
    ``recordId``, ``source`` …). A top-level ``usageDate``/``usageType`` wins over a
    characteristic of the same name; of two characteristics with one name, the first.
    Keys that are not TMF635 usage attributes are raw keys already and are kept, so
    ``flatten(raw) == raw`` for a flat raw record, and any stored ``body`` (a TMF635
    document from the API, a raw mapping from a file) flattens to what was received.
    Anything that is not a name/value pair is left out."""
    raw: dict[str, Any] = {k: v for k, v in doc.items() if k not in DOCUMENT_KEYS}
    chars = doc.get("usageCharacteristic")
    if isinstance(chars, list):
        for char in chars:
            if isinstance(char, Mapping) and isinstance(char.get("name"), str) \
                    and char["name"] not in raw and char.get("value") is not None:
                raw[char["name"]] = char["value"]
    for key in TOP_LEVEL:
        if doc.get(key) is not None:
            raw[key] = doc[key]
    return raw


def source_of(raw: Mapping[str, Any], default: str = DEFAULT_SOURCE) -> str:
    """The record's ``source`` (a source name of the ``usage`` settings), or ``default``.
    422 naming ``usageCharacteristic[source]`` when it is not a source name."""
    value = raw.get("source")
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _SOURCE_NAME.match(value):
        raise ValidationError("usageCharacteristic[source]: a source name is 1-64 letters, "
                              "digits, '_', '.' or '-'", field="usageCharacteristic[source]")
    return value


@dataclass
class Outcome:
    """What became of one record: ``accepted`` (stored, rated), ``duplicate`` (``row``
    is the copy received first) or ``rejected`` (stored with its reason)."""

    row: UsageRecord
    status: str
    reason: str | None = None
    message: str | None = None


def _reject(row: UsageRecord, reason: str, detail: str) -> None:
    row.status = UsageStatus.REJECTED.value
    row.reject_reason = reason
    row.reject_detail = detail[:500]


def _columns(row: UsageRecord, record: Normalized | Rejected) -> None:
    row.record_id = record.record_id[:255] if record.record_id else None
    if isinstance(record, Rejected):
        row.usage_date = row.usage_type = row.metric = row.quantity = row.unit = None
        row.identifier_name = row.identifier_value = row.destination = None
        _reject(row, record.reason, record.detail)
        return
    row.usage_date, row.usage_type = record.usage_date, record.usage_type
    row.metric = record.metric[:64] if record.metric else None
    row.quantity, row.unit = record.quantity, record.unit
    row.identifier_name = record.identifier_name
    row.identifier_value = record.identifier_value[:255]
    row.destination = record.destination[:64] if record.destination else None


def _guide(ctx: Context, row: UsageRecord, config: UsageSettings,
           cache: GuideCache) -> rating.GuidedUsage | None:
    """Closed period and guiding: what rating is handed, or None (``row`` rejected)."""
    assert row.usage_date is not None and row.identifier_value is not None
    assert row.usage_type is not None and row.quantity is not None
    row.product_id = row.billing_account_id = row.party_id = None
    if settings.is_closed(config, row.usage_date):
        _reject(row, RejectReason.PERIOD_CLOSED.value,
                f"usageDate {iso(row.usage_date)} is before closedThrough "
                f"{iso(config.closed_through)}")
        return None
    found = guide(ctx, identifier_name=row.identifier_name or "identifier",
                  identifier_value=row.identifier_value, at=row.usage_date, cache=cache)
    if not isinstance(found, Guided):
        _reject(row, found.reason, found.detail)
        return None
    row.product_id, row.billing_account_id = found.product_id, found.billing_account_id
    if found.party is not None and found.party.get("id"):
        row.party_id = str(found.party["id"])[:64]
    return rating.GuidedUsage(
        key=row.id, usage_date=row.usage_date, usage_type=row.usage_type,
        metric=row.metric, quantity=row.quantity, destination=row.destination,
        product_id=found.product_id, billing_account_id=found.billing_account_id,
        price_version=found.price_version, bundle_id=found.bundle_id)


def _rate(ctx: Context, rows: Sequence[tuple[UsageRecord, rating.GuidedUsage]]) -> None:
    """Rate the guided rows (one call); each becomes ``rated`` or ``rejected``."""
    if not rows:
        return
    results = rating.rate_events(ctx, [guided for _, guided in rows])
    for (row, _), result in zip(rows, results, strict=True):
        if isinstance(result, Unrated):
            _reject(row, result.reason, result.detail)
        else:
            row.status = UsageStatus.RATED.value
            row.reject_reason = row.reject_detail = None


def _insert(ctx: Context, row: UsageRecord) -> UsageRecord | None:
    """Insert ``row`` inside a SAVEPOINT; the copy already stored when the unique
    ``(tenant, dedup_key)`` refuses it (a concurrent request won), else None."""
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:
        existing = queries.by_dedup_key(ctx, row.dedup_key)
        if existing is None:
            raise
        return existing
    return None


def _duplicate(ctx: Context, first: UsageRecord) -> Outcome:
    """A copy of ``first``: counted on it (revenue assurance), answered ``duplicate``."""
    queries.count_duplicates(ctx, {first.id: 1})
    return Outcome(first, "duplicate")


def ingest(ctx: Context, doc: dict[str, Any], *, config: UsageSettings | None = None,
           cache: GuideCache | None = None) -> Outcome:
    """One TMF635 usage document (validated by :class:`~openbss.usage.schemas.Usage`)
    through the pipeline (module docstring), in the caller's transaction."""
    config = config or settings.read(ctx)
    cache = cache if cache is not None else GuideCache()
    raw = flatten(doc)
    source = source_of(raw)
    record = normalize(raw, source=source, settings=config.source(source),
                       default_region=ctx.tenant.default_region)
    existing = queries.by_dedup_key(ctx, record.dedup_key)
    if existing is not None:
        return _duplicate(ctx, existing)
    spec = (doc.get("usageSpecification") or {}).get("id")
    if spec and not queries.existing_specifications(ctx, [spec]):
        raise ValidationError(f"usageSpecification.id: no usageSpecification {spec!r} in "
                              "this tenant", field="usageSpecification.id")
    row = UsageRecord(id=new_id(), tenant_id=ctx.tenant_id, source=source,
                      dedup_key=record.dedup_key, status=UsageStatus.RECEIVED.value,
                      usage_specification_id=spec, received_at=ctx.now,
                      last_update=ctx.now, row_version=1, body=dict(doc))
    _columns(row, record)
    found = _guide(ctx, row, config, cache) if isinstance(record, Normalized) else None
    winner = _insert(ctx, row)
    if winner is not None:
        return _duplicate(ctx, winner)
    if found is not None:
        _rate(ctx, [(row, found)])
    return _outcome(row)


def _outcome(row: UsageRecord) -> Outcome:
    if row.status == UsageStatus.REJECTED.value:
        return Outcome(row, "rejected", row.reject_reason, row.reject_detail)
    return Outcome(row, "accepted")


def reprocess_row(ctx: Context, row: UsageRecord, *, config: UsageSettings | None = None,
                  cache: GuideCache | None = None) -> Outcome:
    """A stored rejected record through the pipeline again (its dedup key, the identity
    it was received with, stays): it becomes ``rated`` or is rejected again, with the
    reason of now."""
    config = config or settings.read(ctx)
    raw = flatten(row.body or {})
    source = row.source
    record = normalize(raw, source=source, settings=config.source(source),
                       default_region=ctx.tenant.default_region)
    row.body = dict(row.body or {})
    row.status = UsageStatus.RECYCLED.value
    _columns(row, record)
    found = None
    if isinstance(record, Normalized):
        row.status = UsageStatus.RECYCLED.value
        found = _guide(ctx, row, config, cache if cache is not None else GuideCache())
    ctx.session.flush()
    if found is not None:
        _rate(ctx, [(row, found)])
    row.last_update = ctx.now
    row.row_version += 1
    return _outcome(row)


# -- the TMF635 resource ------------------------------------------------------------------

def create_usage(ctx: Context, *, data: Usage) -> Outcome:
    return ingest(ctx, data.doc())


def get_usage(ctx: Context, *, usage_id: str) -> UsageRecord:
    return queries.usage(ctx, usage_id)


def list_usage(ctx: Context, *, params: ListParams) -> tuple[list[UsageRecord], int]:
    """A page of usage records; ``relatedParty.id`` finds those guided to a billing
    account or a party (customer) id."""
    related: list[str] = []
    rest = []
    for name, op, values in params.filters:
        if name != queries.RELATED_PARTY:
            rest.append((name, op, values))
        elif op != "eq":
            raise ValidationError(f"{name}: only equality filters", field=name)
        else:
            related.extend(values)
    if related:
        params = ListParams(params.offset, params.limit, params.fields, params.sort,
                            tuple(rest))
    return queries.list_usage(ctx, params, related)


def update_usage(ctx: Context, *, usage_id: str, patch: Any) -> UsageRecord:
    """Correct a rejected record (``description``, ``usageCharacteristic``, and its
    ``usageDate``/``usageType`` — what made it a reject) and process it again."""
    row = queries.usage(ctx, usage_id, lock=True)
    if isinstance(patch, dict):
        for key in patch:
            if key not in PATCHABLE:
                raise ValidationError(
                    f"{key}: only {', '.join(sorted(PATCHABLE))} of a rejected record may "
                    "change", field=key)
    if row.status != UsageStatus.REJECTED.value:
        raise UsageNotEditable(f"usage {row.id} is {row.status}: only a rejected record "
                               "may be corrected (re-rate an accepted one)", field="status")
    stored = dict(row.body or {})
    current = stored if "usageCharacteristic" in stored or not stored else _as_document(stored)
    before = dict(current)
    body = patched(current, patch, Usage).doc()
    row.body = body
    reprocess_row(ctx, row)
    USAGE_STATES.check(UsageStatus.REJECTED, row.status, resource_id=row.id)
    record_change(ctx, api=USAGE_API, resource_name="usage", resource_id=row.id,
                  change="update", before=before, after=body,
                  event_resource=render_usage(ctx, row))
    return row


def delete_usage(ctx: Context, *, usage_id: str) -> None:
    """Delete a record not rated (received, rejected, recycled); a rated or billed one is
    billing's history (409 ``usage_not_deletable``)."""
    row = queries.usage(ctx, usage_id, lock=True)
    if row.status not in (UsageStatus.RECEIVED, UsageStatus.REJECTED, UsageStatus.RECYCLED):
        raise UsageNotDeletable(f"usage {row.id} is {row.status}: rated usage cannot be "
                                "deleted", field="status")
    event = render_usage(ctx, row)
    queries.delete_usage(ctx, row.id)
    record_change(ctx, api=USAGE_API, resource_name="usage", resource_id=usage_id,
                  change="delete", before=row.body, after=None, event_resource=event)


# -- rendering ----------------------------------------------------------------------------

def _as_document(body: Mapping[str, Any]) -> dict[str, Any]:
    """A stored raw record (from a file) as a TMF635 document."""
    doc: dict[str, Any] = {k: body[k] for k in ("description", "usageDate", "usageType",
                                                "usageSpecification") if k in body}
    chars = [{"name": k, "value": v} for k, v in body.items()
             if k not in DOCUMENT_KEYS and v is not None]
    if chars:
        doc["usageCharacteristic"] = chars
    return doc


def _characteristics(row: UsageRecord) -> list[dict[str, Any]]:
    """The characteristics of a record stored without a body (a file import)."""
    pairs: list[tuple[str, Any]] = [
        ("recordId", row.record_id), ("source", row.source),
        (row.identifier_name or "identifier", row.identifier_value),
        ("calledNumber", row.destination), ("metric", row.metric),
        ("quantity", row.quantity), ("unit", row.unit)]
    return [{"name": name, "value": value} for name, value in pairs if value is not None]


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    return {"unit": currency, "value": value}


def _period(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {k: v for k, v in (("startDateTime", iso(start)), ("endDateTime", iso(end))) if v}


def _price_facts(ctx: Context, rated: Any) -> tuple[bool, bool]:
    """(tax included, has an allowance) of the catalog price that rated ``rated`` (its
    ``taxIncluded`` and ``includedQuantity``; read once per price and unit of work)."""
    price_id = getattr(rated, "price_id", None)
    if not price_id:
        return False, False
    cache: dict[tuple[str, str], tuple[bool, bool]] = ctx.session.info.setdefault(
        "openbss.usage.price_facts", {})
    key = (ctx.tenant_id, str(price_id))
    if key not in cache:
        try:
            body = catalog_queries.get_price(ctx, str(price_id)).body or {}
        except NotFoundError:
            cache[key] = (False, False)
        else:
            included = (body.get("includedQuantity") or {}).get("amount")
            try:
                allowance = Decimal(str(included)) > 0 if included is not None else False
            except ArithmeticError:
                allowance = False
            cache[key] = (bool(body.get("taxIncluded")), allowance)
    return cache[key]


def render_rated(ctx: Context, rated: Any, unit: str | None) -> dict[str, Any]:
    """One ``ratedProductUsage`` of a rated record (``rating.models.RatedUsage``)."""
    included, charged = Decimal(rated.included), Decimal(rated.charged)
    detail = getattr(rated, "detail", None) or {}
    tax_included, allowance = _price_facts(ctx, rated)
    if "taxIncluded" in detail:
        tax_included = bool(detail["taxIncluded"])
    if included > 0 and charged == 0:
        tag = "included usage"
    elif included > 0 or detail.get("allowance") or allowance:
        tag = "non included usage"  # beyond an allowance, also once it is used up
    else:
        tag = "usage"
    money = _money(rated.amount, rated.currency)
    out: dict[str, Any] = {
        "@type": "RatedProductUsage",
        "ratingDate": iso(getattr(rated, "rated_at", None) or rated.usage_date),
        "usageRatingTag": tag,
        "isBilled": getattr(rated, "invoice_id", None) is not None,
        "ratingAmountType": "total",
        ("taxIncludedRatingAmount" if tax_included
         else "taxExcludedRatingAmount"): money,
        "productRef": {"id": rated.product_id,
                       "href": href(ctx.base_url, PRODUCT_PATH, rated.product_id),
                       "@referredType": "Product"},
        "ratedAmount": money,
        "ratedQuantity": {"amount": rated.quantity, "units": unit or "unit"},
        "allowanceConsumed": {"amount": included, "units": unit or "unit"},
        "chargedQuantity": {"amount": charged, "units": unit or "unit"},
        "taxCategory": rated.tax_category,
        "billingPeriod": _period(rated.period_start, rated.period_end),
    }
    if rated.tariff:
        out["offerTariffType"] = str(rated.tariff)
        out["tariff"] = rated.tariff
    for key, attr in (("rate", "rate"), ("destination", "destination"),
                      ("priceId", "price_id")):
        if getattr(rated, attr, None):
            out[key] = getattr(rated, attr)
    if getattr(rated, "correction", False):
        out["correction"] = True
    return out


def _customer(ctx: Context, row: UsageRecord, cache: GuideCache) -> dict[str, Any]:
    """The customer a record was guided to, as its account names it (so its type)."""
    party = customer_of(ctx, row.billing_account_id, cache) if row.billing_account_id \
        else None
    if party is not None and party.get("id") == row.party_id:
        return party
    return {"id": row.party_id, "@referredType": "Party", "role": "customer"}


def render_usage(ctx: Context, row: UsageRecord, rated: Sequence[Any] | None = None,
                 cache: GuideCache | None = None) -> dict[str, Any]:
    """The TMF635 usage of a stored record: its document (as received, or built from the
    columns), the normalised date and type, the status, the billing account and customer
    it was guided to, ``ratedProductUsage`` and, when rejected, ``rejectReason``."""
    body = dict(row.body or {})
    doc = body if "usageCharacteristic" in body or not body else _as_document(body)
    if not body:
        doc = {"usageCharacteristic": _characteristics(row)}
    out: dict[str, Any] = {"id": row.id, "href": href(ctx.base_url, USAGE_PATH, row.id),
                           "@type": "Usage", **doc}
    date = iso(row.usage_date) if row.usage_date else _as_date(doc.get("usageDate"))
    out.pop("usageDate", None)
    if date:
        out["usageDate"] = date
    if row.usage_type:
        out["usageType"] = row.usage_type
    out["status"] = row.status
    parties: list[dict[str, Any]] = []
    if row.billing_account_id:
        parties.append(account_ref(ctx, row.billing_account_id))
    if row.party_id:
        parties.append(_customer(ctx, row, cache if cache is not None else GuideCache()))
    parties += [p for p in doc.get("relatedParty") or [] if isinstance(p, dict)]
    if parties:
        out["relatedParty"] = parties
    spec = out.get("usageSpecification")
    if isinstance(spec, dict) and spec.get("id") and not spec.get("href"):
        out["usageSpecification"] = {**spec, "href": href(
            ctx.base_url, USAGE_SPECIFICATION_PATH, str(spec["id"]))}
    if rated is None and row.status in (UsageStatus.RATED, UsageStatus.RERATED,
                                        UsageStatus.BILLED):
        rated = rating.rated_for(ctx, [row.id]).get(row.id, [])
    if rated:
        out["ratedProductUsage"] = [render_rated(ctx, r, row.unit) for r in rated]
    if row.status == UsageStatus.REJECTED and row.reject_reason:
        out["rejectReason"] = {"code": row.reject_reason,
                               "message": row.reject_detail or row.reject_reason}
    out["receivedDate"] = iso(row.received_at)
    out["lastUpdate"] = iso(row.last_update)
    return out


def render_usages(ctx: Context, rows: Sequence[UsageRecord]) -> list[dict[str, Any]]:
    """A page of records, their rated usage read with one query."""
    rated_ids = [r.id for r in rows if r.status in (UsageStatus.RATED, UsageStatus.RERATED,
                                                     UsageStatus.BILLED)]
    rated = rating.rated_for(ctx, rated_ids) if rated_ids else {}
    cache = GuideCache()
    return [render_usage(ctx, row, rated.get(row.id, []), cache) for row in rows]


def _as_date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return value if parsed.tzinfo is not None and "T" in value.upper() else None


__all__ = ["DEFAULT_SOURCE", "Outcome", "SourceName", "create_usage", "delete_usage",
           "flatten", "get_usage", "ingest", "list_usage", "render_usage", "render_usages",
           "reprocess_row", "source_of", "update_usage"]
