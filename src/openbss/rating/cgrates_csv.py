"""CGRateS tariff-plan CSV folders: read into a :class:`TariffSet`, write back.

Files read (CGRateS's csv loader columns, a ``#`` line is a header or comment):

=====================  ====================================================================
Destinations.csv       ``Id, Prefix``
Rates.csv              ``Id, ConnectFee, Rate, RateUnit, RateIncrement, GroupIntervalStart``
DestinationRates.csv   ``Id, DestinationId, RatesTag, RoundingMethod, RoundingDecimals,
                       MaxCost, MaxCostStrategy``
Timings.csv            ``Id, Years, Months, MonthDays, WeekDays, Time``
RatingPlans.csv        ``Id, DestinationRatesId, TimingTag, Weight``
RatingProfiles.csv     ``Tenant, Category, Subject, ActivationTime, RatingPlanId,
                       RatesFallbackSubject`` (the older layout with a leading
                       ``Direction`` column ``*out`` is read too)
=====================  ====================================================================

Every other file of the folder is reported by :func:`ignored_files`. Durations are Go
durations (``60s``, ``1m``, ``500ms``); a number without a unit is a count (SMS, data) —
the rates written that way are remembered in ``TariffSet.count_rates`` so that
:func:`write_dir` writes them back the same way. Empty cells take CGRateS's defaults (0,
``*any``). A bad cell → ValidationError naming ``file:line:column``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openbss.core.errors import ValidationError
from openbss.rating.tariff import (
    ANY,
    Binding,
    DestinationRate,
    RateSlot,
    RatingProfile,
    TariffSet,
    Timing,
    format_instant,
    parse_decimal,
    parse_instant,
)
from openbss.rating.telecom import parse_usage

FILES = ("Destinations.csv", "Rates.csv", "DestinationRates.csv", "Timings.csv",
         "RatingPlans.csv", "RatingProfiles.csv")
HEADERS = {
    "Destinations.csv": ["Id", "Prefix"],
    "Rates.csv": ["Id", "ConnectFee", "Rate", "RateUnit", "RateIncrement",
                  "GroupIntervalStart"],
    "DestinationRates.csv": ["Id", "DestinationId", "RatesTag", "RoundingMethod",
                             "RoundingDecimals", "MaxCost", "MaxCostStrategy"],
    "Timings.csv": ["Id", "Years", "Months", "MonthDays", "WeekDays", "Time"],
    "RatingPlans.csv": ["Id", "DestinationRatesId", "TimingTag", "Weight"],
    "RatingProfiles.csv": ["Tenant", "Category", "Subject", "ActivationTime", "RatingPlanId",
                           "RatesFallbackSubject"],
}
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    cells: list[str]

    def get(self, index: int) -> str:
        return self.cells[index].strip() if index < len(self.cells) else ""

    def where(self, index: int) -> str:
        return f"{self.file}:{self.line}:{HEADERS[self.file][index]}"


def ignored_files(path: str | Path) -> list[str]:
    """The folder's files that :func:`read_dir` does not read (sorted)."""
    folder = Path(path)
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in FILES)


def _rows(folder: Path, name: str) -> Iterator[Row]:
    file = folder / name
    if not file.is_file():
        return
    if file.stat().st_size > MAX_FILE_BYTES:
        raise ValidationError(f"{name} is larger than {MAX_FILE_BYTES} bytes", field=name)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{name} is not UTF-8", field=name) from exc
    for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        width = len(HEADERS[name])
        if name == "RatingProfiles.csv" and len(cells) == width + 1 and \
                cells[0].strip().startswith("*"):
            cells = cells[1:]  # the older layout's Direction column
        if len(cells) < 2:
            raise ValidationError(f"{name} line {number}: expected {width} columns",
                                  field=f"{name}:{number}")
        yield Row(name, number, cells)


def _dec(row: Row, index: int, default: str = "0") -> Decimal:
    value = row.get(index) or default
    try:
        return parse_decimal(value, row.where(index))
    except ValidationError as exc:
        raise ValidationError(f"{row.where(index)}: {exc.message}", field=row.where(index)) from exc


def _duration(row: Row, index: int) -> tuple[Decimal, bool]:
    """(value, was it a plain count)."""
    text = row.get(index) or "0"
    try:
        return parse_usage(text, field=row.where(index)), text.replace(".", "").isdigit()
    except ValidationError as exc:
        raise ValidationError(f"{row.where(index)}: {exc.message}", field=row.where(index)) from exc


def _ints(row: Row, index: int) -> tuple[int, ...]:
    text = row.get(index)
    if text in ("", ANY):
        return ()
    try:
        return tuple(int(p) for p in text.split(";") if p.strip())
    except ValueError as exc:
        raise ValidationError(f"{row.where(index)}: {text!r} is not a ;-list of integers",
                              field=row.where(index)) from exc


def _required(row: Row, index: int) -> str:
    value = row.get(index)
    if not value:
        raise ValidationError(f"{row.where(index)} is empty", field=row.where(index))
    return value


def read_dir(path: str | Path, *, currency: str = "EUR", time_zone: str = "UTC") -> TariffSet:
    """The tariff set of a CGRateS tariff-plan folder (see the module docstring)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValidationError(f"{folder} is not a directory", field="directory")
    destinations: dict[str, list[str]] = {}
    for row in _rows(folder, "Destinations.csv"):
        prefixes = destinations.setdefault(_required(row, 0), [])
        prefix = _required(row, 1)
        if prefix not in prefixes:
            prefixes.append(prefix)
    rates: dict[str, list[RateSlot]] = {}
    count_rates: set[str] = set()
    for row in _rows(folder, "Rates.csv"):
        rid = _required(row, 0)
        unit, unit_count = _duration(row, 3)
        increment, inc_count = _duration(row, 4)
        start, _ = _duration(row, 5)
        if unit_count and inc_count:
            count_rates.add(rid)
        rates.setdefault(rid, []).append(RateSlot(
            connect_fee=_dec(row, 1), rate=_dec(row, 2), rate_unit=unit,
            rate_increment=increment, group_interval_start=start))
    drs: dict[str, list[DestinationRate]] = {}
    for row in _rows(folder, "DestinationRates.csv"):
        decimals_text = row.get(4) or "0"
        if not decimals_text.isdigit() or len(decimals_text) > 2:
            raise ValidationError(f"{row.where(4)}: {decimals_text!r} is not an integer",
                                  field=row.where(4))
        drs.setdefault(_required(row, 0), []).append(DestinationRate(
            destination_id=_required(row, 1), rates_id=_required(row, 2),
            rounding_method=row.get(3), rounding_decimals=int(decimals_text),
            max_cost=_dec(row, 5), max_cost_strategy=row.get(6)))
    timings: dict[str, Timing] = {}
    for row in _rows(folder, "Timings.csv"):
        time = row.get(5)
        timings[_required(row, 0)] = Timing(
            years=_ints(row, 1), months=_ints(row, 2), month_days=_ints(row, 3),
            week_days=_ints(row, 4),
            time="00:00:00" if time in ("", ANY, "*asap") else time)
    plans: dict[str, list[Binding]] = {}
    for row in _rows(folder, "RatingPlans.csv"):
        plans.setdefault(_required(row, 0), []).append(Binding(
            destination_rates_id=_required(row, 1), timing_id=row.get(2) or ANY,
            weight=_dec(row, 3)))
    profiles: list[RatingProfile] = []
    for row in _rows(folder, "RatingProfiles.csv"):
        try:
            activation = parse_instant(_required(row, 3), row.where(3))
        except ValidationError as exc:
            raise ValidationError(f"{row.where(3)}: {exc.message}", field=row.where(3)) from exc
        profiles.append(RatingProfile(
            tenant=_required(row, 0), category=_required(row, 1), subject=_required(row, 2),
            activation_time=activation, rating_plan_id=_required(row, 4),
            fallback_subjects=tuple(s.strip() for s in row.get(5).split(";") if s.strip())))
    try:
        return TariffSet(
            currency=currency, time_zone=time_zone,
            destinations={k: tuple(v) for k, v in destinations.items()},
            rates={k: tuple(sorted(v, key=lambda s: s.group_interval_start))
                   for k, v in rates.items()},
            destination_rates={k: tuple(v) for k, v in drs.items()},
            timings=timings,
            rating_plans={k: tuple(v) for k, v in plans.items()},
            rating_profiles=tuple(profiles),
            count_rates=frozenset(count_rates))
    except ValidationError as exc:
        raise ValidationError(f"{folder.name}: {exc.message} ({exc.field})",
                              field=exc.field) from exc


def _num(d: Decimal) -> str:
    return format(d.normalize(), "f") if d != 0 else "0"


def _dur(d: Decimal, count: bool) -> str:
    return _num(d) if count else f"{_num(d)}s"


def _list(values: tuple[int, ...]) -> str:
    return ";".join(str(v) for v in values) if values else ANY


def write_dir(tariffs: TariffSet, path: str | Path) -> list[str]:
    """Write the six CSV files into ``path`` (created if missing); returns their names."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[list[str]]] = {name: [] for name in FILES}
    for dest_id, prefixes in tariffs.destinations.items():
        tables["Destinations.csv"].extend([dest_id, p] for p in prefixes)
    for rid, slots in tariffs.rates.items():
        count = rid in tariffs.count_rates
        tables["Rates.csv"].extend(
            [rid, _num(s.connect_fee), _num(s.rate), _dur(s.rate_unit, count),
             _dur(s.rate_increment, count), _dur(s.group_interval_start, count)]
            for s in slots)
    for dr_id, items in tariffs.destination_rates.items():
        tables["DestinationRates.csv"].extend(
            [dr_id, d.destination_id, d.rates_id, d.rounding_method, str(d.rounding_decimals),
             _num(d.max_cost), d.max_cost_strategy] for d in items)
    for tid, t in tariffs.timings.items():
        tables["Timings.csv"].append([tid, _list(t.years), _list(t.months),
                                      _list(t.month_days), _list(t.week_days), t.time])
    for pid, bindings in tariffs.rating_plans.items():
        tables["RatingPlans.csv"].extend(
            [pid, b.destination_rates_id, b.timing_id, _num(b.weight)] for b in bindings)
    for p in tariffs.rating_profiles:
        tables["RatingProfiles.csv"].append(
            [p.tenant, p.category, p.subject, format_instant(p.activation_time),
             p.rating_plan_id, ";".join(p.fallback_subjects)])
    for name, rows in tables.items():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        out.write("#" + ",".join(HEADERS[name]) + "\n")
        writer.writerows(rows)
        (folder / name).write_text(out.getvalue(), encoding="utf-8")
    return list(FILES)
