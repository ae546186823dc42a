"""The batch pipeline (Polars): files of any size, the bulk API, reprocessing of rejects.

One chunk (up to :data:`CHUNK_ROWS` records) at a time, set-based throughout:

1. **map** (``usage.mapping``: the file's columns → canonical keys) and **normalise**:
   :func:`normalize_frame` computes the common forms with Polars expressions and sends the
   distinct values of each column through the very functions of ``usage.normalize``
   (cached), so every row equals ``normalize()`` of that row (a randomized test proves
   it); a row any step cannot take the fast way (a rare timestamp form, a bad value) goes
   through ``normalize()`` itself. NDJSON lines and bulk records are normalised one by
   one (they are Python objects already).
2. **dedupe** within the chunk (the first copy wins) and against the database: one
   statement per chunk finds the keys already stored; the insert itself is
   ``ON CONFLICT DO NOTHING`` on the unique ``(tenant, dedup_key)``, so a copy that a
   concurrent import stored in between is caught too (the chunk's SAVEPOINT is rolled
   back and the chunk processed again, now seeing it as a duplicate).
3. **closedThrough** (``usage`` settings): usage dated before it → ``period_closed``.
4. **guide** with ``ordering.in_force.identifier_interval_columns`` (a join on the
   identifier, ``usage_date`` within the interval; :class:`Guide` reads the intervals of
   the identifiers the chunk holds, each once per run, or of every claim when they are
   most of them): none → ``unknown_identifier``; held by a suspended product →
   ``product_inactive``.
5. **rate** with ``rating.service.rate_frame`` (the vectorized engine; rated rows
   written in bulk, ``COPY`` on PostgreSQL; ``unrated_destination`` → rejected).
6. **write** the usage records in bulk and, for files, **commit** the chunk: a crash
   loses at most the chunk in flight, and importing the file again is idempotent.

Every record read is counted exactly once: ``read = accepted + duplicates + rejected``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from openbss.core import jsonx
from openbss.core.context import Context
from openbss.core.db import new_id, refresh_statistics
from openbss.core.runtime import batch_gc
from openbss.usage import normalize as norm
from openbss.usage import queries
from openbss.usage.guiding import GuideCache, customer_of
from openbss.usage.mapping import FileMapping, read_csv, read_ndjson
from openbss.usage.models import RejectReason, UsageRecord, UsageStatus
from openbss.usage.normalize import Normalized, Rejected, normalize
from openbss.usage.settings import SourceSettings, UsageSettings, is_closed
from openbss.usage.settings import read as read_settings

CHUNK_ROWS = 100_000
QUANTITY = pl.Decimal(38, norm.QUANTITY_SCALE)
UTC_US = pl.Datetime("us", "UTC")
#: The normalised frame every path builds (one row per accepted record).
NORMAL_SCHEMA: dict[str, Any] = {
    "row": pl.Int64, "source": pl.String, "record_id": pl.String, "dedup_key": pl.String,
    "usage_date": UTC_US, "usage_type": pl.String, "metric": pl.String,
    "quantity": QUANTITY, "unit": pl.String, "identifier_name": pl.String,
    "identifier_value": pl.String, "destination": pl.String,
}
ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


# -- results -------------------------------------------------------------------------------

@dataclass
class Summary:
    """What a run did. ``amounts``: the rated amounts per currency (full precision)."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rated: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: Summary) -> None:
        self.read += other.read
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.rated += other.rated
        for reason, n in other.rejected_by_reason.items():
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + n
        for currency, amount in other.amounts.items():
            self.amounts[currency] = self.amounts.get(currency, Decimal(0)) + amount

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys ``openbss usage import --json`` prints; amounts are exact
        decimal strings."""
        return {"read": self.read, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "rejectedByReason": dict(sorted(self.rejected_by_reason.items())),
                "rated": self.rated,
                "amounts": {c: _plain(a) for c, a in sorted(self.amounts.items())}}


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """One bulk record's outcome, in input order: ``accepted`` (stored; rated unless
    rating rejected it — then it is ``rejected``), ``duplicate`` (``id`` is the copy
    stored first) or ``rejected`` (stored with ``reason``)."""

    index: int
    status: str
    id: str | None
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Reading:
    """How records of one source are read: the source's settings and the tenant's
    region, plus what a file mapping adds (timestamp format, zone, units)."""

    source: str
    settings: SourceSettings
    default_region: str
    timestamp_format: str | None = None
    time_zone: str | None = None
    units: Mapping[str, str] = field(default_factory=dict)

    @property
    def zone(self) -> str:
        return self.time_zone or self.settings.time_zone

    @property
    def region(self) -> str:
        return self.settings.default_region or self.default_region

    def scalar(self, raw: Mapping[str, Any]) -> Normalized | Rejected:
        return normalize(raw, source=self.source, settings=self.settings,
                         default_region=self.default_region,
                         timestamp_format=self.timestamp_format, time_zone=self.time_zone,
                         units=self.units or None)


# -- normalisation of a frame --------------------------------------------------------------

_NAIVE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}$"
_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$"
_EPOCH = r"^\d{1,10}$"


def _strip(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _through(frame: pl.DataFrame, columns: Sequence[str], fn: Callable[..., Any],
             dtype: Any, name: str) -> pl.DataFrame:
    """``frame`` with ``name`` = ``fn(*row values of columns)``, computed once per distinct
    combination (a failure of ``fn`` — :class:`~openbss.usage.normalize._Reject` — gives
    null and ``_slow_<name>`` true)."""
    distinct = frame.select(columns).unique()
    out: list[Any] = []
    slow: list[bool] = []
    for values in distinct.iter_rows():
        try:
            out.append(fn(*values))
            slow.append(False)
        except norm._Reject:
            out.append(None)
            slow.append(True)
    lookup = distinct.with_columns(pl.Series(name, out, dtype=dtype),
                                   pl.Series(f"_slow_{name}", slow, dtype=pl.Boolean))
    return frame.join(lookup, on=list(columns), how="left", nulls_equal=True,
                      maintain_order="left")


def _fast_or_through(df: pl.DataFrame, fast: pl.Expr, columns: Sequence[str],
                     fn: Callable[..., Any], dtype: Any, name: str) -> pl.DataFrame:
    """``name`` from the Polars expression ``fast`` where it gives a value, else (null)
    through :func:`_through` for those rows only."""
    df = df.with_columns(fast.cast(dtype).alias(name), pl.lit(False).alias(f"_slow_{name}"))
    rest = df.filter(pl.col(name).is_null()).select("row", *columns)
    if rest.height == 0:
        return df
    done = _through(rest, columns, fn, dtype, name).select("row", name, f"_slow_{name}")
    return df.update(done, on="row", how="left", include_nulls=False)


_PRINTABLE = r"^[!-~]+$"  # printable ASCII, no space: Python's strip() leaves it as it is
_SECONDS = frozenset({"s", "sec", "second", "seconds"})
_BYTES = frozenset({"b", "byte", "bytes", "octet", "octets"})


def _date_expr(reading: Reading) -> pl.Expr:
    text = pl.col("usageDate")
    naive = (text.str.replace("T", " ", literal=True)
             .str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us"))
    local = (naive.dt.replace_time_zone("UTC") if reading.zone in ("UTC", "Etc/UTC")
             else naive.dt.replace_time_zone(reading.zone, ambiguous="earliest",
                                             non_existent="null")
             .dt.convert_time_zone("UTC"))
    offset = (text.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
              .str.to_datetime("%Y-%m-%d %H:%M:%S%:z", strict=False, time_unit="us")
              .dt.convert_time_zone("UTC"))
    epoch = pl.from_epoch(text.cast(pl.Int64, strict=False), time_unit="s") \
        .dt.replace_time_zone("UTC")
    # zone rules agree with zoneinfo's for these years (beyond 2037 Polars' tz database
    # stops applying daylight-saving time); other years take the scalar way
    in_range = naive.dt.year().is_between(1971, 2037)
    parsed = (pl.when(text.str.contains(_NAIVE) & in_range).then(local)
              .when(text.str.contains(_OFFSET)).then(offset)
              .when(text.str.contains(_EPOCH)).then(epoch)
              .otherwise(None).cast(UTC_US))
    # a date outside the accepted years takes the scalar way, which rejects it
    return pl.when(parsed.is_between(pl.lit(norm.FIRST_DATE, dtype=UTC_US),
                                     pl.lit(norm.END_DATE, dtype=UTC_US), closed="left")
                   ).then(parsed).otherwise(None)


def _quantity_fn(reading: Reading) -> Callable[..., Decimal]:
    units = reading.units or None

    def quantity(usage_type: str | None, duration: Any, volume: Any, qty: Any, unit: Any,
                 count: Any) -> Any:
        if usage_type is None:
            raise norm._Reject("", None, "")
        raw = {"duration": duration, "volume": volume, "quantity": qty, "unit": unit,
               "count": count}
        value, base = norm.quantity_of(raw, usage_type, units)
        norm._fits(value)
        return {"quantity": value, "unit": base}

    return quantity


def normalize_frame(frame: pl.DataFrame, reading: Reading, *, offset: int = 0,
                    ) -> tuple[pl.DataFrame, list[tuple[int, Rejected]]]:
    """A chunk of canonical String columns (``usage.mapping``) in normal form: the frame
    of accepted rows (:data:`NORMAL_SCHEMA`; ``row`` = ``offset`` + position) and the
    rejected rows — each row exactly what :func:`~openbss.usage.normalize.normalize`
    gives for it."""
    if frame.height == 0:
        return pl.DataFrame(schema=NORMAL_SCHEMA), []
    cols = set(frame.columns)
    missing = [k for k in ("recordId", "usageDate", "usageType", "metric", "quantity",
                           "unit", "duration", "volume", "count", "calledNumber",
                           "callingNumber") if k not in cols]
    df = frame.with_columns([pl.lit(None, dtype=pl.String).alias(k) for k in missing])
    df = df.with_columns([pl.col(c).cast(pl.String) for c in df.columns
                          if df.schema[c] != pl.String])
    df = df.with_row_index("row", offset=offset).with_columns(pl.col("row").cast(pl.Int64))

    # dedup key and record id (every value is distinct: printable ASCII ids as they are,
    # others stripped by Python)
    rid = pl.col("recordId")
    plain = rid.str.contains(r"^[!-~]+$").fill_null(False)
    df = df.with_columns(pl.when(plain).then(rid).otherwise(None).alias("_rid"),
                         (rid.is_not_null() & ~plain).alias("_rid_slow"))
    record_ids = df.get_column("_rid").to_list()
    if df.get_column("_rid_slow").any():
        raw_ids = df.get_column("recordId").to_list()
        record_ids = [r if r is not None else _strip(v)
                      for r, v in zip(record_ids, raw_ids, strict=True)]
    fields = reading.settings.dedup_fields
    keys: list[str | None]
    if fields:
        columns = [df.get_column(f).to_list() if f in df.columns else [None] * df.height
                   for f in fields]
        keys = [hashlib.sha256("\x1f".join([reading.source, *(
            "" if v is None else str(v).strip() for v in values)]).encode()).hexdigest()
            for values in zip(*columns, strict=True)]
    else:
        prefix = reading.source + "\x1f"
        keys = [hashlib.sha256((prefix + rid).encode()).hexdigest() if rid else None
                for rid in record_ids]
    df = df.with_columns(pl.Series("record_id", record_ids, dtype=pl.String),
                         pl.Series("dedup_key", keys, dtype=pl.String))

    # date: Polars for the common forms, anything else the slow way; with a mapping's
    # strptime format, distinct values through the scalar parser
    if reading.timestamp_format is None:
        df = df.with_columns(_date_expr(reading).alias("usage_date"))
    else:
        zone, fmt = reading.zone, reading.timestamp_format
        df = _through(df, ["usageDate"], lambda v: norm.parse_date(v, zone, fmt), UTC_US,
                      "usage_date")

    # usage type and metric: distinct pairs through the scalar rule
    def usage_type(given: str | None, metric: str | None) -> dict[str, Any]:
        kind, name = norm._usage_type({"usageType": given, "metric": metric})
        return {"usage_type": kind, "metric": name}

    type_dtype = pl.Struct({"usage_type": pl.String, "metric": pl.String})
    given, metric = pl.col("usageType"), pl.col("metric")
    kind = given.replace_strict(dict(norm.USAGE_TYPE_ALIASES), default=None,
                                return_dtype=pl.String)
    clean_metric = metric.is_null() | metric.str.contains(_PRINTABLE).fill_null(False)
    fast_type = pl.when(kind.is_not_null() & clean_metric
                        & ((kind != "event") | metric.is_not_null())).then(
        pl.struct(kind.alias("usage_type"), metric.alias("metric"))).otherwise(None)
    df = _fast_or_through(df, fast_type, ["usageType", "metric"], usage_type, type_dtype,
                          "_type")
    df = df.with_columns(pl.col("_type").struct.field("usage_type").alias("usage_type"),
                         pl.col("_type").struct.field("metric").alias("_metric"))

    # identifier: the first non-empty identifier column, in IDENTIFIERS order
    id_columns: dict[str, list[str]] = {}
    for name in frame.columns:
        canonical = norm.IDENTIFIER_KEYS.get(norm.squash(name))
        if name not in norm.KNOWN_KEYS and canonical is not None:
            id_columns.setdefault(canonical, []).append(name)
    stripped: dict[str, str] = {}
    for names in id_columns.values():
        for name in names:
            value = pl.col(name)
            df = _fast_or_through(df, pl.when(value.str.contains(_PRINTABLE)).then(value),
                                  [name], _strip, pl.String, f"_id_{name}")
            stripped[name] = f"_id_{name}"
    name_expr: pl.Expr = pl.lit(None, dtype=pl.String)
    value_expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for canonical in reversed(norm._IDENTIFIER_ORDER):
        for col in reversed(id_columns.get(canonical, [])):
            present = pl.col(stripped[col]).is_not_null()
            name_expr = pl.when(present).then(pl.lit(canonical)).otherwise(name_expr)
            value_expr = pl.when(present).then(pl.col(stripped[col])).otherwise(value_expr)
    df = df.with_columns(name_expr.alias("identifier_name"),
                         value_expr.alias("_identifier"))
    region = reading.region

    def identifier(name: str | None, value: str | None) -> str | None:
        if name is None or value is None:
            raise norm._Reject("", None, "")
        return norm.identifier_value(name, name, value, region)

    ident = pl.col("_identifier")
    fast_ident = pl.when((pl.col("identifier_name") != "msisdn")
                         | ident.str.contains(norm.E164_FORM.pattern)).then(ident)
    df = _fast_or_through(df, fast_ident, ["identifier_name", "_identifier"], identifier,
                          pl.String, "identifier_value")

    # quantity: whole seconds / bytes by Polars, other forms through the scalar rule
    qty_dtype = pl.Struct({"quantity": QUANTITY, "unit": pl.String})
    fast_qty: pl.Expr = pl.lit(None, dtype=qty_dtype)
    digits = r"^\d{1,18}$"
    for usage, column, units, base in (("voice", "duration", _SECONDS, "second"),
                                       ("data", "volume", _BYTES, "byte")):
        default = (reading.units or {}).get(column, "s" if usage == "voice" else "b")
        if default.strip().lower() not in units:
            continue
        fast_qty = pl.when((pl.col("usage_type") == usage)
                           & pl.col(column).str.contains(digits).fill_null(False)).then(
            pl.struct(pl.col(column).cast(pl.Int64).cast(QUANTITY).alias("quantity"),
                      pl.lit(base).alias("unit"))).otherwise(fast_qty)
    df = _fast_or_through(df, fast_qty, ["usage_type", "duration", "volume", "quantity",
                                         "unit", "count"],
                          _quantity_fn(reading), qty_dtype, "_qty")

    # numbers: as given in E.164 form, else E.164 when valid, else as dialled
    called = pl.col("calledNumber")
    e164_form = called.str.contains(norm.E164_FORM.pattern).fill_null(False)
    others = df.filter(~e164_form)
    if others.height:
        others = _through(others.select("row", "calledNumber"), ["calledNumber"],
                          lambda v: norm.dialled(v, region), pl.String, "destination")
        df = df.join(others.select("row", "destination", "_slow_destination"), on="row",
                     how="left", maintain_order="left")
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("destination"),
                             pl.lit(None, dtype=pl.Boolean).alias("_slow_destination"))
    df = df.with_columns(pl.when(e164_form).then(called).otherwise(pl.col("destination"))
                         .alias("destination"))

    slow = (pl.col("usage_date").is_null() | pl.col("dedup_key").is_null()
            | pl.col("_slow__type") | pl.col("_slow_identifier_value")
            | pl.col("_slow__qty") | pl.col("_slow_destination").fill_null(False))
    fast = df.filter(~slow).select(
        "row", pl.lit(reading.source, dtype=pl.String).alias("source"), "record_id",
        "dedup_key", "usage_date", "usage_type", pl.col("_metric").alias("metric"),
        pl.col("_qty").struct.field("quantity").alias("quantity"),
        pl.col("_qty").struct.field("unit").alias("unit"), "identifier_name",
        "identifier_value", "destination")
    rest = df.filter(slow).select([*frame.columns, "row"])
    accepted: list[Normalized] = []
    accepted_rows: list[int] = []
    rejected: list[tuple[int, Rejected]] = []
    for record in rest.iter_rows(named=True):
        row = record.pop("row")
        result = reading.scalar({k: v for k, v in record.items() if v is not None})
        if isinstance(result, Rejected):
            rejected.append((row, result))
        else:
            accepted.append(result)
            accepted_rows.append(row)
    if accepted:
        fast = pl.concat([fast, frame_of(accepted, accepted_rows)]).sort("row")
    return fast, rejected


def frame_of(records: Sequence[Normalized], rows: Sequence[int]) -> pl.DataFrame:
    """Accepted records as a :data:`NORMAL_SCHEMA` frame."""
    return pl.DataFrame({
        "row": list(rows), "source": [r.source for r in records],
        "record_id": [r.record_id for r in records],
        "dedup_key": [r.dedup_key for r in records],
        "usage_date": [r.usage_date for r in records],
        "usage_type": [r.usage_type for r in records],
        "metric": [r.metric for r in records],
        "quantity": [r.quantity for r in records], "unit": [r.unit for r in records],
        "identifier_name": [r.identifier_name for r in records],
        "identifier_value": [r.identifier_value for r in records],
        "destination": [r.destination for r in records],
    }, schema=NORMAL_SCHEMA)


# -- guiding -------------------------------------------------------------------------------

INTERVAL_SCHEMA: dict[str, Any] = {
    "identifier_name": pl.String, "identifier_value": pl.String, "product_id": pl.String,
    "billing_account_id": pl.String, "bundle_id": pl.String, "start": UTC_US,
    "end": UTC_US, "kind": pl.String, "price_version": pl.String}


def _month(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(at: datetime) -> datetime:
    return (at + timedelta(days=32)).replace(day=1)


#: A month's intervals are read for the identifiers asked for (``IN`` lists) while
#: they are at most this share of the tenant's claims (and always for up to
#: ``ordering.queries.IN_CHUNK`` of them); beyond it, for every claim of the month at
#: once (one scan is cheaper than looking most of them up one by one).
BY_IDENTIFIER_SHARE = 0.5


@dataclass
class _Month:
    """The identifier intervals of one month read so far: those of ``keys`` ((name,
    value) pairs, found or not), or of every identifier (``keys`` None)."""

    table: pl.DataFrame
    keys: set[tuple[str, str]] | None = field(default_factory=set)


def _naive_utc(instants: list[datetime]) -> list[datetime]:
    """Aware instants as naive UTC ones (Polars takes those several times faster)."""
    return [at.replace(tzinfo=None) if at.tzinfo is UTC
            else at.astimezone(UTC).replace(tzinfo=None) for at in instants]


def _interval_frame(columns: Mapping[str, list[Any]]) -> pl.DataFrame:
    """``ordering.in_force.identifier_interval_columns`` as a frame of
    :data:`INTERVAL_SCHEMA` (in their order: by product, claim and start)."""
    naive = pl.Datetime("us")
    return pl.DataFrame({
        "identifier_name": columns["name"], "identifier_value": columns["value"],
        "product_id": columns["product_id"],
        "billing_account_id": columns["billing_account_id"],
        "bundle_id": columns["parent_id"], "start": _naive_utc(columns["start"]),
        "end": _naive_utc(columns["end"]), "kind": columns["kind"],
        "price_version": columns["price_version"],
    }, schema={**INTERVAL_SCHEMA, "start": naive, "end": naive}).with_columns(
        pl.col("start", "end").dt.replace_time_zone("UTC"))


@dataclass
class Guide:
    """The identifier intervals of a run, fetched per calendar month (UTC) of usage
    dates and kept for the run (a file's chunks share them). ``keys``: those of these
    identifiers ((name, value) pairs: a chunk's), each read once — the next chunk reads
    only the identifiers new to the run; ``values``: only these identifier values, read
    afresh; neither: every identifier."""

    months: dict[datetime, _Month] = field(default_factory=dict)
    claims: int | None = None  # how many claims the tenant has (counted once)
    cache: GuideCache = field(default_factory=GuideCache)  # accounts' customers

    def party_of(self, ctx: Context, account_id: str) -> str | None:
        """The id of the account's customer (``usage.guiding.customer_of``), or None."""
        party = customer_of(ctx, account_id, self.cache)
        return str(party["id"])[:64] if party and party.get("id") else None

    def intervals(self, ctx: Context, lo: datetime, hi: datetime,
                  values: Sequence[str] | None = None, *,
                  keys: Iterable[tuple[str, str]] | None = None) -> pl.DataFrame:
        from openbss.ordering.in_force import identifier_interval_columns

        wanted = None if keys is None else set(keys)
        frames = []
        month = _month(lo)
        while month <= hi:
            end = _next_month(month)
            if values is not None and wanted is None:
                frames.append(_interval_frame(identifier_interval_columns(
                    ctx, start=month, end=end, values=values)))
            else:
                frames.append(self._month(ctx, month, end, wanted))
            month = end
        # by start; an identifier's intervals of one start (only if two claims on it
        # overlapped) in the order of identifier_intervals
        return pl.concat(frames).sort("start", maintain_order=True)

    def _month(self, ctx: Context, month: datetime, end: datetime,
               wanted: set[tuple[str, str]] | None) -> pl.DataFrame:
        """The month's table, with the intervals of ``wanted`` (None: of every
        identifier) read if they were not yet."""
        from openbss.ordering import queries as ordering
        from openbss.ordering.in_force import identifier_interval_columns

        known = self.months.get(month)
        if known is not None and known.keys is None:
            return known.table
        if known is None:
            known = self.months[month] = _Month(pl.DataFrame(schema=INTERVAL_SCHEMA))
        assert known.keys is not None
        new = None if wanted is None else wanted - known.keys
        if new is not None:
            if not new:
                return known.table
            asked = len(known.keys) + len(new)
            if asked > ordering.IN_CHUNK:
                if self.claims is None:
                    self.claims = ordering.count_claims(ctx)
                if asked > BY_IDENTIFIER_SHARE * self.claims:
                    new = None
        if new is None:  # every identifier of the month
            known.table = _interval_frame(identifier_interval_columns(
                ctx, start=month, end=end))
            known.keys = None
            return known.table
        by_name: dict[str, list[str]] = {}
        for name, value in new:
            by_name.setdefault(name, []).append(value)
        # by name and value: the index of the claims (and only their products' history)
        found = [known.table] + [
            _interval_frame(identifier_interval_columns(ctx, start=month, end=end,
                                                        name=name, values=values))
            for name, values in sorted(by_name.items())]
        known.table = pl.concat(found, rechunk=True)
        known.keys |= new
        return known.table


def guide_frame(ctx: Context, normal: pl.DataFrame, guide: Guide, *,
                values: Sequence[str] | None = None) -> pl.DataFrame:
    """``normal`` with ``product_id``, ``billing_account_id``, ``bundle_id``,
    ``price_version`` and ``_guide`` (null when guided, else the reject reason)."""
    if normal.height == 0:
        return normal.with_columns(
            [pl.lit(None, dtype=INTERVAL_SCHEMA[c]).alias(c) for c in
             ("product_id", "billing_account_id", "bundle_id", "price_version", "kind")]
            + [pl.lit(None, dtype=pl.String).alias("_guide")])
    lo = normal.get_column("usage_date").min()
    hi = normal.get_column("usage_date").max()
    assert isinstance(lo, datetime) and isinstance(hi, datetime)
    keys = normal.select("identifier_name", "identifier_value").drop_nulls().unique()
    if values is not None:
        keys = keys.filter(pl.col("identifier_value").is_in(list(values)))
    table = guide.intervals(ctx, lo, hi, keys=keys.iter_rows())
    joined = normal.sort("usage_date").join_asof(
        table, left_on="usage_date", right_on="start",
        by=["identifier_name", "identifier_value"], strategy="backward",
        check_sortedness=False).sort("row")
    inside = pl.col("end").is_not_null() & (pl.col("usage_date") < pl.col("end"))
    return joined.with_columns(
        pl.when(~inside).then(pl.lit(RejectReason.UNKNOWN_IDENTIFIER.value))
        .when(pl.col("kind") != "active").then(pl.lit(RejectReason.PRODUCT_INACTIVE.value))
        .otherwise(None).alias("_guide"),
    ).with_columns([pl.when(pl.col("_guide").is_null()).then(pl.col(c)).otherwise(None)
                    .alias(c) for c in ("product_id", "billing_account_id", "bundle_id",
                                        "price_version")]).drop("start", "end")


def _guide_detail(reason: str, name: str, value: str, at: datetime) -> str:
    if reason == RejectReason.PRODUCT_INACTIVE.value:
        return f"{name} {value}: its product was suspended at {_iso(at)}"
    return f"{name} {value}: no product held it at {_iso(at)}"


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else ""


def rate(ctx: Context, guided: pl.DataFrame) -> pl.DataFrame:
    """``rating.service.rate_frame`` of the guided rows (``id`` is the record's key)."""
    from openbss.rating import service as rating

    if guided.height == 0:
        return pl.DataFrame(schema={"status": pl.String, "reason": pl.String,
                                    "detail": pl.String, "currency": pl.String,
                                    "amount": pl.Decimal(38, 18)})
    return rating.rate_frame(ctx, guided.select(
        pl.col("id").alias("key"), "usage_date", "usage_type", "metric", "quantity",
        "destination", "product_id", "billing_account_id", "price_version", "bundle_id"))


# -- one chunk -----------------------------------------------------------------------------

class _Race(Exception):
    """A concurrent writer stored some of the chunk's keys after we looked."""


@dataclass
class Chunk:
    """The outcome of one chunk: the summary and, per input row, (status, id, reason,
    detail)."""

    summary: Summary
    outcomes: dict[int, tuple[str, str | None, str | None, str | None]]


def process(ctx: Context, normal: pl.DataFrame, rejects: Sequence[tuple[int, Rejected]],
            *, config: UsageSettings, guide: Guide, read: int,
            raws: Mapping[int, Mapping[str, Any]] | None = None,
            values: Sequence[str] | None = None, attempts: int = 3) -> Chunk:
    """Dedupe, close, guide, rate and store one normalised chunk in the caller's
    transaction (a SAVEPOINT around the writes: a concurrent copy stored meanwhile makes
    the chunk run again). ``raws``: the raw records to store as the body of every row
    (the bulk API); without it only rejects keep their raw record."""
    for attempt in range(attempts):
        try:
            with ctx.session.begin_nested():
                return _process(ctx, normal, rejects, config=config, guide=guide,
                                read=read, raws=raws, values=values)
        except _Race:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _process(ctx: Context, normal: pl.DataFrame, rejects: Sequence[tuple[int, Rejected]],
             *, config: UsageSettings, guide: Guide, read: int,
             raws: Mapping[int, Mapping[str, Any]] | None,
             values: Sequence[str] | None) -> Chunk:
    summary = Summary(read=read)
    outcomes: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    # dedupe: within the chunk (first copy wins), then against the database
    keys = pl.concat([
        normal.select("row", "dedup_key"),
        pl.DataFrame({"row": [r for r, _ in rejects],
                      "dedup_key": [x.dedup_key for _, x in rejects]},
                     schema={"row": pl.Int64, "dedup_key": pl.String})]).sort("row")
    firsts = keys.unique("dedup_key", keep="first", maintain_order=True)
    existing = queries.existing_keys(ctx, firsts.get_column("dedup_key").to_list())
    ids: dict[str, str] = {}
    for row, key in firsts.iter_rows():
        if key in existing:
            outcomes[row] = (DUPLICATE, existing[key], None, None)
        else:
            ids[key] = new_id()
    first_rows = set(firsts.get_column("row").to_list())
    for row, key in keys.iter_rows():
        if row not in first_rows:
            outcomes[row] = (DUPLICATE, existing.get(key) or ids.get(key), None, None)
    fresh_rows = {row for row, key in firsts.iter_rows() if key in ids}
    new = normal.filter(pl.col("row").is_in(list(fresh_rows)))
    new = new.with_columns(pl.col("dedup_key").replace_strict(ids, return_dtype=pl.String)
                           .alias("id"))
    # closedThrough
    closed_reason: pl.Expr = pl.lit(None, dtype=pl.String)
    if config.closed_through is not None:
        closed_reason = pl.when(pl.col("usage_date") < config.closed_through).then(
            pl.lit(RejectReason.PERIOD_CLOSED.value)).otherwise(None)
    new = new.with_columns(closed_reason.alias("_closed"))
    open_ = new.filter(pl.col("_closed").is_null())
    guided = guide_frame(ctx, open_, guide, values=values)
    to_rate = guided.filter(pl.col("_guide").is_null())
    result = rate(ctx, to_rate)
    rated = to_rate.select("row", "id").with_columns(
        result.get_column("status").alias("_status"),
        result.get_column("reason").alias("_reason"),
        result.get_column("detail").alias("_detail"))
    for currency, amount in result.filter(pl.col("status") == "rated").group_by(
            "currency").agg(pl.col("amount").sum()).iter_rows():
        summary.amounts[currency] = summary.amounts.get(currency, Decimal(0)) + amount
    # the rows to store, one frame: each row's status, reason and detail (rating's,
    # guiding's or closedThrough's), its product, account and customer, its body
    text = pl.String
    rated_ok = pl.col("_status") == "rated"
    guide_rejects = guided.filter(pl.col("_guide").is_not_null())
    closed = config.closed_through
    closed_rows = new.filter(pl.col("_closed").is_not_null()).get_column("row").to_list()
    outcome = pl.concat([
        rated.select("row", pl.when(rated_ok).then(pl.lit(UsageStatus.RATED.value))
                     .otherwise(pl.lit(UsageStatus.REJECTED.value)).alias("status"),
                     pl.when(rated_ok).then(None).otherwise(pl.col("_reason").fill_null(
                         RejectReason.UNRATED_DESTINATION.value)).cast(text)
                     .alias("reject_reason"),
                     pl.when(rated_ok).then(None).otherwise(pl.col("_detail")).cast(text)
                     .alias("reject_detail")),
        _rejected(guide_rejects.get_column("row").to_list(),
                  guide_rejects.get_column("_guide").to_list(),
                  [_guide_detail(*values) for values in guide_rejects.select(
                      "_guide", "identifier_name", "identifier_value", "usage_date")
                   .iter_rows()]),
        _rejected(closed_rows, [RejectReason.PERIOD_CLOSED.value] * len(closed_rows),
                  [f"usageDate is before closedThrough {_iso(closed)}"] * len(closed_rows))])
    stored = new.drop("_closed").join(outcome, on="row", how="left").join(
        guided.select("row", "product_id", "billing_account_id"), on="row", how="left")
    accounts = stored.get_column("billing_account_id").drop_nulls().unique().to_list()
    parties = {a: guide.party_of(ctx, a) for a in accounts}
    stored = stored.with_columns(
        pl.col("billing_account_id").replace_strict(parties, default=None,
                                                    return_dtype=text).alias("party_id"))
    for row, id_, reason, detail in stored.select(
            "row", "id", "reject_reason", "reject_detail").iter_rows():
        outcomes[row] = ((ACCEPTED, id_, None, None) if reason is None
                         else (REJECTED, id_, reason, detail))
    bodies = [jsonx.dumps(dict(raws[row])) if raws is not None and row in raws else None
              for row in stored.get_column("row").to_list()]
    late: list[dict[str, Any]] = []  # records normalisation rejected (not duplicates)
    for row, reject in rejects:
        if row in outcomes:
            continue
        key = reject.dedup_key
        late.append({"row": row, "id": ids[key], "source": reject.source,
                     "dedup_key": key, "record_id": reject.record_id,
                     "status": UsageStatus.REJECTED.value, "reject_reason": reject.reason,
                     "reject_detail": reject.detail,
                     "body": jsonx.dumps(dict(raws[row]) if raws is not None and row in raws
                                         else dict(reject.raw))})
        outcomes[row] = (REJECTED, ids[key], reject.reason, reject.detail)
    records = stored.with_columns(pl.Series("body", bodies, dtype=text))
    if late:
        records = pl.concat([records, pl.DataFrame(late)], how="diagonal_relaxed")
    now = ctx.now
    records = records.drop("row").with_columns(
        pl.lit(ctx.tenant_id).alias("tenant_id"), pl.lit(now, dtype=UTC_US).alias(
            "received_at"), pl.lit(now, dtype=UTC_US).alias("last_update"),
        pl.lit(1).alias("row_version"), *(
        pl.col(name).str.slice(0, limit) for name, limit in _LIMITS.items())).with_columns(
        pl.col(pl.String).exclude("body").str.replace_all("\x00", NUL_STORED, literal=True))
    if queries.insert_records(ctx, records) != records.height:
        raise _Race()
    copies = Counter(i for status, i, _, _ in outcomes.values() if status == DUPLICATE and i)
    queries.count_duplicates(ctx, copies)
    for status, _, reason, _ in outcomes.values():
        if status == ACCEPTED:
            summary.accepted += 1
        elif status == DUPLICATE:
            summary.duplicates += 1
        else:
            summary.rejected += 1
            assert reason is not None
            summary.rejected_by_reason[reason] = summary.rejected_by_reason.get(reason, 0) + 1
    summary.rated = int(result.get_column("status").eq("rated").sum())
    return Chunk(summary, outcomes)


def _rejected(rows: list[int], reasons: list[str], details: list[str]) -> pl.DataFrame:
    """Rows of a chunk rejected by guiding or ``closedThrough``: their outcome columns."""
    text = pl.String
    return pl.DataFrame({"row": rows, "status": [UsageStatus.REJECTED.value] * len(rows),
                         "reject_reason": reasons, "reject_detail": details},
                        schema={"row": pl.Int64, "status": text, "reject_reason": text,
                                "reject_detail": text})


#: What a NUL character of a file's field is stored as (no PostgreSQL text holds a NUL;
#: SQLite stores the same, so both backends agree). The record keeps its identity: its
#: dedup key is computed from the original value.
NUL_STORED = "\ufffd"
_LIMITS = {"record_id": 255, "metric": 64, "identifier_value": 255, "destination": 64,
           "reject_detail": 500}


def _clip(record: dict[str, Any]) -> None:
    for key, limit in _LIMITS.items():
        value = record.get(key)
        if isinstance(value, str) and len(value) > limit:
            record[key] = value[:limit]


# -- the entry points ----------------------------------------------------------------------

def reading_for(ctx: Context, config: UsageSettings, source: str,
                mapping: FileMapping | None = None) -> Reading:
    return Reading(source=source, settings=config.source(source),
                   default_region=ctx.tenant.default_region,
                   timestamp_format=mapping.timestamp_format if mapping else None,
                   time_zone=mapping.time_zone if mapping else None,
                   units=dict(mapping.units) if mapping else {})


def _scalar_chunk(items: Sequence[Any], readings: Callable[[Mapping[str, Any]], Reading],
                  offset: int = 0) -> tuple[pl.DataFrame, list[tuple[int, Rejected]],
                                            dict[int, dict[str, Any]]]:
    """Records that are Python objects already (NDJSON lines, bulk records) normalised
    one by one; a line that is no JSON object is rejected ``malformed``."""
    accepted: list[Normalized] = []
    rows: list[int] = []
    rejected: list[tuple[int, Rejected]] = []
    raws: dict[int, dict[str, Any]] = {}
    for i, item in enumerate(items, start=offset):
        if not isinstance(item, Mapping):
            text = item if isinstance(item, str) else repr(item)
            reading = readings({})
            key = hashlib.sha256(f"{reading.source}\x1f\x1e{text}".encode()).hexdigest()
            raws[i] = {"line": text[:2000]}
            rejected.append((i, Rejected(reading.source, None, key, norm.MALFORMED,
                                         "not a JSON object (a TMF635 usage or a raw "
                                         "record)", None, raws[i])))
            continue
        raw = dict(item)
        raws[i] = raw
        result = readings(raw).scalar(raw)
        if isinstance(result, Rejected):
            rejected.append((i, result))
        else:
            accepted.append(result)
            rows.append(i)
    return frame_of(accepted, rows), rejected, raws


def ingest_rows(ctx: Context, rows: Sequence[Any], *, source: str = "api",
                config: UsageSettings | None = None) -> list[RecordResult]:
    """One in-memory batch (the bulk API) through the pipeline, in the caller's
    transaction: a result per record, in input order. A row is a raw record or a
    TMF635 usage document (flattened); its own ``source`` wins over ``source``."""
    from openbss.usage.records import flatten, source_of

    config = config or read_settings(ctx)
    cache: dict[str, Reading] = {}

    def reading(raw: Mapping[str, Any]) -> Reading:
        try:
            name = source_of(raw, source)
        except Exception:  # an invalid source name: normalise under the default
            name = source
        if name not in cache:
            cache[name] = reading_for(ctx, config, name)
        return cache[name]

    items = [flatten(r) if isinstance(r, Mapping) else r for r in rows]
    normal, rejects, raws = _scalar_chunk(items, reading)
    bodies = {i: dict(r) for i, r in enumerate(rows) if isinstance(r, Mapping)}
    bodies.update({i: raws[i] for i in raws if i not in bodies})
    values = normal.get_column("identifier_value").unique().to_list()
    chunk = process(ctx, normal, rejects, config=config, guide=Guide(), read=len(rows),
                    raws=bodies, values=values)
    return [RecordResult(i, *chunk.outcomes[i]) for i in range(len(rows))]


Progress = Callable[[int, int], None]  # (records read so far, rejected in the chunk)


def import_file(path: Path, *, mapping: FileMapping, source: str, tenant: str,
                url: str | None = None, chunk_rows: int = CHUNK_ROWS,
                progress: Progress | None = None) -> Summary:
    """Stream a usage file through the pipeline, one committed transaction per chunk
    (constant memory, whatever the size; a crash loses at most the chunk in flight, and
    importing again is idempotent). ``tenant``: the tenant's name. Raises
    ``usage.mapping.MappingError`` for a file the mapping does not fit (chunks before
    it stay committed)."""
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work

    with unit_of_work(url) as session:
        ctx = system_context(session, tenant_by_name(session, tenant), actor="cli")
        return import_into(ctx, path, mapping=mapping, source=source,
                           chunk_rows=chunk_rows, progress=progress)


def import_into(ctx: Context, path: Path, *, mapping: FileMapping, source: str,
                chunk_rows: int = CHUNK_ROWS, progress: Progress | None = None) -> Summary:
    """:func:`import_file` in the caller's session (committed after every chunk)."""
    from openbss.ordering.models import ProductHistory, ProductIdentifier

    # a file is thousands of lookups by identifier and record key: the planner's
    # statistics first (a database just bulk-loaded has none, and PostgreSQL may then
    # settle on a plan that scans every claim per lookup)
    refresh_statistics(ctx.session, [ProductIdentifier.__tablename__,
                                     ProductHistory.__tablename__, UsageRecord.__tablename__])
    ctx.session.commit()
    config = read_settings(ctx)
    reading = reading_for(ctx, config, source, mapping)
    chunks: Iterator[Any] = (read_ndjson(path, chunk_size=chunk_rows)
                             if mapping.format == "ndjson"
                             else read_csv(path, mapping, chunk_size=chunk_rows))
    with batch_gc():  # millions of short-lived objects: collect cycles less often
        return _import_chunks(ctx, chunks, reading, config=config, progress=progress)


def _import_chunks(ctx: Context, chunks: Iterator[Any], reading: Reading, *,
                   config: UsageSettings, progress: Progress | None) -> Summary:
    summary = Summary()
    guide = Guide()
    offset = 0
    for chunk in chunks:
        if isinstance(chunk, pl.DataFrame):
            n = chunk.height
            normal, rejects = normalize_frame(chunk, reading, offset=offset)
        else:
            n = len(chunk)
            normal, rejects, _ = _scalar_chunk(chunk, lambda _raw: reading, offset)
        done = process(ctx, normal, rejects, config=config, guide=guide, read=n)
        ctx.session.commit()
        summary.add(done.summary)
        offset += n
        if progress is not None:
            progress(offset, done.summary.rejected)
    return summary


def reprocess(ctx: Context, *, reason: str | None = None,
              config: UsageSettings | None = None) -> Summary:
    """Stored rejects (of ``reason``, or all) through the pipeline again, in the
    caller's transaction: a record that now guides and rates becomes ``rated``; the
    others stay rejected with the reason of now. Their dedup keys (identity) stay."""
    config = config or read_settings(ctx)
    summary = Summary()
    guide = Guide()
    after: str | None = None
    while True:
        rows = queries.rejects_page(ctx, reason=reason, after=after, limit=CHUNK_ROWS)
        if not rows:
            return summary
        after = rows[-1].id
        summary.add(_reprocess_rows(ctx, rows, config=config, guide=guide))


def _reprocess_rows(ctx: Context, rows: Sequence[Any], *, config: UsageSettings,
                    guide: Guide) -> Summary:
    from openbss.usage.records import flatten

    readings: dict[str, Reading] = {}
    accepted: list[Normalized] = []
    index: list[int] = []
    outcome: dict[int, tuple[str, str | None, str | None]] = {}
    for i, row in enumerate(rows):
        reading = readings.get(row.source) or reading_for(ctx, config, row.source)
        readings[row.source] = reading
        if row.body:
            found = reading.scalar(flatten(row.body))
        elif row.usage_date is not None and row.identifier_value is not None:
            found = Normalized(
                source=row.source, record_id=row.record_id, dedup_key=row.dedup_key,
                usage_date=row.usage_date, usage_type=row.usage_type or "event",
                metric=row.metric, quantity=Decimal(row.quantity or 0), unit=row.unit or "",
                identifier_name=row.identifier_name or "", identifier_value=row.identifier_value,
                destination=row.destination)
        else:
            outcome[i] = (UsageStatus.REJECTED.value, row.reject_reason, row.reject_detail)
            continue
        if isinstance(found, Rejected):
            outcome[i] = (UsageStatus.REJECTED.value, found.reason, found.detail)
        else:
            accepted.append(found)
            index.append(i)
    normal = frame_of(accepted, index).with_columns(
        pl.Series("id", [rows[i].id for i in index], dtype=pl.String))
    closed = config.closed_through
    if closed is not None:
        for i, record in zip(index, accepted, strict=True):
            if is_closed(config, record.usage_date):
                outcome[i] = (UsageStatus.REJECTED.value, RejectReason.PERIOD_CLOSED.value,
                              f"usageDate is before closedThrough {_iso(closed)}")
    open_ = normal.filter(~pl.col("row").is_in(list(outcome)))
    guided = guide_frame(ctx, open_, guide)
    for i, reason, name, value, at in guided.filter(pl.col("_guide").is_not_null()).select(
            "row", "_guide", "identifier_name", "identifier_value", "usage_date").iter_rows():
        outcome[i] = (UsageStatus.REJECTED.value, reason,
                      _guide_detail(reason, name, value, at))
    to_rate = guided.filter(pl.col("_guide").is_null())
    result = rate(ctx, to_rate)
    summary = Summary(read=len(rows))
    for i, status, reason, detail, currency, amount in zip(
            to_rate.get_column("row").to_list(), *(result.get_column(c).to_list() for c in (
                "status", "reason", "detail", "currency", "amount")), strict=True):
        if status == "rated":
            outcome[i] = (UsageStatus.RATED.value, None, None)
            summary.amounts[currency] = summary.amounts.get(currency, Decimal(0)) + amount
        else:
            outcome[i] = (UsageStatus.REJECTED.value,
                          reason or RejectReason.UNRATED_DESTINATION.value, detail)
    by_row = {r: (p, a) for r, p, a in guided.select("row", "product_id",
                                                      "billing_account_id").iter_rows()}
    normal_by_row = dict(zip(index, accepted, strict=True))
    changes = []
    for i, row in enumerate(rows):
        status, reason, detail = outcome[i]
        rec = normal_by_row.get(i)
        product_id, account_id = by_row.get(i, (None, None))
        change = {"id": row.id, "status": status, "reject_reason": reason,
                  "reject_detail": detail[:500] if detail else None,
                  "product_id": product_id, "billing_account_id": account_id,
                  "party_id": guide.party_of(ctx, account_id) if account_id else None,
                  "last_update": ctx.now, "row_version": row.row_version + 1}
        source: Any = rec if rec is not None else row
        for column in ("usage_date", "usage_type", "metric", "quantity", "unit",
                       "identifier_name", "identifier_value", "destination", "record_id"):
            change[column] = getattr(source, column)
        _clip(change)
        for key, value in change.items():
            if isinstance(value, str) and "\x00" in value:
                change[key] = value.replace("\x00", NUL_STORED)
        changes.append(change)
        if status == UsageStatus.RATED.value:
            summary.accepted += 1
            summary.rated += 1
        else:
            summary.rejected += 1
            key = reason or RejectReason.MALFORMED.value
            summary.rejected_by_reason[key] = summary.rejected_by_reason.get(key, 0) + 1
    queries.update_records(ctx, changes)
    return summary
