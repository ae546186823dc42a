"""The rating context's use cases: tariffs in the database, pricing one event, and the
rating the usage context asks for (the I/O around the pure engines).

Tariffs
    One ``rating_tariff`` row per named :class:`~openbss.rating.tariff.TariffSet`
    (:func:`import_cgrates`, :func:`put_tariff`, :func:`delete_tariff`, audited). What
    rating uses is :func:`tariffs_of`: the merge of the tenant's tariffs, kept per
    process under the key (tenant, ``(id, row_version)`` of every tariff), so rating one
    record costs one small statement, not a JSON parse.

Pricing one event
    :func:`cost` — CGRateS's ``GetCost`` on the tenant's tariffs; nothing is stored.

Rating for the usage context
    :class:`GuidedUsage` (a guided record) → :func:`rate_events` (per record, the API
    path) or :func:`rate_frame` (a Polars frame, the file path). Both build the
    :class:`~openbss.rating.book.RatingBook` of the offerings concerned
    (:func:`book_for`), the billing period of each record (:func:`period_of`), load the
    allowance counters of the buckets the records touch **with row locks** (creating
    missing ones), run the engine, insert the rated rows (generation 1, current) and
    store the counters — in the caller's transaction; they never commit.
    :func:`rerate` recomputes records after a tariff correction (a new generation; the
    previous rows stay as history; rows whose earlier generation was invoiced are marked
    ``correction``). :func:`rated_for` and :func:`rated_usage` read the current rows.

Counters (table ``allowance_counter``; ``granted`` and ``used`` in base units):

- an allowance bucket ``(scope, holder, price, period start)``: ``scope`` ``product``,
  ``bundle`` or ``account`` as the usage price says; ``granted`` is the price's
  included quantity × the lines sharing the bucket — 1 for ``product``; for ``account``
  the products of the billing account in force during the period whose offering carries
  the price; for ``bundle`` those of them in the bundle (the bundle product itself and
  its members) — counted when the counter is created (the first record of the period);
- metered totals of a charge-model price per ``(product, price, period)``: scope
  ``metered`` (``used`` = the charged quantity priced so far, in base units) and, for
  percentage models, scope ``metered_events`` (``granted`` = transactions priced so far,
  ``used`` = their total charged base units). They are counters for the same reason: two concurrent
  raters must not both price the same tier.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openbss.catalog.pricing import PercentageChargeModel
from openbss.core import audit
from openbss.core.context import Context
from openbss.core.errors import NotFoundError, ValidationError
from openbss.core.periods import BillingCycle, period_containing
from openbss.rating import queries
from openbss.rating.allowances import bucket_of
from openbss.rating.book import (
    AllowanceKey,
    Allowances,
    MeteredKey,
    RatingBook,
    Unrated,
    UsageEvent,
    UsagePrice,
    unit_scale,
)
from openbss.rating.book import RatedUsage as Rated
from openbss.rating.engine import select_price
from openbss.rating.errors import RatingPlanNotFound, TariffConflict, TariffDirectoryUnreadable
from openbss.rating.models import RatedUsage, Tariff
from openbss.rating.paths import tariff_href
from openbss.rating.tariff import TariffSet, merge_all

if TYPE_CHECKING:
    import polars as pl

    from openbss.rating.schemas import CostRequest

NAME_MAX = 100
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


# ==========================================================================================
# Tariffs
# ==========================================================================================

def _check_name(name: str, field: str = "name") -> str:
    if not name or len(name) > NAME_MAX or not set(name) <= _NAME_CHARS:
        raise ValidationError(
            f"a tariff name is 1-{NAME_MAX} letters, digits, '_', '.' or '-' (got "
            f"{name[:40]!r})", field=field)
    return name


def counts_of(tariffs: TariffSet) -> dict[str, int]:
    """How many of each thing a tariff set holds (by CGRateS file)."""
    return {
        "Destinations.csv": sum(len(p) for p in tariffs.destinations.values()),
        "Rates.csv": sum(len(s) for s in tariffs.rates.values()),
        "DestinationRates.csv": sum(len(d) for d in tariffs.destination_rates.values()),
        "Timings.csv": len(tariffs.timings),
        "RatingPlans.csv": sum(len(b) for b in tariffs.rating_plans.values()),
        "RatingProfiles.csv": len(tariffs.rating_profiles),
    }


def _instant(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def render_tariff(ctx: Context, row: Tariff, *, full: bool = True) -> dict[str, Any]:
    """The API view of a stored tariff (``full``: with the TariffSet document)."""
    doc: dict[str, Any] = {
        "id": row.id, "href": tariff_href(ctx.base_url, row.id), "name": row.name,
        "currency": row.currency, "source": row.source,
        "createdAt": _instant(row.created_at), "lastUpdate": _instant(row.last_update),
        "version": row.row_version, "counts": (row.body or {}).get("counts") or {},
    }
    if full:
        doc["tariff"] = (row.body or {}).get("tariff") or {}
    return doc


def _others(ctx: Context, name: str) -> list[TariffSet]:
    return [_parse(row) for row in queries.tariffs(ctx) if row.name != name]


def _store(ctx: Context, *, name: str, tariffs: TariffSet, source: str) -> tuple[Tariff, bool]:
    """Create or replace the tariff ``name`` (audited); it must merge with the tenant's
    other tariffs (a conflicting id → 422 naming it)."""
    _check_name(name)
    try:
        merge_all([*_others(ctx, name), tariffs])
    except ValidationError as exc:
        raise TariffConflict(f"tariff {name!r} conflicts with another tariff of the "
                             f"tenant: {exc.message}", field=exc.field) from None
    counts = counts_of(tariffs)
    body = {"tariff": tariffs.to_dict(), "counts": counts}
    row = queries.tariff_named(ctx, name, lock=True)
    created = row is None
    before = None
    if row is None:
        row = Tariff(tenant_id=ctx.tenant_id, name=name, currency=tariffs.currency,
                     source=source, created_at=ctx.now, last_update=ctx.now,
                     row_version=1, body=body)
        ctx.session.add(row)
        ctx.session.flush()
    else:
        before = {"name": row.name, "currency": row.currency, "source": row.source,
                  "counts": (row.body or {}).get("counts")}
        row.currency, row.source, row.body = tariffs.currency, source, body
        row.last_update = ctx.now
        row.row_version += 1
        ctx.session.flush()
    audit.record(ctx, action="create" if created else "update", resource_type="tariff",
                 resource_id=row.id, before=before,
                 after={"name": name, "currency": tariffs.currency, "source": source,
                        "counts": counts})
    return row, created


@dataclass(frozen=True)
class ImportResult:
    tariff: Tariff
    created: bool
    counts: dict[str, int]
    ignored: list[str]


def _directory(directory: Path | str, *, must_exist: bool = True) -> Path:
    path = Path(directory)
    if must_exist and not path.is_dir():
        raise TariffDirectoryUnreadable(f"{path} is not a folder of CGRateS CSV files")
    return path


def import_cgrates(ctx: Context, *, directory: Path | str, name: str | None = None,
                   currency: str | None = None) -> ImportResult:
    """Read a CGRateS tariff-plan folder and store it as the tariff ``name`` (default:
    the folder's name), replacing a tariff of that name. ``currency`` (default: the
    tenant's default currency) is the currency of its rates. A bad row → 422 naming
    the file, line and column (the reader's error)."""
    from openbss.core.money import validate_currency
    from openbss.rating import cgrates_csv

    path = _directory(directory)
    name = _check_name(name if name is not None else path.resolve().name)
    code = validate_currency(currency or ctx.tenant.default_currency)
    try:
        if not any((path / file).is_file() for file in cgrates_csv.FILES):
            raise TariffDirectoryUnreadable(
                f"{path} holds no CGRateS tariff-plan file (any of "
                f"{', '.join(cgrates_csv.FILES)}); nothing was imported", field="directory")
        tariffs = cgrates_csv.read_dir(path, currency=code)
        ignored = cgrates_csv.ignored_files(path)
    except OSError as exc:
        raise TariffDirectoryUnreadable(f"cannot read {path}: {exc.strerror or exc}") \
            from None
    row, created = _store(ctx, name=name, tariffs=tariffs, source="cgrates")
    return ImportResult(row, created, counts_of(tariffs), ignored)


def export_cgrates(ctx: Context, *, directory: Path | str, name: str | None = None
                   ) -> dict[str, int]:
    """Write the tariff ``name`` (default: the merge of all the tenant's tariffs) as a
    CGRateS tariff-plan folder (created if missing). Returns the counts per file."""
    from openbss.rating import cgrates_csv

    if name is not None:
        row = queries.tariff_named(ctx, _check_name(name))
        if row is None:
            raise NotFoundError(f"tariff {name!r} not found", field="name")
        tariffs: TariffSet | None = _parse(row)
    else:
        tariffs = tariffs_of(ctx)
    if tariffs is None:
        raise NotFoundError("the tenant has no tariffs to export", field="name")
    path = _directory(directory, must_exist=False)
    try:
        path.mkdir(parents=True, exist_ok=True)
        cgrates_csv.write_dir(tariffs, path)
    except OSError as exc:
        raise TariffDirectoryUnreadable(f"cannot write {path}: {exc.strerror or exc}") \
            from None
    return counts_of(tariffs)


def put_tariff(ctx: Context, *, name: str, document: Any) -> tuple[Tariff, bool]:
    """Create or replace the tariff ``name`` from a TariffSet JSON document
    (``TariffSet.to_dict()``'s shape; errors name the path). Returns (row, created)."""
    _check_name(name)
    if not isinstance(document, Mapping):
        raise ValidationError("the body must be a TariffSet object", field="body")
    tariffs = TariffSet.from_dict(document)
    return _store(ctx, name=name, tariffs=tariffs, source="json")


def list_tariffs(ctx: Context) -> list[Tariff]:
    return queries.tariffs(ctx)


def get_tariff(ctx: Context, *, tariff_id: str) -> Tariff:
    return queries.tariff(ctx, tariff_id)


def delete_tariff(ctx: Context, *, tariff_id: str) -> None:
    row = queries.tariff(ctx, tariff_id, lock=True)
    before = {"name": row.name, "currency": row.currency, "source": row.source,
              "counts": (row.body or {}).get("counts")}
    queries.delete_tariff(ctx, row.id)
    audit.record(ctx, action="delete", resource_type="tariff", resource_id=tariff_id,
                 before=before, after=None)


def _parse(row: Tariff) -> TariffSet:
    return TariffSet.from_dict((row.body or {}).get("tariff") or {})


_cache: dict[str, tuple[tuple[tuple[str, int], ...], TariffSet | None]] = {}
_cache_lock = threading.Lock()


def tariffs_of(ctx: Context) -> TariffSet | None:
    """The merge of the tenant's tariffs (None without any). Kept per process under the
    tariffs' ``(id, row_version)``: a change by any process changes the key."""
    stamp = queries.tariff_stamp(ctx)
    entry = _cache.get(ctx.tenant_id)
    if entry is not None and entry[0] == stamp:
        return entry[1]
    merged = merge_all(_parse(row) for row in queries.tariffs(ctx)) if stamp else None
    with _cache_lock:
        _cache[ctx.tenant_id] = (stamp, merged)
    return merged


# ==========================================================================================
# Pricing one event (POST /api/v1/rating/cost)
# ==========================================================================================

def _plain(value: Decimal) -> str:
    return format(value, "f")


def cost(ctx: Context, *, request: CostRequest) -> dict[str, Any]:
    """CGRateS's ``GetCost`` for one event on the tenant's tariffs (nothing stored).
    Money as exact decimal strings, seconds (units) as exact numbers."""
    from openbss.rating import telecom

    usage = telecom.parse_usage(request.usage, field="usage")
    tariffs = tariffs_of(ctx)
    if tariffs is None:
        raise RatingPlanNotFound("the tenant has no tariffs: import one with openbss "
                                 "rating import-cgrates or PUT /api/v1/rating/tariffs/{name}")
    try:
        result = telecom.cost(tariffs, category=request.category, subject=request.subject,
                              destination=request.destination,
                              answer_time=request.answer_time, usage=usage,
                              account=request.account, tenant=request.tenant)
    except OverflowError:
        raise ValidationError("answerTime + usage is beyond the year 9999",
                              field="answerTime") from None
    return {
        "cost": _plain(result.cost), "currency": tariffs.currency,
        "connectFee": _plain(result.connect_fee), "ratingPlan": result.rating_plan,
        "destination": result.destination_id, "destinationRate": result.destination_rate_id,
        "rates": result.rates_id, "usage": result.usage,
        "maxCostApplied": bool(result.max_cost_applied),
        "increments": [{"start": i.start, "duration": i.duration, "rate": _plain(i.rate),
                        "cost": _plain(i.cost)} for i in result.increments],
    }


# ==========================================================================================
# The rating book, billing periods
# ==========================================================================================

_TIME_UNITS = frozenset({"s", "sec", "second", "seconds", "min", "minute", "minutes", "h",
                         "hour", "hours"})
_BYTE_UNITS = frozenset({"b", "byte", "bytes", "octet", "kb", "mb", "gb", "tb", "kib",
                         "mib", "gib", "tib"})
_SMS_UNITS = frozenset({"message", "messages", "sms", "msg"})


def usage_type_of_unit(unit: str | None) -> tuple[str, str | None]:
    """(usage type, metric) a usage price without ``usageType`` prices, from its unit:
    time units → voice, byte units → data, message/sms → sms, anything else → an
    ``event`` whose metric is the unit's name."""
    u = (unit or "").strip().lower()
    if u in _TIME_UNITS:
        return "voice", None
    if u in _BYTE_UNITS:
        return "data", None
    if u in _SMS_UNITS:
        return "sms", None
    return "event", (unit or "").strip() or "event"


def _session_cache(ctx: Context, name: str) -> dict[Any, Any]:
    cache: dict[Any, Any] = ctx.session.info.setdefault(f"openbss.rating.{name}", {})
    return cache


def _usage_price(ctx: Context, pop: Any, offering_id: str) -> UsagePrice | None:
    from openbss.catalog.errors import NotChargeable
    from openbss.catalog.selling import charge_model_of_price

    body: dict[str, Any] = pop.body or {}
    unit = str((body.get("unitOfMeasure") or {}).get("units") or "").strip()
    if body.get("usageType"):
        usage_type, metric = str(body["usageType"]), body.get("metric")
    else:
        usage_type, metric = usage_type_of_unit(unit)
        metric = body.get("metric") or metric
    if usage_type == "event" and not metric:
        metric = unit or "event"
    included_doc = body.get("includedQuantity") or {}
    amount = included_doc.get("amount")
    included = Decimal(0)
    if amount is not None:
        included = Decimal(str(amount)) * unit_scale(included_doc.get("units") or unit)
    plan = body.get("ratingPlan")
    model = None
    currency = pop.currency
    if not plan:
        try:
            model, currency = charge_model_of_price(ctx, price_id=pop.id)
        except NotChargeable:
            model = None  # prices nothing: the engine leaves its usage unrated, saying so
    destinations = body.get("allowanceDestinations")
    return UsagePrice(
        price_id=pop.id, offering_id=offering_id, usage_type=usage_type,
        metric=str(metric) if metric else None, unit=unit or "unit",
        scale=unit_scale(unit), currency=currency or ctx.tenant.default_currency,
        charge_model=model, rating_plan=str(plan) if plan else None, included=included,
        allowance_scope=str(body.get("allowanceScope") or "product"),
        allowance_destinations=tuple(destinations) if destinations else None,
        tax_category=pop.tax_category or "standard")


def _prices_of(ctx: Context, offering_id: str) -> tuple[UsagePrice, ...]:
    from openbss.catalog.selling import select_prices

    cache = _session_cache(ctx, "prices")
    if offering_id in cache:
        found: tuple[UsagePrice, ...] = cache[offering_id]
        return found
    try:
        pops = select_prices(ctx, offering_id=offering_id, currency=None)
    except NotFoundError:
        pops = []
    prices = tuple(p for p in (_usage_price(ctx, pop, offering_id) for pop in pops
                               if pop.price_type == "usage") if p is not None)
    cache[offering_id] = prices
    return prices


def book_for(ctx: Context, offering_ids: Iterable[str]) -> RatingBook:
    """The rating book of these offerings (their usage prices, as
    :class:`~openbss.rating.book.UsagePrice`) with the tenant's tariffs. The prices are
    read once per unit of work (session)."""
    return RatingBook(prices={oid: _prices_of(ctx, oid) for oid in sorted(set(offering_ids))},
                      tariffs=tariffs_of(ctx))


def _cycle_of(spec: Mapping[str, Any] | None) -> BillingCycle:
    """An account's ``billStructure.cycleSpecification`` as a bill cycle (default:
    monthly, calendar, UTC): :func:`openbss.party.accounts.cycle_of`, the one function
    billing uses too."""
    from openbss.party.accounts import cycle_of

    return cycle_of(dict(spec or {}))


def cycles_of(ctx: Context, account_ids: Iterable[str | None]) -> dict[str | None, BillingCycle]:
    """The bill cycle of each billing account (cached per unit of work); an unknown
    account or None: the default cycle."""
    from openbss.party import queries as party_queries

    cache = _session_cache(ctx, "cycles")
    wanted = sorted({a for a in account_ids if a is not None and a not in cache})
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        for account in party_queries.accounts_by_id(ctx, chunk):
            if account.kind == "billingAccount":
                structure = (account.body or {}).get("billStructure") or {}
                cache[account.id] = _cycle_of(structure.get("cycleSpecification"))
        for account_id in chunk:
            cache.setdefault(account_id, _cycle_of(None))
    default = cache.setdefault(None, _cycle_of(None))
    return {a: cache.get(a, default) for a in account_ids}


def period_of(ctx: Context, billing_account_id: str | None, at: datetime
              ) -> tuple[datetime, datetime]:
    """The billing period ``[start, end)`` of the account containing ``at``."""
    cycle = cycles_of(ctx, [billing_account_id])[billing_account_id]
    period = period_containing(cycle, at)
    return period.start, period.end


# ==========================================================================================
# Rating
# ==========================================================================================

@dataclass(frozen=True)
class GuidedUsage:
    """A usage record after guiding: what the usage context hands to rating."""

    key: str  # the usage record's id
    usage_date: datetime  # UTC
    usage_type: str
    metric: str | None
    quantity: Decimal  # base units
    destination: str | None
    product_id: str
    billing_account_id: str | None
    price_version: str  # the offering id in force at usage_date
    bundle_id: str | None = None


def _events(ctx: Context, guided: Sequence[GuidedUsage]) -> list[UsageEvent]:
    cycles = cycles_of(ctx, [g.billing_account_id for g in guided])
    periods: dict[tuple[str | None, datetime], tuple[datetime, datetime]] = {}
    events = []
    for g in guided:
        key = (g.billing_account_id, g.usage_date)
        if key not in periods:
            p = period_containing(cycles[g.billing_account_id], g.usage_date)
            periods[key] = (p.start, p.end)
        start, end = periods[key]
        events.append(UsageEvent(
            key=g.key, usage_date=g.usage_date, usage_type=g.usage_type, metric=g.metric,
            quantity=g.quantity, destination=g.destination, product_id=g.product_id,
            billing_account_id=g.billing_account_id, price_version=g.price_version,
            period_start=start, period_end=end, bundle_id=g.bundle_id))
    return events


@dataclass
class _Touched:
    """The counters a batch of events touches, and what each new one grants."""

    allowance: dict[AllowanceKey, tuple[UsagePrice, datetime, str | None]] = field(
        default_factory=dict)  # key -> (price, period end, billing account)
    metered: dict[MeteredKey, tuple[UsagePrice, datetime]] = field(default_factory=dict)

    def add(self, price: UsagePrice, event: UsageEvent) -> None:
        bucket = bucket_of(price, event)
        if bucket is not None:
            self.allowance.setdefault(bucket, (price, event.period_end,
                                               event.billing_account_id))
        if price.charge_model is not None:
            self.metered.setdefault(
                MeteredKey(event.product_id, price.price_id, event.period_start),
                (price, event.period_end))


def _touched_by(book: RatingBook, events: Sequence[UsageEvent]) -> _Touched:
    touched = _Touched()
    for e in events:
        price = select_price(book, e)
        if price is not None:
            touched.add(price, e)
    return touched


METERED = "metered"
METERED_EVENTS = "metered_events"


def _percentage(price: UsagePrice) -> bool:
    return isinstance(price.charge_model, PercentageChargeModel)


def _lines(ctx: Context, key: AllowanceKey, price: UsagePrice, period_end: datetime,
           billing_account_id: str | None) -> int:
    """The lines sharing an allowance bucket (see the module docstring)."""
    if key.scope == "product" or billing_account_id is None:
        return 1
    from openbss.ordering.in_force import in_force
    from openbss.ordering.inventory import get_product

    found = in_force(ctx, start=key.period_start, end=period_end,
                     billing_account_id=billing_account_id)
    lines = 0
    for product in found:
        offerings = {i.price_version for i in product.intervals}
        if not any(p.price_id == price.price_id for o in offerings
                   for p in _prices_of(ctx, o)):
            continue
        if key.scope == "bundle" and product.product_id != key.holder and \
                get_product(ctx, product_id=product.product_id).parent_id != key.holder:
            continue
        lines += 1
    return max(lines, 1)


def _counter_key(key: AllowanceKey | MeteredKey, scope: str | None = None
                 ) -> queries.CounterKey:
    if isinstance(key, AllowanceKey):
        return (key.scope, key.holder, key.price_id, key.period_start)
    return (scope or METERED, key.product_id, key.price_id, key.period_start)


@dataclass
class _Loaded:
    touched: _Touched
    allowances: Allowances
    ids: dict[queries.CounterKey, int]
    used: dict[queries.CounterKey, Decimal]
    granted: dict[queries.CounterKey, Decimal]
    regranted: dict[queries.CounterKey, Decimal]  # a re-rate's recomputed grants
    reset: bool = False


def _grant(ctx: Context, extra: Any, included: Decimal, end: datetime) -> Decimal:
    if extra is None:
        return included
    akey, price, account = extra
    return included * _lines(ctx, akey, price, end, account)


def _load_counters(ctx: Context, touched: _Touched, *, reset: bool = False) -> _Loaded:
    """Lock (create first where missing) the counters ``touched`` names; ``reset``: a
    re-rate, which recomputes them from zero (and their grants from the prices now)."""
    wanted: dict[queries.CounterKey, tuple[Decimal, datetime, Any]] = {}
    for akey, (price, end, account) in touched.allowance.items():
        wanted[_counter_key(akey)] = (price.included, end, (akey, price, account))
    for mkey, (price, end) in touched.metered.items():
        wanted[_counter_key(mkey)] = (Decimal(0), end, None)
        if _percentage(price):
            wanted[_counter_key(mkey, METERED_EVENTS)] = (Decimal(0), end, None)
    keys = sorted(wanted, key=lambda k: (k[0], k[1], k[2], k[3]))
    rows = {(r.scope, r.holder, r.price_id, r.period_start): r
            for r in queries.counters(ctx, keys, lock=True)}
    missing = [k for k in keys if k not in rows]
    if missing:
        queries.insert_counters(ctx, [
            {"scope": k[0], "holder": k[1], "price_id": k[2], "period_start": k[3],
             "period_end": wanted[k][1], "granted": _grant(ctx, wanted[k][2], wanted[k][0],
                                                           wanted[k][1]),
             "used": Decimal(0)} for k in missing])
        rows.update({(r.scope, r.holder, r.price_id, r.period_start): r
                     for r in queries.counters(ctx, missing, lock=True)})
    allowances = Allowances()
    ids = {k: row.id for k, row in rows.items()}
    used = {k: Decimal(0) if reset else Decimal(row.used) for k, row in rows.items()}
    granted_of = {k: Decimal(row.granted) for k, row in rows.items()}
    regranted: dict[queries.CounterKey, Decimal] = {}
    for akey in touched.allowance:
        k = _counter_key(akey)
        if reset and k not in missing:
            regranted[k] = granted_of[k] = _grant(ctx, wanted[k][2], wanted[k][0],
                                                  wanted[k][1])
        allowances.granted[akey] = granted_of[k]
        allowances.used[akey] = used[k]
    for mkey, (price, _end) in touched.metered.items():
        if used[_counter_key(mkey)] > 0:  # absent: the period's first charged event
            allowances.metered[mkey] = used[_counter_key(mkey)]
        if _percentage(price):
            k = _counter_key(mkey, METERED_EVENTS)
            count = 0 if reset else int(granted_of[k])
            allowances.metered_events[mkey] = (count, used[k])
    return _Loaded(touched, allowances, ids, used, granted_of, regranted, reset)


def _store_counters(ctx: Context, loaded: _Loaded) -> None:
    """Write back what the engine consumed: the counters that changed (after a re-rate,
    every counter it touched — a bucket nothing consumes any more goes back to 0)."""
    a, zero = loaded.allowances, Decimal(0)
    changes: list[tuple[int, Any]] = []
    events_changes: list[tuple[int, Decimal, Decimal]] = []
    for akey in loaded.touched.allowance:
        k = _counter_key(akey)
        value = a.used.get(akey, zero)
        if value != loaded.used[k] or loaded.reset:
            changes.append((loaded.ids[k], value))
    for mkey, (price, _end) in loaded.touched.metered.items():
        k = _counter_key(mkey)
        value = a.metered.get(mkey, zero)
        if value != loaded.used[k] or loaded.reset:
            changes.append((loaded.ids[k], value))
        if _percentage(price):
            count, amount = a.metered_events.get(mkey, (0, zero))
            events_changes.append((loaded.ids[_counter_key(mkey, METERED_EVENTS)],
                                   Decimal(count), amount))
    queries.update_counters(ctx, changes)
    queries.update_event_counters(ctx, events_changes)
    if loaded.regranted:
        queries.update_grants(ctx, [(loaded.ids[k], g) for k, g in loaded.regranted.items()])


def _row_of(ctx: Context, r: Rated, *, generation: int = 1, correction: bool = False
            ) -> dict[str, Any]:
    detail = None
    if r.allowance is not None:
        detail = {"allowance": {"scope": r.allowance.scope, "holder": r.allowance.holder,
                                "priceId": r.allowance.price_id,
                                "periodStart": _instant(r.allowance.period_start)}}
    return {
        "usage_id": r.key, "generation": generation, "current": True,
        "product_id": r.product_id, "billing_account_id": r.billing_account_id,
        "usage_date": r.usage_date, "period_start": r.period_start,
        "period_end": r.period_end, "usage_type": r.usage_type, "metric": r.metric,
        "quantity": r.quantity, "included": r.included, "charged": r.charged,
        "amount": r.amount, "currency": r.currency, "price_id": r.price_id,
        "tariff": r.tariff, "rate": r.rate, "destination": r.destination,
        "tax_category": r.tax_category, "rated_at": ctx.now, "invoice_id": None,
        "correction": correction, "detail": detail,
    }


def rate_events(ctx: Context, guided: Sequence[GuidedUsage]) -> list[Rated | Unrated]:
    """Rate guided records (the per-record engine) and store the results: one
    :class:`~openbss.rating.book.RatedUsage` or :class:`~openbss.rating.book.Unrated`
    per record, in input order. Rated rows are inserted (generation 1, current) and the
    allowance counters updated under their row locks, in the caller's transaction."""
    if not guided:
        return []
    from openbss.rating import engine

    book = book_for(ctx, {g.price_version for g in guided})
    events = _events(ctx, guided)
    loaded = _load_counters(ctx, _touched_by(book, events))
    results = engine.rate_events(events, book, loaded.allowances)
    queries.insert_rated(ctx, [_row_of(ctx, r) for r in results if isinstance(r, Rated)])
    _store_counters(ctx, loaded)
    return results


def rated_for(ctx: Context, usage_ids: Sequence[str]) -> dict[str, list[RatedUsage]]:
    """The current rated rows of these usage records (TMF635 ``ratedProductUsage``)."""
    found: dict[str, list[RatedUsage]] = {u: [] for u in usage_ids}
    for row in queries.rated_current(ctx, usage_ids):
        found.setdefault(row.usage_id, []).append(row)
    return found


def rated_usage(ctx: Context, *, billing_account_id: str, start: datetime,
                end: datetime) -> list[RatedUsage]:
    """The account's current rated usage dated in ``[start, end)`` (what billing
    reads), in time order."""
    return queries.rated_of_account(ctx, billing_account_id, start, end)


# -- re-rating ------------------------------------------------------------------------------

@dataclass
class RerateReport:
    """What a re-rate did: records, how many rated and unrated now, the amounts of the
    current rows before and after per currency, and the rows marked for correction
    (their previous generation was invoiced)."""

    records: int = 0
    rated: int = 0
    unrated: int = 0
    before: dict[str, Decimal] = field(default_factory=dict)
    after: dict[str, Decimal] = field(default_factory=dict)
    corrections: int = 0
    results: list[Rated | Unrated] = field(default_factory=list)

    @property
    def difference(self) -> dict[str, Decimal]:
        return {c: self.after.get(c, Decimal(0)) - self.before.get(c, Decimal(0))
                for c in sorted(set(self.before) | set(self.after))}

    def to_json(self) -> dict[str, Any]:
        def money(d: Mapping[str, Decimal]) -> dict[str, str]:
            return {c: _plain(v.normalize()) for c, v in sorted(d.items())}
        return {"records": self.records, "rated": self.rated, "unrated": self.unrated,
                "before": money(self.before), "after": money(self.after),
                "difference": money(self.difference), "corrections": self.corrections}


def _add(totals: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, Decimal(0)) + amount


def rerate(ctx: Context, guided: Sequence[GuidedUsage]) -> RerateReport:
    """Re-rate these records — every record of the accounts and periods concerned (the
    usage context passes them all): the buckets they touch are recomputed from zero,
    each record gets a new generation (the previous rows stay, ``current`` false), and
    a new row is marked ``correction`` when an earlier generation was invoiced."""
    report = RerateReport(records=len(guided))
    if not guided:
        return report
    from openbss.party.accounts import lock_for_billing
    from openbss.rating import engine

    # a bill run billing these accounts finishes first (its invoice then holds the rows
    # replaced here, which become corrections), or starts after this re-rate
    lock_for_billing(ctx, {g.billing_account_id for g in guided if g.billing_account_id})

    ids = [g.key for g in guided]
    for row in queries.rated_current(ctx, ids):
        _add(report.before, row.currency, Decimal(row.amount))
    history = {str(u): (int(g), int(n)) for u, g, n in queries.rated_history(ctx, ids)}
    book = book_for(ctx, {g.price_version for g in guided})
    events = _events(ctx, guided)
    loaded = _load_counters(ctx, _touched_by(book, events), reset=True)
    results = engine.rate_events(events, book, loaded.allowances)
    queries.retire_current(ctx, ids)
    rows = []
    for r in results:
        if isinstance(r, Unrated):
            report.unrated += 1
            continue
        generation, invoiced = history.get(r.key, (0, 0))
        rows.append(_row_of(ctx, r, generation=generation + 1, correction=invoiced > 0))
        report.rated += 1
        report.corrections += invoiced > 0
        _add(report.after, r.currency, r.amount)
    queries.insert_rated(ctx, rows)
    _store_counters(ctx, loaded)
    report.results = results
    return report


# -- the vectorized path --------------------------------------------------------------------

def _frame_periods(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """``period_start``/``period_end`` for every row, set-based: one bill-cycle
    computation per distinct cycle and period, joined on (cycle, usage date)."""
    import polars as pl

    from openbss.core.periods import periods_between

    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("period_start"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("period_end"))
    accounts = frame.get_column("billing_account_id").unique().to_list()
    cycles = cycles_of(ctx, accounts)
    distinct = sorted(set(cycles.values()), key=repr)
    index = {c: i for i, c in enumerate(distinct)}
    account_map = pl.DataFrame({
        "billing_account_id": list(cycles), "_cycle": [index[c] for c in cycles.values()]},
        schema={"billing_account_id": pl.Utf8, "_cycle": pl.Int32})
    rows = frame.with_row_index("_row").join(account_map, on="billing_account_id",
                                              how="left", nulls_equal=True)
    bounds = rows.group_by("_cycle").agg(pl.col("usage_date").min().alias("lo"),
                                         pl.col("usage_date").max().alias("hi"))
    starts: list[int] = []
    period_starts: list[datetime] = []
    period_ends: list[datetime] = []
    for cycle_no, lo, hi in bounds.iter_rows():
        cycle = distinct[cycle_no]
        first = period_containing(cycle, lo)
        for period in periods_between(cycle, first.start, period_containing(cycle, hi).end):
            starts.append(cycle_no)
            period_starts.append(period.start)
            period_ends.append(period.end)
    grid = pl.DataFrame({"_cycle": starts, "period_start": period_starts,
                         "period_end": period_ends},
                        schema={"_cycle": pl.Int32, "period_start": pl.Datetime("us", "UTC"),
                                "period_end": pl.Datetime("us", "UTC")}).sort("period_start")
    joined = rows.sort("usage_date").join_asof(
        grid, left_on="usage_date", right_on="period_start", by="_cycle",
        strategy="backward", check_sortedness=False)  # both sorted just above
    return joined.sort("_row").drop("_row", "_cycle")


def rate_frame(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Rate a Polars frame of guided usage (the columns of ``vector.EVENT_SCHEMA``
    without ``period_start``/``period_end``; ``bundle_id`` optional) with the vectorized
    engine: billing periods added set-based, counters of the touched buckets locked
    (created where missing), rated rows bulk-inserted (``COPY`` on PostgreSQL), counters
    stored. Returns the result frame (``vector.RESULT_SCHEMA``) in input order."""
    import polars as pl

    from openbss.rating import vector

    if "bundle_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("bundle_id"))
    frame = _frame_periods(ctx, frame)
    frame = frame.select([pl.col(name).cast(dtype) for name, dtype in
                          vector.EVENT_SCHEMA.items()])
    book = book_for(ctx, frame.get_column("price_version").unique().drop_nulls().to_list())
    touched = _Touched()
    combos = frame.select("product_id", "bundle_id", "billing_account_id", "price_version",
                          "usage_type", "metric", "period_start", "period_end").unique()
    for (product_id, bundle_id, account_id, offering_id, usage_type, metric, start,
         end) in combos.iter_rows():
        probe = UsageEvent(key="", usage_date=start, usage_type=usage_type, metric=metric,
                           quantity=Decimal(0), destination=None, product_id=product_id,
                           billing_account_id=account_id, price_version=offering_id,
                           period_start=start, period_end=end, bundle_id=bundle_id)
        price = select_price(book, probe)
        if price is not None:
            touched.add(price, probe)
    loaded = _load_counters(ctx, touched)
    result = vector.rate_frame(frame, book, loaded.allowances)
    queries.insert_rated_frame(ctx, _rated_rows(ctx, result))
    _store_counters(ctx, loaded)
    return result


def _rated_rows(ctx: Context, result: pl.DataFrame) -> pl.DataFrame:
    """The rated rows of a result frame as ``rated_usage`` columns (generation 1)."""
    import polars as pl

    utc = pl.Datetime("us", "UTC")
    allowance = pl.struct(
        pl.col("allowance_scope").alias("scope"), pl.col("allowance_holder").alias("holder"),
        pl.col("price_id").alias("priceId"),
        pl.col("period_start").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("periodStart"))
    return result.filter(pl.col("status") == "rated").select(
        pl.col("key").alias("usage_id"), pl.lit(1).alias("generation"),
        pl.lit(True).alias("current"), "product_id", "billing_account_id", "usage_date",
        "period_start", "period_end", "usage_type", "metric", "quantity", "included",
        "charged", "amount", "currency", "price_id", "tariff", "rate",
        pl.col("destination_id").alias("destination"), "tax_category",
        pl.lit(ctx.now, dtype=utc).alias("rated_at"),
        pl.lit(None, dtype=pl.Utf8).alias("invoice_id"), pl.lit(False).alias("correction"),
        pl.when(pl.col("allowance_scope").is_not_null())
        .then(pl.struct(allowance.alias("allowance"))).alias("detail"))


def mark_invoiced_many(ctx: Context, invoice_of: Mapping[int, str]) -> int:
    """Billing's call when it issues invoices: each rated row (id) is on its invoice
    (invoice id), and no longer summed into the next one. Answers how many rows were
    marked: fewer than given when some were re-rated (no longer current) or invoiced
    since they were read."""
    return queries.mark_invoiced_many(ctx, invoice_of) if invoice_of else 0
