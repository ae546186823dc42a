"""Rejected usage records: the list (by reason) and their reprocessing — after the
missing product was ordered, a tariff was added or a record was corrected — and the bulk
ingestion of ``POST /api/v1/usage/bulk``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from openbss.core import jsonx
from openbss.core.context import Context
from openbss.core.errors import BadRequestError, ValidationError
from openbss.core.resources import validation_error
from openbss.core.tmf import ListParams, href, iso
from openbss.usage import batch, queries
from openbss.usage.errors import BulkTooLarge, UnknownRejectReason
from openbss.usage.models import RejectReason, UsageRecord
from openbss.usage.paths import USAGE_PATH
from openbss.usage.records import DEFAULT_SOURCE, flatten
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


def _normalized(row: UsageRecord) -> dict[str, Any]:
    """A reject stored without its raw record (a file's record that normalised but did
    not guide or rate): the normalised fields reprocessing reads."""
    fields = {"recordId": row.record_id, "usageDate": iso(row.usage_date),
              "usageType": row.usage_type, "metric": row.metric, "quantity": row.quantity,
              "unit": row.unit, "destination": row.destination}
    if row.identifier_name:
        fields[row.identifier_name] = row.identifier_value
    return {k: v for k, v in fields.items() if v is not None}


def render_reject(ctx: Context, row: UsageRecord) -> dict[str, Any]:
    """A reject as the operator reads it: the reason and message, where it came from, and
    the raw record (what reprocessing will read)."""
    out: dict[str, Any] = {
        "id": row.id, "href": href(ctx.base_url, USAGE_PATH, row.id),
        "reason": row.reject_reason, "message": row.reject_detail,
        "source": row.source, "receivedDate": iso(row.received_at),
        "record": flatten(row.body) if row.body else _normalized(row),
    }
    if row.record_id:
        out["recordId"] = row.record_id
    if row.usage_date:
        out["usageDate"] = iso(row.usage_date)
    return out


def reprocess(ctx: Context, *, reason: str | None = None) -> dict[str, Any]:
    """Every stored reject (of ``reason``, or all) through the pipeline again
    (``usage.batch.reprocess``), in the caller's transaction: those that now guide and
    rate become ``rated``. The summary: read, accepted, duplicates, rejected,
    rejectedByReason, rated, amounts (exact decimal strings per currency)."""
    check_reason(reason)
    return batch.reprocess(ctx, reason=reason).to_json()


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
                                         line.decode("utf-8", "replace")[:2000]))
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
            out.append(Malformed(index, "not a JSON object (a TMF635 usage)",
                                 jsonx.dumps(entry)[:2000]))
            continue
        try:
            jsonx.check_bounds(entry, root=f"[{index}]")
        except jsonx.BoundsError as exc:
            out.append(Malformed(index, f"{exc.field}: {exc.message}",
                                 f"[{index}] beyond the bounds"))
            continue
        out.append(entry)
    return out


def result_json(result: Any) -> dict[str, Any]:
    """One bulk result: ``index``, ``status``, ``id`` and, when rejected, ``reason`` and
    ``message``."""
    out: dict[str, Any] = {"index": result.index, "status": result.status, "id": result.id}
    if result.reason:
        out["reason"] = result.reason
    if result.message:
        out["message"] = result.message
    return out


def _validated(entry: dict[str, Any], index: int) -> dict[str, Any] | Malformed:
    try:
        return Usage.model_validate(entry).doc()
    except PydanticValidationError as exc:
        error = validation_error(exc, data=entry)
        return Malformed(index, error.message, jsonx.dumps(entry))


def ingest_bulk(ctx: Context, entries: Sequence[dict[str, Any] | Malformed], *,
                source: str | None = None) -> list[Any]:
    """Every entry through the pipeline (``usage.batch.ingest_rows``: vectorized, a few
    statements per request), in order, in the caller's transaction; one
    ``batch.RecordResult`` per entry. An entry that is no TMF635 usage (unknown
    attributes, wrong JSON types) is stored rejected ``malformed`` with what is wrong.
    ``source``: the source of entries that name none."""
    checked = [_validated(e, i) if isinstance(e, dict) else e for i, e in enumerate(entries)]
    rows = [e.text if isinstance(e, Malformed) else e for e in checked]
    results = batch.ingest_rows(ctx, rows, source=source or DEFAULT_SOURCE)
    out = []
    for entry, result in zip(checked, results, strict=True):
        if isinstance(entry, Malformed) and result.status == batch.REJECTED and result.id:
            queries.set_reject_detail(ctx, result.id, entry.message[:500])
            result = replace(result, message=entry.message)
        out.append(result)
    return out
