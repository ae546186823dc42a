"""Rejected usage records: the list (by reason) and their reprocessing — after the
missing product was ordered, a tariff was added or a record was corrected — and the bulk
ingestion of ``POST /api/v1/usage/bulk``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from openbss.core import jsonx
from openbss.core.context import Context
from openbss.core.errors import BadRequestError, ValidationError
from openbss.core.resources import validation_error
from openbss.core.tmf import ListParams, href, iso
from openbss.usage import queries, settings
from openbss.usage.errors import BulkTooLarge, UnknownRejectReason
from openbss.usage.guiding import GuideCache
from openbss.usage.models import RejectReason, UsageRecord, UsageStatus
from openbss.usage.paths import USAGE_PATH
from openbss.usage.records import DEFAULT_SOURCE, Outcome, flatten, ingest, reprocess_row
from openbss.usage.schemas import Usage

#: The most records one bulk request may carry.
MAX_BULK = 10_000
NDJSON = "application/x-ndjson"


def check_reason(reason: str | None, field: str = "reason") -> str | None:
    """``reason`` when it is a reject reason code (or None); else 422 naming ``field``."""
    if reason is None:
        return None
    codes = [r.value for r in RejectReason]
    if reason not in codes:
        raise UnknownRejectReason(f"{field}: {reason[:40]!r} is not a reject reason ("
                                  f"{', '.join(codes)})", field=field)
    return reason


def list_rejects(ctx: Context, *, params: ListParams) -> tuple[list[UsageRecord], int]:
    """A page of rejected records, oldest first; ``?reason=`` one or more codes."""
    for name, _, values in params.filters:
        if name == "reason":
            for value in values:
                check_reason(value)
    return queries.list_rejects(ctx, params)


def render_reject(ctx: Context, row: UsageRecord) -> dict[str, Any]:
    """A reject as the operator reads it: the reason and message, where it came from, and
    the raw record (what reprocessing will read)."""
    out: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, USAGE_PATH, row.id),
        "reason": row.reject_reason, "message": row.reject_detail,
        "source": row.source, "receivedDate": iso(row.received_at),
        "record": flatten({k: v for k, v in (row.body or {}).items()
                           if k != "guidedParty"}),
    }
    if row.record_id:
        out["recordId"] = row.record_id
    if row.usage_date:
        out["usageDate"] = iso(row.usage_date)
    return out


@dataclass
class ReprocessSummary:
    reprocessed: int = 0
    accepted: int = 0
    rejected: int = 0

    def __post_init__(self) -> None:
        self.by_reason: dict[str, int] = {}

    def to_json(self) -> dict[str, Any]:
        return {"reprocessed": self.reprocessed, "accepted": self.accepted,
                "rejected": self.rejected, "rejectedByReason": dict(sorted(
                    self.by_reason.items()))}


def reprocess(ctx: Context, *, reason: str | None = None) -> ReprocessSummary:
    """Every stored reject (of ``reason``, or all) through the pipeline again, in the
    caller's transaction: those that now guide and rate become ``rated``."""
    check_reason(reason)
    config = settings.read(ctx)
    cache = GuideCache()
    summary = ReprocessSummary()
    for row in queries.rejects_to_reprocess(ctx, reason):
        outcome = reprocess_row(ctx, row, config=config, cache=cache)
        summary.reprocessed += 1
        if outcome.status == "rejected":
            summary.rejected += 1
            key = outcome.reason or "malformed"
            summary.by_reason[key] = summary.by_reason.get(key, 0) + 1
        else:
            summary.accepted += 1
    return summary


# -- bulk ---------------------------------------------------------------------------------

def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def _loads(raw: bytes | str) -> Any:
    """JSON with exact numbers; the bounds are checked per record (below)."""
    return json.loads(raw, parse_float=_decimal, parse_constant=_no_constant)


@dataclass(frozen=True)
class Malformed:
    """A bulk entry that is no usage document: where, why, and its text."""

    index: int
    message: str
    text: str


def parse_bulk(raw: bytes, media_type: str) -> list[dict[str, Any] | Malformed]:
    """The entries of a bulk body: a JSON array of TMF635 usages, or NDJSON (one per
    line; blank lines are skipped). An NDJSON line that is not JSON, an entry that is not
    an object or breaks the kernel's bounds is :class:`Malformed` (that record is
    rejected, not the request); a JSON body that does not parse is a 400."""
    entries: list[Any] = []
    if media_type == NDJSON:
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            if len(entries) >= MAX_BULK:
                entries.append(None)
                break
            try:
                entries.append(_loads(line))
            except (ValueError, RecursionError) as exc:
                entries.append(Malformed(len(entries), f"not JSON ({str(exc)[:120]})",
                                         line.decode("utf-8", "replace")))
    else:
        try:
            value = _loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BadRequestError(f"request body: malformed JSON ({str(exc)[:200]})",
                                  field="body") from None
        if not isinstance(value, list):
            raise ValidationError("the request body must be a JSON array of usages (or "
                                  f"NDJSON sent as {NDJSON})", field="body")
        entries = value
    if len(entries) > MAX_BULK:
        raise BulkTooLarge(f"body: at most {MAX_BULK} records per request", field="body")
    out: list[dict[str, Any] | Malformed] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, Malformed):
            out.append(Malformed(index, entry.message, entry.text))
            continue
        if not isinstance(entry, dict):
            out.append(Malformed(index, "not a JSON object", jsonx.dumps(entry)[:2000]))
            continue
        try:
            jsonx.check_bounds(entry, root=f"[{index}]")
        except jsonx.BoundsError as exc:
            out.append(Malformed(index, f"{exc.field}: {exc.message}", "{}"))
            continue
        out.append(entry)
    return out


@dataclass(frozen=True)
class BulkResult:
    index: int
    status: str  # accepted | duplicate | rejected
    id: str
    reason: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status, "id": self.id}
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        return out


def _store_malformed(ctx: Context, entry: Malformed, source: str) -> Outcome:
    """A malformed entry stored as a reject (nothing is dropped); the same text sent again
    is its duplicate."""
    key = hashlib.sha256(f"{source}\x1fmalformed\x1f{entry.text}".encode()).hexdigest()
    existing = queries.by_dedup_key(ctx, key)
    if existing is not None:
        return Outcome(existing, "duplicate")
    row = UsageRecord(tenant_id=ctx.tenant_id, source=source, dedup_key=key,
                      status=UsageStatus.REJECTED.value,
                      reject_reason=RejectReason.MALFORMED.value,
                      reject_detail=entry.message[:500], received_at=ctx.now,
                      last_update=ctx.now, row_version=1,
                      body={"description": f"malformed bulk entry: {entry.text[:3000]}"})
    ctx.session.add(row)
    ctx.session.flush()
    return Outcome(row, "rejected", row.reject_reason, row.reject_detail)


def _validated(entry: dict[str, Any], index: int) -> dict[str, Any] | Malformed:
    try:
        return Usage.model_validate(entry).doc()
    except PydanticValidationError as exc:
        error = validation_error(exc, data=entry)
        return Malformed(index, error.message, jsonx.dumps(entry)[:3000])


def ingest_bulk(ctx: Context, entries: Sequence[dict[str, Any] | Malformed], *,
                source: str | None = None) -> list[BulkResult]:
    """Every entry through the per-record pipeline, in order, in the caller's transaction;
    one result per entry. ``source``: the default source of entries without one."""
    config = settings.read(ctx)
    cache = GuideCache()
    results = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            entry = _validated(entry, index)
        if isinstance(entry, Malformed):
            outcome = _store_malformed(ctx, entry, source or DEFAULT_SOURCE)
        else:
            doc = entry
            if source and not any(c.get("name") == "source"
                                  for c in doc.get("usageCharacteristic") or []):
                doc = {**doc, "usageCharacteristic": [
                    *(doc.get("usageCharacteristic") or []),
                    {"name": "source", "value": source}]}
            try:
                outcome = ingest(ctx, doc, config=config, cache=cache)
            except ValidationError as exc:  # a bad source name, an unknown specification
                outcome = _store_malformed(ctx, Malformed(index, exc.message,
                                                          jsonx.dumps(doc)[:3000]),
                                           source or DEFAULT_SOURCE)
        results.append(BulkResult(index, outcome.status, outcome.row.id, outcome.reason,
                                  outcome.message))
    return results
