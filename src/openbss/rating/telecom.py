"""CGRateS-exact telecom rating (pure: no I/O, no clock, no database).

The meaning is CGRateS's own (engine/calldesc.go, timespans.go, rateinterval.go,
ratingprofile.go, utils/coreutils.go), computed with exact Decimals:

1. **Rating plan.** :func:`cost` picks the rating profile of (tenant, category, subject)
   whose activation time is the latest at or before the answer time; a call crossing a
   later activation is split there and each part is rated with its own plan. A subject
   without any profile falls back to the ``*any`` subject; parts a plan does not cover
   are tried with the profile's ``fallback_subjects`` (RatesFallbackSubject, at most 3
   levels deep). :func:`rate_plan` rates with a plan named directly.
2. **Destination.** The longest prefix of the called number that belongs to a destination
   the plan has rates for (any timing); among destinations sharing that prefix, the
   highest binding weight, then file order; else the plan's ``*any`` destination rates.
3. **Timespans** (voice). The call ``[answer, answer + usage)`` is split at midnight (in
   the tariff's time zone), where another binding of the destination takes over (the
   binding whose timing is active — years, months, month days, week days, start time —
   with the highest weight, then the latest start time, then file order), and at each
   rate slot's ``group_interval_start`` (elapsed time). SMS/data/events are never split
   by time (CGRateS's ``data`` mode): the binding active at the start rates it all.
4. **Increments.** Each timespan's duration is rounded up to a multiple of its slot's
   ``rate_increment``; a timespan extended that way swallows what it now overlaps of the
   next ones (``roundTimeSpansToIncrement``). Its cost is
   ``round(duration × rate / rate_unit, 5, *middle)`` and each of its ``n`` increments
   costs ``round(cost / n, 5, *middle)`` (CGRateS's global rounding decimals, 5 by
   default); the timespan costs ``n × increment cost``.
5. **Total.** The connect fee of the first timespan's rate (its first slot's) + the
   timespans; max cost: ``*free`` caps the running total at ``max_cost``, ``*disconnect``
   ends the call before the first increment that starts with the cost so far already at
   ``max_cost`` (the usage is cut there); then the total is rounded with the rounding
   method of the timespan with the most rounding decimals (no rounding if all have 0).
   ``*up`` is ``ROUND_CEILING``, ``*down`` ``ROUND_FLOOR``, ``*middle`` ``ROUND_HALF_UP``.

Usage 0: :func:`cost` answers 0 without connect fee and without error (CGRateS's
``getCost`` returns an empty cost for a zero duration); :func:`rate_plan` too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from openbss.core.errors import ValidationError
from openbss.rating.errors import RatingPlanNotFound, UnauthorizedDestination
from openbss.rating.tariff import (
    ANY,
    DestinationRate,
    RateSlot,
    RatingProfile,
    TariffSet,
    Timing,
)

#: CGRateS's general ``rounding_decimals`` default (config_defaults.go): increments and
#: timespan costs are rounded to it, *middle.
GLOBAL_ROUNDING_DECIMALS = 5
#: Categories rated per unit (never split by time).
UNIT_CATEGORIES = frozenset({"sms", "mms", "data", "generic", "event"})
VOICE = "voice"
MAX_FALLBACK_DEPTH = 3

_ROUNDING = {"*up": ROUND_CEILING, "*down": ROUND_FLOOR, "*middle": ROUND_HALF_UP}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNIT_SECONDS = {"h": Decimal(3600), "m": Decimal(60), "s": Decimal(1),
                 "ms": Decimal("0.001"), "us": Decimal("0.000001"),
                 "µs": Decimal("0.000001"), "ns": Decimal("0.000000001")}
_COUNT = re.compile(r"^\d+(?:\.\d+)?$")
_ZERO = Decimal(0)


def parse_usage(value: object, *, field: str = "usage") -> Decimal:
    """Seconds (or units) from ``"130s"``, ``"2m10s"``, ``"1h2m"``, ``"1.5s"``,
    ``"500ms"``, a number of seconds (int or Decimal) or a plain count (``"10"``).
    Negative, NaN, floats and garbage → ValidationError naming ``field``."""
    if isinstance(value, bool | float):
        raise ValidationError("usage must be a duration string or an exact number",
                              field=field)
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise ValidationError(f"{value!r} is not a usage", field=field)
        if _COUNT.match(text):
            result = Decimal(text)
        elif _DURATION.match(text):
            result = sum((Decimal(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)),
                         _ZERO)
        else:
            raise ValidationError(
                f"{value!r} is not a usage (e.g. \"130s\", \"2m10s\", \"500ms\", \"10\")",
                field=field)
    else:
        raise ValidationError("usage must be a duration string or a number", field=field)
    if not result.is_finite() or result < 0:
        raise ValidationError(f"{value!r} is not a non-negative usage", field=field)
    if result > Decimal(10) ** 15:
        raise ValidationError(f"{value!r} is too large", field=field)
    return result


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Increment:
    """One run of equal increments of a timespan: from ``start`` (elapsed seconds/units
    of the call) ``count`` increments of ``step``, each costing ``unit_cost``;
    ``duration`` = count × step, ``cost`` = count × unit_cost, ``rate`` the slot's rate
    per its rate unit."""

    start: Decimal
    duration: Decimal
    rate: Decimal
    cost: Decimal
    step: Decimal = Decimal(1)
    count: int = 1
    unit_cost: Decimal = Decimal(0)
    rate_unit: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class CallCost:
    cost: Decimal
    connect_fee: Decimal
    rating_plan: str | None
    destination_id: str | None
    destination_rate_id: str | None
    rates_id: str | None
    usage: Decimal  # what was rated (cut by *disconnect), elapsed from the call's start
    max_cost_applied: bool = False
    increments: tuple[Increment, ...] = ()
    subject: str | None = None  # the subject whose profile rated it (fallbacks, *any)
    prefix: str | None = None  # the matched destination prefix (or *any)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"start": i.start, "duration": i.duration, "rate": i.rate, "cost": i.cost}
                for i in self.increments]


# -- plan resolution -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateInterval:
    """One binding of a plan for one destination: timing, weight, the destination rate."""

    timing: Timing
    weight: Decimal
    order: int
    destination_rate_id: str
    destination_rate: DestinationRate
    slots: tuple[RateSlot, ...]

    @property
    def connect_fee(self) -> Decimal:
        return self.slots[0].connect_fee

    def slot_at(self, elapsed: Decimal) -> RateSlot:
        chosen = self.slots[0]
        for s in self.slots:
            if s.group_interval_start <= elapsed:
                chosen = s
            else:
                break
        return chosen


@dataclass(frozen=True, slots=True)
class PlanMatch:
    rating_plan: str
    destination_id: str
    prefix: str
    intervals: tuple[RateInterval, ...]


def _memo(tariffs: TariffSet) -> dict[Any, Any]:
    return tariffs.memo


def plan_intervals(tariffs: TariffSet, rating_plan_id: str) -> dict[str, tuple[RateInterval, ...]]:
    """destination id (or ``*any``) → the plan's rate intervals for it (file order)."""
    key = ("plan", rating_plan_id)
    memo = _memo(tariffs)
    if key in memo:
        result: dict[str, tuple[RateInterval, ...]] = memo[key]
        return result
    by_dest: dict[str, list[RateInterval]] = {}
    order = 0
    for binding in tariffs.rating_plans[rating_plan_id]:
        timing = tariffs.timing(binding.timing_id)
        for dr in tariffs.destination_rates[binding.destination_rates_id]:
            by_dest.setdefault(dr.destination_id, []).append(RateInterval(
                timing=timing, weight=binding.weight, order=order,
                destination_rate_id=binding.destination_rates_id, destination_rate=dr,
                slots=tariffs.rates[dr.rates_id]))
            order += 1
    result = {k: tuple(v) for k, v in by_dest.items()}
    memo[key] = result
    return result


def match_plan(tariffs: TariffSet, rating_plan_id: str, destination: str) -> PlanMatch | None:
    """The plan's destination for ``destination`` (longest prefix, then weight, then file
    order; else ``*any``), or None when the plan covers it not at all."""
    if rating_plan_id not in tariffs.rating_plans:
        raise RatingPlanNotFound(f"unknown rating plan {rating_plan_id!r}", field="ratingPlan")
    memo = _memo(tariffs)
    key = ("match", rating_plan_id, destination)
    if key in memo:
        cached: PlanMatch | None = memo[key]
        return cached
    by_dest = plan_intervals(tariffs, rating_plan_id)
    found: PlanMatch | None = None
    if destination and destination != ANY:
        index = tariffs.prefix_index
        for length in tariffs.prefix_lengths:
            if length > len(destination):
                continue
            prefix = destination[:length]
            best: tuple[Decimal, str] | None = None
            for dest_id in index.get(prefix, ()):
                ril = by_dest.get(dest_id)
                if ril:
                    weight = max(ri.weight for ri in ril)
                    if best is None or weight > best[0]:
                        best = (weight, dest_id)
            if best is not None:
                found = PlanMatch(rating_plan_id, best[1], prefix, by_dest[best[1]])
                break
    if found is None and ANY in by_dest:
        found = PlanMatch(rating_plan_id, ANY, ANY, by_dest[ANY])
    if len(memo) < 200_000:
        memo[key] = found
    return found


def destination_of(tariffs: TariffSet, number: str,
                   rating_plan_id: str | None = None) -> str | None:
    """The destination id of ``number``: under ``rating_plan_id`` the plan's match (see
    :func:`match_plan`, ``*any`` included); without a plan the longest-prefix destination
    of the tariffs (first in file order). None when nothing matches."""
    if rating_plan_id is not None:
        m = match_plan(tariffs, rating_plan_id, number)
        return None if m is None else m.destination_id
    index = tariffs.prefix_index
    for length in tariffs.prefix_lengths:
        if length <= len(number) and number[:length] in index:
            return index[number[:length]][0]
    return None


# -- timings -------------------------------------------------------------------------------


def timing_active(t: Timing, local: datetime) -> bool:
    """CGRateS's RITiming.IsActiveAt (start time only: active to the end of the day)."""
    if t.years and local.year not in t.years:
        return False
    if t.months and local.month not in t.months:
        return False
    if t.month_days and local.day not in t.month_days:
        return False
    if t.week_days and (local.isoweekday() % 7) not in t.week_days and not (
            local.isoweekday() == 7 and 7 in t.week_days):
        return False
    tod = local.hour * 3600 + local.minute * 60 + local.second
    return tod >= t.start_seconds


def winner(intervals: Sequence[RateInterval], local: datetime) -> RateInterval | None:
    """The rate interval in force at ``local``: active, highest weight, then the latest
    start time (closest left margin), then file order."""
    best: RateInterval | None = None
    for ri in intervals:
        if not timing_active(ri.timing, local):
            continue
        if best is None or (ri.weight, ri.timing.start_seconds) > (
                best.weight, best.timing.start_seconds):
            best = ri
    return best


def _bands(intervals: Sequence[RateInterval], start: datetime, end: datetime,
           tz: Any) -> list[tuple[datetime, datetime, RateInterval]]:
    """``[start, end)`` (aware) cut at local midnights and where another interval wins."""
    out: list[tuple[datetime, datetime, RateInterval]] = []
    cur = start
    starts = sorted({ri.timing.start_seconds for ri in intervals})
    while cur < end:
        local = cur.astimezone(tz)
        ri = winner(intervals, local)
        if ri is None:
            raise UnauthorizedDestination(
                f"no timing of the rating plan covers {local.isoformat()}")
        midnight_local = (local + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        stop = min(end, midnight_local.astimezone(start.tzinfo))
        tod = local.hour * 3600 + local.minute * 60 + local.second + \
            Decimal(local.microsecond) / 1_000_000
        day0 = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for s in starts:
            if s <= tod:
                continue
            at = (day0 + timedelta(seconds=s)).astimezone(start.tzinfo)
            if at >= stop:
                break
            if winner(intervals, at.astimezone(tz)) is not ri:
                stop = at
                break
        out.append((cur, stop, ri))
        cur = stop
    return out


# -- the timespan arithmetic ---------------------------------------------------------------


def round_cost(value: Decimal, decimals: int, method: str) -> Decimal:
    """CGRateS's utils.Round with exact decimals (unknown method: unchanged)."""
    mode = _ROUNDING.get(method)
    if mode is None:
        return value
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=mode)


def _div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return a / b


_GLOBAL_Q = Decimal(1).scaleb(-GLOBAL_ROUNDING_DECIMALS)


def timespan_cost(duration: Decimal, slot: RateSlot) -> tuple[int, Decimal, Decimal]:
    """(increments, increment cost, timespan cost) of an already rounded ``duration``."""
    n = int(_div(duration, slot.rate_increment))
    raw = _div(duration * slot.rate, slot.rate_unit).quantize(_GLOBAL_Q, rounding=ROUND_HALF_UP)
    unit = _div(raw, Decimal(n)).quantize(_GLOBAL_Q, rounding=ROUND_HALF_UP) if n else _ZERO
    return n, unit, unit * n


@dataclass
class _Span:
    start: Decimal  # elapsed
    end: Decimal
    ri: RateInterval
    plan: PlanMatch
    subject: str | None = None


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    q = _div(value, step)
    n = q.to_integral_value(rounding=ROUND_CEILING)
    return n * step


def _rate_spans(spans: list[_Span], *, usage: Decimal, charge_connect_fee: bool) -> CallCost:
    # split by group interval start (elapsed)
    pieces: list[_Span] = []
    for sp in spans:
        cuts = [s.group_interval_start for s in sp.ri.slots
                if sp.start < s.group_interval_start < sp.end]
        a = sp.start
        for c in cuts:
            pieces.append(_Span(a, c, sp.ri, sp.plan, sp.subject))
            a = c
        pieces.append(_Span(a, sp.end, sp.ri, sp.plan, sp.subject))
    # round each to its increment; an extended one swallows what it overlaps
    rated: list[tuple[_Span, RateSlot, int, Decimal]] = []
    cursor: Decimal | None = None
    for p in pieces:
        start = p.start if cursor is None else max(p.start, cursor)
        if start >= p.end:
            continue
        slot = p.ri.slot_at(start)
        end = start + _ceil_to(p.end - start, slot.rate_increment)
        n, unit, _ = timespan_cost(end - start, slot)
        rated.append((_Span(start, end, p.ri, p.plan, p.subject), slot, n, unit))
        cursor = end
    first = rated[0][0]
    connect_fee = first.ri.connect_fee if charge_connect_fee else _ZERO
    total = connect_fee
    so_far = connect_fee
    increments: list[Increment] = []
    cut: Decimal | None = None
    max_applied = False
    decimals, method = 0, ""
    for sp, slot, n, unit in rated:
        dr = sp.ri.destination_rate
        if dr.rounding_decimals > decimals:
            decimals, method = dr.rounding_decimals, dr.rounding_method
        kept = n
        if dr.max_cost_strategy == "*disconnect" and dr.max_cost > 0:
            if so_far >= dr.max_cost:
                kept = 0
            elif unit > 0:
                need = _div(dr.max_cost - so_far, unit).to_integral_value(rounding=ROUND_CEILING)
                kept = min(n, int(need))
            if kept < n:
                cut = sp.start + kept * slot.rate_increment
                max_applied = True
        span_cost = unit * kept
        so_far += span_cost
        total += span_cost
        if dr.max_cost_strategy == "*free" and dr.max_cost > 0 and total >= dr.max_cost:
            max_applied = max_applied or total > dr.max_cost
            total = dr.max_cost
            so_far = total
        if kept:
            increments.append(Increment(
                start=sp.start, duration=slot.rate_increment * kept, rate=slot.rate,
                cost=span_cost, step=slot.rate_increment, count=kept, unit_cost=unit,
                rate_unit=slot.rate_unit))
        if cut is not None:
            break
    if decimals > 0:
        total = round_cost(total, decimals, method)
    ri = first.ri
    return CallCost(
        cost=total, connect_fee=connect_fee, rating_plan=first.plan.rating_plan,
        destination_id=first.plan.destination_id, destination_rate_id=ri.destination_rate_id,
        rates_id=ri.destination_rate.rates_id,
        usage=usage if cut is None else min(cut, usage), max_cost_applied=max_applied,
        increments=tuple(increments), subject=first.subject, prefix=first.plan.prefix)


def _spans_for(tariffs: TariffSet, match: PlanMatch, answer_time: datetime, a: Decimal,
               b: Decimal, *, voice: bool, subject: str | None = None) -> list[_Span]:
    """Elapsed ``[a, b)`` of a call answered at ``answer_time`` as timespans of ``match``."""
    if not voice:
        local = (answer_time + _td(a)).astimezone(tariffs.zone)
        ri = winner(match.intervals, local)
        if ri is None:
            raise UnauthorizedDestination(
                f"no timing of rating plan {match.rating_plan} covers {local.isoformat()}")
        return [_Span(a, b, ri, match, subject)]
    spans: list[_Span] = []
    t0 = answer_time + _td(a)
    for s, e, ri in _bands(match.intervals, t0, answer_time + _td(b), tariffs.zone):
        spans.append(_Span(a + _secs(s - t0), a + _secs(e - t0), ri, match, subject))
    if spans:
        spans[-1].end = b  # exact end (no microsecond rounding of the last span)
    return spans


def _td(seconds: Decimal) -> timedelta:
    return timedelta(seconds=int(seconds), microseconds=int((seconds % 1) * 1_000_000))


def _secs(delta: timedelta) -> Decimal:
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def _empty(rating_plan: str | None = None) -> CallCost:
    return CallCost(cost=_ZERO, connect_fee=_ZERO, rating_plan=rating_plan, destination_id=None,
                    destination_rate_id=None, rates_id=None, usage=_ZERO)


def rate_plan(tariffs: TariffSet, *, rating_plan_id: str, destination: str,
              answer_time: datetime, usage: Decimal, skip: Decimal = _ZERO,
              usage_type: str | None = None) -> CallCost:
    """Rate the elapsed interval ``[skip, usage)`` of a call with a known plan (see the
    module docstring). ``skip`` is what an allowance already covered: slots by elapsed
    time still count from the call's start, increments from ``skip``, the connect fee
    only when ``skip == 0``; ``skip >= usage`` (and usage 0) costs 0. ``usage_type`` other
    than ``voice`` (None = voice) is never split by time. Unknown plan →
    RatingPlanNotFound (field ``ratingPlan``); uncovered destination →
    UnauthorizedDestination."""
    if rating_plan_id not in tariffs.rating_plans:
        raise RatingPlanNotFound(f"unknown rating plan {rating_plan_id!r}", field="ratingPlan")
    match = match_plan(tariffs, rating_plan_id, destination)
    if match is None:
        raise UnauthorizedDestination(
            f"rating plan {rating_plan_id} has no rate for destination {destination!r}")
    if usage <= 0 or skip >= usage:  # nothing charged: no rate applies
        return CallCost(cost=_ZERO, connect_fee=_ZERO, rating_plan=rating_plan_id,
                        destination_id=match.destination_id, destination_rate_id=None,
                        rates_id=None, usage=usage, prefix=match.prefix)
    skip = max(skip, _ZERO)
    voice = usage_type in (None, VOICE)
    spans = _spans_for(tariffs, match, answer_time, skip, usage, voice=voice)
    return _rate_spans(spans, usage=usage, charge_connect_fee=skip == 0)


# -- rating profiles (cost) ----------------------------------------------------------------


def _profiles(tariffs: TariffSet, tenant: str, category: str,
              subject: str) -> list[RatingProfile]:
    memo = _memo(tariffs)
    key = ("profiles",)
    index: dict[tuple[str, str, str], list[RatingProfile]] | None = memo.get(key)
    if index is None:
        index = {}
        for p in tariffs.rating_profiles:
            index.setdefault((p.tenant, p.category, p.subject), []).append(p)
        for v in index.values():
            v.sort(key=lambda p: p.activation_time)
        memo[key] = index
    return index.get((tenant, category, subject), [])


def default_tenant(tariffs: TariffSet) -> str | None:
    """The profiles' tenant if there is exactly one, else the first in file order."""
    tenants = list(dict.fromkeys(p.tenant for p in tariffs.rating_profiles))
    return tenants[0] if tenants else None


@dataclass
class _Piece:
    start: datetime
    end: datetime
    match: PlanMatch | None
    fallbacks: tuple[str, ...]
    subject: str


def _pieces(tariffs: TariffSet, tenant: str, category: str, subject: str, destination: str,
            start: datetime, end: datetime, depth: int) -> list[_Piece] | None:
    """The call's ``[start, end)`` cut at activation times, each with its plan's match
    (None where the plan does not cover the destination, after trying the fallback
    subjects). None when the subject has no profile."""
    if depth > MAX_FALLBACK_DEPTH:
        return None
    profiles = _profiles(tariffs, tenant, category, subject)
    if not profiles:
        return None
    first = 0
    for i, p in enumerate(profiles):
        if p.activation_time <= start:
            first = i
    active = [p for i, p in enumerate(profiles) if i >= first and p.activation_time <= end]
    if not active:
        active = profiles[first:first + 1]
    pieces: list[_Piece] = []
    if active[0].activation_time > start:
        pieces.append(_Piece(start, min(end, active[0].activation_time), None, (), subject))
    for i, p in enumerate(active):
        a = max(start, p.activation_time)
        b = end if i == len(active) - 1 else min(end, active[i + 1].activation_time)
        if a >= b and not (a == b == start == end):
            continue
        match = match_plan(tariffs, p.rating_plan_id, destination)
        pieces.append(_Piece(a, b, match, p.fallback_subjects, subject))
    filled: list[_Piece] = []
    for piece in pieces:
        if piece.match is not None or not piece.fallbacks:
            filled.append(piece)
            continue
        replaced: list[_Piece] | None = None
        for fb in piece.fallbacks:
            sub = _pieces(tariffs, tenant, category, fb, destination, piece.start, piece.end,
                          depth + 1)
            if sub and all(s.match is not None for s in sub):
                replaced = sub
                break
        filled.extend(replaced if replaced else [piece])
    return filled


def cost(tariffs: TariffSet, *, category: str, subject: str, destination: str,
         answer_time: datetime, usage: Decimal, account: str | None = None,
         tenant: str | None = None) -> CallCost:
    """CGRateS's GetCost (see the module docstring). ``tenant`` None = the profiles'
    tenant (:func:`default_tenant`). ``account`` is informational (CGRateS rates by
    subject; an empty subject means the account). Errors: RatingPlanNotFound (no profile
    for the subject nor ``*any``, field ``subject``), UnauthorizedDestination."""
    if not subject:
        subject = account or ""
    tenant = tenant if tenant is not None else default_tenant(tariffs)
    if usage < 0:
        raise ValidationError("usage must not be negative", field="usage")
    end = answer_time + _td(usage)
    found = None
    if tenant is not None:
        found = _pieces(tariffs, tenant, category, subject, destination, answer_time, end, 1)
        if found is None:
            found = _pieces(tariffs, tenant, category, ANY, destination, answer_time, end, 1)
    if usage == 0:
        if found and found[0].match is not None:
            return _empty(found[0].match.rating_plan)
        return _empty()
    if found is None:
        raise RatingPlanNotFound(
            f"no rating profile for {tenant}:{category}:{subject} (nor *any)", field="subject")
    if any(p.match is None for p in found):
        raise UnauthorizedDestination(
            f"no rating plan of {tenant}:{category}:{subject} covers {destination!r}")
    voice = category not in UNIT_CATEGORIES
    spans: list[_Span] = []
    if not voice:
        head = found[0]
        assert head.match is not None
        spans = _spans_for(tariffs, head.match, answer_time, _ZERO, usage, voice=False,
                           subject=head.subject)
    else:
        for piece in found:
            assert piece.match is not None
            a = _secs(piece.start - answer_time)
            b = usage if piece.end >= end else _secs(piece.end - answer_time)
            if a >= b:
                continue
            spans.extend(_spans_for(tariffs, piece.match, answer_time, a, b, voice=True,
                                    subject=piece.subject))
    return _rate_spans(spans, usage=usage, charge_connect_fee=True)
