"""The telecom tariff model (pure: no I/O, no clock, no database).

A :class:`TariffSet` is what a CGRateS tariff-plan folder describes, with exact Decimals:

- ``destinations``: ``{id: (prefix, ...)}`` — a called number belongs to the destination of
  its longest matching prefix;
- ``rates``: ``{id: (RateSlot, ...)}`` — slots by elapsed time (``group_interval_start``),
  each with a rate per ``rate_unit`` charged in ``rate_increment`` steps; the connect fee
  of a rate is the one of its *first* slot (CGRateS's loader does the same). Durations are
  seconds as Decimal; for SMS/data the unit is a count (CGRateS writes ``1`` without ``s``);
- ``destination_rates``: ``{id: (DestinationRate, ...)}`` — which rates apply to which
  destination (or ``*any``), with the rounding method and decimals and the max cost;
- ``timings``: ``{id: Timing}`` — when a binding applies (years, months, month days, week
  days with 0 = Sunday as Go's ``time.Weekday``; 7 is Sunday too, as CGRateS's own sample
  data writes weekends ``6;7``), start time), in the tariff's
  ``time_zone``; ``*any`` is built in (always);
- ``rating_plans``: ``{id: (Binding, ...)}`` — destination rates bound to a timing with a
  weight;
- ``rating_profiles``: who uses which plan from when: ``(tenant, category, subject,
  activation_time, rating_plan_id, fallback_subjects)``.

``to_dict`` / ``from_dict`` give a JSON round trip (Decimals as strings, camelCase keys);
every validation error is a :class:`~openbss.core.errors.ValidationError` naming the path
(``rates[RT_10CNT][1].rateIncrement``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property, lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openbss.core.errors import ValidationError

T = TypeVar("T")
ANY = "*any"
ROUNDING_METHODS = ("*up", "*down", "*middle", "")  # "" = no rounding (as CGRateS)
MAX_COST_STRATEGIES = ("", "*disconnect", "*free")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")
_ID = re.compile(r"^[^\s,;]{1,128}$")
_PREFIX = re.compile(r"^\+?[0-9A-Za-z*#_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RateSlot:
    """One slot of a rate: from ``group_interval_start`` seconds (units) into the call,
    ``rate`` per ``rate_unit`` charged in steps of ``rate_increment``."""

    connect_fee: Decimal
    rate: Decimal
    rate_unit: Decimal
    rate_increment: Decimal
    group_interval_start: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class DestinationRate:
    """``rates_id`` applied to ``destination_id`` (or ``*any``). ``max_cost`` 0 = none."""

    destination_id: str
    rates_id: str
    rounding_method: str = "*up"
    rounding_decimals: int = 4
    max_cost: Decimal = Decimal(0)
    max_cost_strategy: str = ""


@dataclass(frozen=True, slots=True)
class Timing:
    """When a binding applies. Empty tuples mean any; ``time`` is the start time of day
    (``HH:MM:SS``) in the tariff's time zone."""

    years: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    month_days: tuple[int, ...] = ()
    week_days: tuple[int, ...] = ()
    time: str = "00:00:00"

    @property
    def start_seconds(self) -> int:
        return _seconds_of_day(self.time)


@lru_cache(maxsize=1024)
def _seconds_of_day(text: str) -> int:
    h, m, s = (int(p) for p in text.split(":"))
    return h * 3600 + m * 60 + s


ANY_TIMING = Timing()


@dataclass(frozen=True, slots=True)
class Binding:
    """A rating plan's binding of destination rates to a timing, with a weight."""

    destination_rates_id: str
    timing_id: str = ANY
    weight: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class RatingProfile:
    """From ``activation_time`` on, (tenant, category, subject) rates with
    ``rating_plan_id``; when it does not cover a destination, ``fallback_subjects`` are
    tried in order (CGRateS's RatesFallbackSubject)."""

    tenant: str
    category: str
    subject: str
    activation_time: datetime
    rating_plan_id: str
    fallback_subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class TariffSet:
    """A tenant's telecom tariffs (see the module docstring). Validated on construction."""

    currency: str = "EUR"
    destinations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rates: Mapping[str, tuple[RateSlot, ...]] = field(default_factory=dict)
    destination_rates: Mapping[str, tuple[DestinationRate, ...]] = field(default_factory=dict)
    timings: Mapping[str, Timing] = field(default_factory=dict)
    rating_plans: Mapping[str, tuple[Binding, ...]] = field(default_factory=dict)
    rating_profiles: tuple[RatingProfile, ...] = ()
    time_zone: str = "UTC"
    #: rates whose durations are counts (SMS, data: CGRateS writes ``1``, not ``1s``);
    #: only the CSV writer needs it
    count_rates: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _validate(self)

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    # -- derived look-ups (computed once per instance) -----------------------------------

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """A per-instance cache for the rating modules (plan look-ups, prefix matches)."""
        return {}

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def prefix_index(self) -> dict[str, tuple[str, ...]]:
        """prefix → destination ids having it (file order)."""
        index: dict[str, list[str]] = {}
        for dest_id, prefixes in self.destinations.items():
            for prefix in prefixes:
                ids = index.setdefault(prefix, [])
                if dest_id not in ids:
                    ids.append(dest_id)
        return {p: tuple(ids) for p, ids in index.items()}

    @cached_property
    def prefix_lengths(self) -> tuple[int, ...]:
        """Prefix lengths present, longest first."""
        return tuple(sorted({len(p) for p in self.prefix_index}, reverse=True))

    def timing(self, timing_id: str) -> Timing:
        if timing_id == ANY and ANY not in self.timings:
            return ANY_TIMING
        return self.timings[timing_id]

    # -- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "timeZone": self.time_zone,
            "destinations": {k: list(v) for k, v in self.destinations.items()},
            "rates": {k: [_slot_dict(s) for s in v] for k, v in self.rates.items()},
            "destinationRates": {k: [_dr_dict(d) for d in v]
                                 for k, v in self.destination_rates.items()},
            "timings": {k: _timing_dict(t) for k, t in self.timings.items()},
            "ratingPlans": {k: [_binding_dict(b) for b in v]
                            for k, v in self.rating_plans.items()},
            "ratingProfiles": [_profile_dict(p) for p in self.rating_profiles],
            "countRates": sorted(self.count_rates),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TariffSet:
        """Build from :meth:`to_dict`'s shape; errors name the path of the bad value."""
        if not isinstance(data, Mapping):
            raise ValidationError("a tariff set must be an object", field="tariffs")
        known = {"currency", "timeZone", "destinations", "rates", "destinationRates",
                 "timings", "ratingPlans", "ratingProfiles", "countRates"}
        for key in data:
            if key not in known:
                raise ValidationError(f"unknown field {key!r}", field=str(key))
        currency = data.get("currency", "EUR")
        time_zone = data.get("timeZone", "UTC")
        if not isinstance(currency, str):
            raise ValidationError("currency must be a string", field="currency")
        if not isinstance(time_zone, str):
            raise ValidationError("timeZone must be a string", field="timeZone")
        destinations = {
            k: tuple(_str(p, f"destinations[{k}][{i}]")
                     for i, p in enumerate(_list(v, f"destinations[{k}]")))
            for k, v in _obj(data.get("destinations", {}), "destinations").items()
        }
        rates = {
            k: tuple(_slot_from(s, f"rates[{k}][{i}]")
                     for i, s in enumerate(_list(v, f"rates[{k}]")))
            for k, v in _obj(data.get("rates", {}), "rates").items()
        }
        drs = {
            k: tuple(_dr_from(d, f"destinationRates[{k}][{i}]")
                     for i, d in enumerate(_list(v, f"destinationRates[{k}]")))
            for k, v in _obj(data.get("destinationRates", {}), "destinationRates").items()
        }
        timings = {k: _timing_from(t, f"timings[{k}]")
                   for k, t in _obj(data.get("timings", {}), "timings").items()}
        plans = {
            k: tuple(_binding_from(b, f"ratingPlans[{k}][{i}]")
                     for i, b in enumerate(_list(v, f"ratingPlans[{k}]")))
            for k, v in _obj(data.get("ratingPlans", {}), "ratingPlans").items()
        }
        profiles = tuple(_profile_from(p, f"ratingProfiles[{i}]")
                         for i, p in enumerate(_list(data.get("ratingProfiles", []),
                                                     "ratingProfiles")))
        count_rates = frozenset(
            _str(r, f"countRates[{i}]")
            for i, r in enumerate(_list(data.get("countRates", []), "countRates")))
        return cls(currency=currency, destinations=destinations, rates=rates,
                   destination_rates=drs, timings=timings, rating_plans=plans,
                   rating_profiles=profiles, time_zone=time_zone, count_rates=count_rates)

    # -- combining -------------------------------------------------------------------------

    def merge(self, other: TariffSet) -> TariffSet:
        """This set and ``other`` together (a tenant may import several folders). An id
        defined in both with different content → ValidationError naming it; identical
        definitions are kept once. Currencies and time zones must agree."""
        if self.currency != other.currency:
            raise ValidationError(
                f"currency {other.currency} differs from {self.currency}", field="currency")
        if self.time_zone != other.time_zone:
            raise ValidationError(
                f"time zone {other.time_zone} differs from {self.time_zone}", field="timeZone")
        profiles = list(self.rating_profiles)
        seen = {(p.tenant, p.category, p.subject, p.activation_time): p for p in profiles}
        for p in other.rating_profiles:
            key = (p.tenant, p.category, p.subject, p.activation_time)
            if key in seen:
                if seen[key] != p:
                    raise ValidationError(
                        f"rating profile {p.tenant}:{p.category}:{p.subject} activated at "
                        f"{p.activation_time.isoformat()} defined twice differently",
                        field=f"ratingProfiles[{p.tenant}:{p.category}:{p.subject}]")
                continue
            seen[key] = p
            profiles.append(p)
        return TariffSet(
            currency=self.currency, time_zone=self.time_zone,
            destinations=_merge_maps(self.destinations, other.destinations, "destinations"),
            rates=_merge_maps(self.rates, other.rates, "rates"),
            destination_rates=_merge_maps(self.destination_rates, other.destination_rates,
                                          "destinationRates"),
            timings=_merge_maps(self.timings, other.timings, "timings"),
            rating_plans=_merge_maps(self.rating_plans, other.rating_plans, "ratingPlans"),
            rating_profiles=tuple(profiles),
            count_rates=self.count_rates | other.count_rates,
        )


def merge_all(sets: Iterable[TariffSet]) -> TariffSet | None:
    """The merge of ``sets`` (None for none)."""
    result: TariffSet | None = None
    for s in sets:
        result = s if result is None else result.merge(s)
    return result


def _merge_maps(a: Mapping[str, T], b: Mapping[str, T], name: str) -> dict[str, T]:
    out = dict(a)
    for key, value in b.items():
        if key in out and out[key] != value:
            raise ValidationError(f"{name} {key} is defined twice differently",
                                  field=f"{name}[{key}]")
        out[key] = value
    return out


# -- validation ----------------------------------------------------------------------------


def _validate(t: TariffSet) -> None:
    if not re.fullmatch(r"[A-Z]{3}", t.currency or ""):
        raise ValidationError("currency must be an ISO 4217 code", field="currency")
    try:
        ZoneInfo(t.time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationError(f"unknown time zone {t.time_zone!r}", field="timeZone") from exc
    for rates_id in t.count_rates:
        if rates_id not in t.rates:
            raise ValidationError(f"unknown rates {rates_id!r}", field="countRates")
    for dest_id, prefixes in t.destinations.items():
        _check_id(dest_id, f"destinations[{dest_id}]")
        if dest_id == ANY:
            raise ValidationError("*any is not a destination id", field=f"destinations[{dest_id}]")
        if not prefixes:
            raise ValidationError("a destination needs a prefix", field=f"destinations[{dest_id}]")
        for i, prefix in enumerate(prefixes):
            if not isinstance(prefix, str) or not _PREFIX.match(prefix):
                raise ValidationError(f"bad prefix {prefix!r}",
                                      field=f"destinations[{dest_id}][{i}]")
    for rates_id, slots in t.rates.items():
        _check_group(rates_id, slots, f"rates[{rates_id}]", "a rate needs a slot")
        previous: Decimal | None = None
        for i, s in enumerate(slots):
            path = f"rates[{rates_id}][{i}]"
            _dec(s.connect_fee, f"{path}.connectFee")
            _dec(s.rate, f"{path}.rate")
            _dec(s.rate_unit, f"{path}.rateUnit", positive=True)
            _dec(s.rate_increment, f"{path}.rateIncrement", positive=True)
            _dec(s.group_interval_start, f"{path}.groupIntervalStart", non_negative=True)
            if previous is None and s.group_interval_start != 0:
                raise ValidationError("the first slot must start at 0",
                                      field=f"{path}.groupIntervalStart")
            if previous is not None and s.group_interval_start <= previous:
                raise ValidationError("slots must be in increasing groupIntervalStart",
                                      field=f"{path}.groupIntervalStart")
            previous = s.group_interval_start
    for dr_id, items in t.destination_rates.items():
        _check_group(dr_id, items, f"destinationRates[{dr_id}]", "empty destination rate")
        for i, d in enumerate(items):
            path = f"destinationRates[{dr_id}][{i}]"
            if d.destination_id != ANY and d.destination_id not in t.destinations:
                raise ValidationError(f"unknown destination {d.destination_id!r}",
                                      field=f"{path}.destinationId")
            if d.rates_id not in t.rates:
                raise ValidationError(f"unknown rates {d.rates_id!r}", field=f"{path}.ratesId")
            if d.rounding_method not in ROUNDING_METHODS:
                raise ValidationError(f"roundingMethod must be one of {ROUNDING_METHODS}",
                                      field=f"{path}.roundingMethod")
            if (not isinstance(d.rounding_decimals, int) or isinstance(d.rounding_decimals, bool)
                    or not 0 <= d.rounding_decimals <= 12):
                raise ValidationError("roundingDecimals must be an integer 0..12",
                                      field=f"{path}.roundingDecimals")
            _dec(d.max_cost, f"{path}.maxCost", non_negative=True)
            if d.max_cost_strategy not in MAX_COST_STRATEGIES:
                raise ValidationError("maxCostStrategy must be *disconnect, *free or empty",
                                      field=f"{path}.maxCostStrategy")
    for timing_id, tm in t.timings.items():
        _check_id(timing_id, f"timings[{timing_id}]")
        _check_ints(tm.years, 1, 9999, f"timings[{timing_id}].years")
        _check_ints(tm.months, 1, 12, f"timings[{timing_id}].months")
        _check_ints(tm.month_days, 1, 31, f"timings[{timing_id}].monthDays")
        _check_ints(tm.week_days, 0, 7, f"timings[{timing_id}].weekDays")
        if not isinstance(tm.time, str) or not _TIME.match(tm.time):
            raise ValidationError("time must be HH:MM:SS", field=f"timings[{timing_id}].time")
    for plan_id, bindings in t.rating_plans.items():
        _check_group(plan_id, bindings, f"ratingPlans[{plan_id}]",
                     "a rating plan needs a binding")
        for i, b in enumerate(bindings):
            path = f"ratingPlans[{plan_id}][{i}]"
            if b.destination_rates_id not in t.destination_rates:
                raise ValidationError(f"unknown destination rates {b.destination_rates_id!r}",
                                      field=f"{path}.destinationRatesId")
            if b.timing_id != ANY and b.timing_id not in t.timings:
                raise ValidationError(f"unknown timing {b.timing_id!r}", field=f"{path}.timingId")
            _dec(b.weight, f"{path}.weight")
    for i, p in enumerate(t.rating_profiles):
        path = f"ratingProfiles[{i}]"
        for name, value in (("tenant", p.tenant), ("category", p.category),
                            ("subject", p.subject)):
            if not isinstance(value, str) or not value or len(value) > 128:
                raise ValidationError(f"{name} must be a non-empty string",
                                      field=f"{path}.{name}")
        if not isinstance(p.activation_time, datetime) or p.activation_time.tzinfo is None:
            raise ValidationError("activationTime must be an aware datetime",
                                  field=f"{path}.activationTime")
        if p.rating_plan_id not in t.rating_plans:
            raise ValidationError(f"unknown rating plan {p.rating_plan_id!r}",
                                  field=f"{path}.ratingPlanId")
        for j, subject in enumerate(p.fallback_subjects):
            if not isinstance(subject, str) or not subject:
                raise ValidationError("fallback subjects must be non-empty strings",
                                      field=f"{path}.fallbackSubjects[{j}]")


def _check_group(key: object, items: tuple[Any, ...], path: str, empty: str) -> None:
    _check_id(key, path)
    if not items:
        raise ValidationError(empty, field=path)


def _check_id(value: object, path: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValidationError(f"bad id {value!r}", field=path)


def _check_ints(values: object, low: int, high: int, path: str) -> None:
    if not isinstance(values, tuple):
        raise ValidationError("must be a list of integers", field=path)
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise ValidationError(f"{v!r} is not an integer in {low}..{high}", field=path)


def _dec(value: object, path: str, *, positive: bool = False,
         non_negative: bool = False) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError("must be a finite decimal", field=path)
    if positive and value <= 0:
        raise ValidationError("must be greater than 0", field=path)
    if non_negative and value < 0:
        raise ValidationError("must not be negative", field=path)


# -- JSON helpers --------------------------------------------------------------------------


def _s(d: Decimal) -> str:
    return format(d, "f")


def _slot_dict(s: RateSlot) -> dict[str, Any]:
    return {"connectFee": _s(s.connect_fee), "rate": _s(s.rate), "rateUnit": _s(s.rate_unit),
            "rateIncrement": _s(s.rate_increment),
            "groupIntervalStart": _s(s.group_interval_start)}


def _dr_dict(d: DestinationRate) -> dict[str, Any]:
    return {"destinationId": d.destination_id, "ratesId": d.rates_id,
            "roundingMethod": d.rounding_method, "roundingDecimals": d.rounding_decimals,
            "maxCost": _s(d.max_cost), "maxCostStrategy": d.max_cost_strategy}


def _timing_dict(t: Timing) -> dict[str, Any]:
    return {"years": list(t.years), "months": list(t.months), "monthDays": list(t.month_days),
            "weekDays": list(t.week_days), "time": t.time}


def _binding_dict(b: Binding) -> dict[str, Any]:
    return {"destinationRatesId": b.destination_rates_id, "timingId": b.timing_id,
            "weight": _s(b.weight)}


def _profile_dict(p: RatingProfile) -> dict[str, Any]:
    return {"tenant": p.tenant, "category": p.category, "subject": p.subject,
            "activationTime": format_instant(p.activation_time),
            "ratingPlanId": p.rating_plan_id, "fallbackSubjects": list(p.fallback_subjects)}


def format_instant(t: datetime) -> str:
    """ISO 8601 in UTC with ``Z``."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_decimal(value: object, path: str) -> Decimal:
    """A finite Decimal from a string, int or Decimal (never a float)."""
    if isinstance(value, bool | float):
        raise ValidationError("must be a decimal string or an integer", field=path)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise ValidationError(f"{value!r} is not a decimal", field=path)
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValidationError(f"{value!r} is not a decimal", field=path) from exc
    else:
        raise ValidationError("must be a decimal string", field=path)
    if not result.is_finite():
        raise ValidationError(f"{value!r} is not a finite decimal", field=path)
    return result


def parse_instant(value: object, path: str) -> datetime:
    """An aware datetime from ISO 8601 text (a naive one is read as UTC, as CGRateS)."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"{value!r} is not an ISO 8601 time", field=path) from exc
    else:
        raise ValidationError("must be an ISO 8601 time", field=path)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("must be an object", field=path)
    for key in value:
        _check_id(key, f"{path}[{key}]")
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValidationError("must be a list", field=path)
    return list(value)


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ValidationError("must be a string", field=path)
    return value


def _fields(value: object, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError("must be an object", field=path)
    for key in value:
        if key not in allowed:
            raise ValidationError(f"unknown field {key!r}", field=f"{path}.{key}")
    return value


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError("must be an integer", field=path)
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not an integer", field=path) from exc


def _slot_from(value: object, path: str) -> RateSlot:
    d = _fields(value, path, {"connectFee", "rate", "rateUnit", "rateIncrement",
                              "groupIntervalStart"})
    return RateSlot(
        connect_fee=parse_decimal(d.get("connectFee", "0"), f"{path}.connectFee"),
        rate=parse_decimal(d.get("rate"), f"{path}.rate"),
        rate_unit=parse_decimal(d.get("rateUnit"), f"{path}.rateUnit"),
        rate_increment=parse_decimal(d.get("rateIncrement"), f"{path}.rateIncrement"),
        group_interval_start=parse_decimal(d.get("groupIntervalStart", "0"),
                                           f"{path}.groupIntervalStart"))


def _dr_from(value: object, path: str) -> DestinationRate:
    d = _fields(value, path, {"destinationId", "ratesId", "roundingMethod",
                              "roundingDecimals", "maxCost", "maxCostStrategy"})
    return DestinationRate(
        destination_id=_str(d.get("destinationId"), f"{path}.destinationId"),
        rates_id=_str(d.get("ratesId"), f"{path}.ratesId"),
        rounding_method=_str(d.get("roundingMethod", "*up"), f"{path}.roundingMethod"),
        rounding_decimals=_int(d.get("roundingDecimals", 4), f"{path}.roundingDecimals"),
        max_cost=parse_decimal(d.get("maxCost", "0"), f"{path}.maxCost"),
        max_cost_strategy=_str(d.get("maxCostStrategy", ""), f"{path}.maxCostStrategy"))


def _timing_from(value: object, path: str) -> Timing:
    d = _fields(value, path, {"years", "months", "monthDays", "weekDays", "time"})

    def ints(key: str) -> tuple[int, ...]:
        return tuple(_int(v, f"{path}.{key}") for v in _list(d.get(key, []), f"{path}.{key}"))

    return Timing(years=ints("years"), months=ints("months"), month_days=ints("monthDays"),
                  week_days=ints("weekDays"), time=_str(d.get("time", "00:00:00"), f"{path}.time"))


def _binding_from(value: object, path: str) -> Binding:
    d = _fields(value, path, {"destinationRatesId", "timingId", "weight"})
    return Binding(
        destination_rates_id=_str(d.get("destinationRatesId"), f"{path}.destinationRatesId"),
        timing_id=_str(d.get("timingId", ANY), f"{path}.timingId"),
        weight=parse_decimal(d.get("weight", "0"), f"{path}.weight"))


def _profile_from(value: object, path: str) -> RatingProfile:
    d = _fields(value, path, {"tenant", "category", "subject", "activationTime",
                              "ratingPlanId", "fallbackSubjects"})
    return RatingProfile(
        tenant=_str(d.get("tenant"), f"{path}.tenant"),
        category=_str(d.get("category"), f"{path}.category"),
        subject=_str(d.get("subject"), f"{path}.subject"),
        activation_time=parse_instant(d.get("activationTime"), f"{path}.activationTime"),
        rating_plan_id=_str(d.get("ratingPlanId"), f"{path}.ratingPlanId"),
        fallback_subjects=tuple(_str(s, f"{path}.fallbackSubjects[{i}]") for i, s in
                                enumerate(_list(d.get("fallbackSubjects", []),
                                                f"{path}.fallbackSubjects"))))
