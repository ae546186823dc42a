"""Billing periods, bill cycles and proration (pure; see docs/architecture.md).

* Instants are timezone-aware; everything this module returns is in UTC. A naive datetime is
  refused (:class:`~openbss.core.errors.ValidationError` naming the field).
* Nothing here reads the clock: callers pass the instants (business time is ``ctx.now``,
  see :mod:`openbss.core.clock`).
* Periods are half-open ``[start, end)``. Cycle boundaries are local midnights in the cycle's
  IANA time zone (``Europe/Berlin`` monthly: ``2026-03-01T00:00+01:00``,
  ``2026-04-01T00:00+02:00``), returned in UTC. If a local midnight does not exist (a DST
  gap at 00:00), the boundary is the first instant of that local day.
* Anchor days 29-31 clamp to the month's last day, and every boundary is computed from the
  anchor, never from the previous boundary, so an anchor never drifts (Stripe, Kill Bill):
  anchored on the 31st -> Jan 31, Feb 28 (29 in leap years), Mar 31, Apr 30, ...
"""

from __future__ import annotations

import calendar
import decimal
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openbss.core.errors import ValidationError

__all__ = [
    "PRORATION_PRECISION",
    "Alignment",
    "BillingCycle",
    "Frequency",
    "Period",
    "add_months",
    "cycle_for_subscription",
    "ensure_aware",
    "get_zone",
    "local_date",
    "next_period",
    "period_containing",
    "periods_between",
    "prorate_by_day",
    "prorate_by_second",
    "ratio_of_days",
    "to_utc",
]

#: Significant digits of proration fractions (a full period is exactly 1, no overlap exactly 0).
PRORATION_PRECISION: int = 50

_RATIO_CONTEXT = decimal.Context(
    prec=PRORATION_PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


# --------------------------------------------------------------------------------------------
# Instants and clocks
# --------------------------------------------------------------------------------------------


def ensure_aware(dt: datetime, field: str = "timestamp") -> datetime:
    """Return ``dt`` unchanged if it is a timezone-aware datetime, else raise ValidationError."""
    if not isinstance(dt, datetime):
        raise ValidationError(f"{field} must be a datetime, not {type(dt).__name__}", field=field)
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValidationError(
            f"{field} must be timezone-aware (got naive {dt.isoformat()})", field=field
        )
    return dt


def to_utc(dt: datetime, field: str = "timestamp") -> datetime:
    """The same instant as an aware UTC datetime (naive datetimes are refused)."""
    if type(dt) is datetime and dt.tzinfo is UTC:
        return dt  # already one (the common case: it skips the checks)
    return ensure_aware(dt, field).astimezone(UTC)


def get_zone(tz: str, field: str = "tz") -> ZoneInfo:
    """The :class:`ZoneInfo` for an IANA name; unknown names raise ValidationError."""
    if not isinstance(tz, str) or not tz:
        raise ValidationError(f"{field} must be an IANA time zone name, got {tz!r}", field=field)
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {tz!r}", field=field) from None


def local_date(instant: datetime, tz: str, field: str = "timestamp") -> date:
    """The calendar date of ``instant`` in time zone ``tz``."""
    return ensure_aware(instant, field).astimezone(get_zone(tz)).date()


def add_months(instant: datetime, months: int, *, anchor_day: int | None = None,
               field: str = "months") -> datetime:
    """``instant`` moved by whole ``months`` (may be negative), landing on ``anchor_day``
    (default: the instant's own day) clamped to the month's last day; the time of day is
    kept. Steps taken one by one from the same anchor never drift::

        add_months(Jan 31, 1) = Feb 28;  add_months(Feb 28, 1, anchor_day=31) = Mar 31
    """
    ensure_aware(instant, "instant")
    day = instant.day if anchor_day is None else anchor_day
    if not 1 <= day <= 31:
        raise ValidationError(f"anchor day must be 1-31, got {day}", field="anchor_day")
    index = instant.year * 12 + instant.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValidationError(f"{months} months from {instant.isoformat()} is out of range",
                              field=field)
    last = calendar.monthrange(year, month + 1)[1]
    return instant.replace(year=year, month=month + 1, day=min(day, last))


# --------------------------------------------------------------------------------------------
# Frequencies, alignment, periods
# --------------------------------------------------------------------------------------------


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @property
    def months(self) -> int | None:
        """Months per period for the month-based frequencies (1/3/12), else None."""
        return _MONTHS.get(self)

    @property
    def days(self) -> int | None:
        """Days per period for the day-based frequencies (1/7), else None."""
        return _DAYS.get(self)


_MONTHS: dict[Frequency, int] = {
    Frequency.MONTHLY: 1,
    Frequency.QUARTERLY: 3,
    Frequency.YEARLY: 12,
}
_DAYS: dict[Frequency, int] = {Frequency.DAILY: 1, Frequency.WEEKLY: 7}


class Alignment(StrEnum):
    #: Periods start on the 1st of the month / quarter (Jan, Apr, Jul, Oct) / year (Jan 1) and
    #: on Mondays for weekly cycles, unless the cycle names another anchor day / month.
    CALENDAR = "calendar"
    #: Periods start on the subscription start's day of month (of week, for weekly cycles)
    #: and, for quarterly / yearly cycles, its month.
    ANNIVERSARY = "anniversary"


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of time ``[start, end)``; ``start``/``end`` are stored in UTC.

    ``tz`` is the time zone whose calendar days :func:`prorate_by_day` counts (the billing
    account's zone; the cycle functions set it to the cycle's zone).
    """

    start: datetime
    end: datetime
    tz: str = "UTC"

    def __post_init__(self) -> None:
        start = to_utc(self.start, "start")
        end = to_utc(self.end, "end")
        if end <= start:
            raise ValidationError(
                f"period end {end.isoformat()} must be after its start {start.isoformat()}",
                field="end",
            )
        get_zone(self.tz)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def contains(self, dt: datetime) -> bool:
        """True if ``start <= dt < end``."""
        return self.start <= ensure_aware(dt, "dt") < self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


# --------------------------------------------------------------------------------------------
# Billing cycles
# --------------------------------------------------------------------------------------------


def _optional_int(value: object, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer, got {value!r}", field=field)
    if not low <= value <= high:
        raise ValidationError(f"{field} must be between {low} and {high}, got {value}", field=field)
    return value


@dataclass(frozen=True, slots=True)
class BillingCycle:
    """When the periods of a bill cycle start.

    * ``frequency``: daily, weekly, monthly, quarterly or yearly.
    * ``anchor_day``: for monthly / quarterly / yearly cycles the day of month (1-31, clamped
      to each month's last day); for weekly cycles the ISO weekday (1 = Monday .. 7 = Sunday);
      must be None for daily cycles. None means 1 (the 1st, Monday) with calendar alignment;
      anniversary alignment requires it (see :func:`cycle_for_subscription`).
    * ``anchor_month``: quarterly / yearly only: a month in which periods start (1-12); the
      quarterly phase is ``anchor_month`` modulo 3 (Jan, Apr, Jul, Oct for 1, 4, 7 or 10).
      None means January with calendar alignment; anniversary alignment requires it.
    * ``tz``: IANA time zone of the billing account; boundaries are local midnights there.
    """

    frequency: Frequency
    anchor_day: int | None = None
    alignment: Alignment = Alignment.CALENDAR
    tz: str = "UTC"
    anchor_month: int | None = None

    def __post_init__(self) -> None:
        try:
            frequency = Frequency(self.frequency)
        except ValueError:
            raise ValidationError(
                f"unknown frequency {self.frequency!r}", field="frequency"
            ) from None
        try:
            alignment = Alignment(self.alignment)
        except ValueError:
            raise ValidationError(
                f"unknown alignment {self.alignment!r}", field="alignment"
            ) from None
        object.__setattr__(self, "frequency", frequency)
        object.__setattr__(self, "alignment", alignment)
        get_zone(self.tz)

        if frequency is Frequency.DAILY:
            if self.anchor_day is not None:
                raise ValidationError("a daily cycle takes no anchor_day", field="anchor_day")
        elif frequency is Frequency.WEEKLY:
            _optional_int(self.anchor_day, "anchor_day", 1, 7)
        else:
            _optional_int(self.anchor_day, "anchor_day", 1, 31)
        if frequency in (Frequency.QUARTERLY, Frequency.YEARLY):
            _optional_int(self.anchor_month, "anchor_month", 1, 12)
        elif self.anchor_month is not None:
            raise ValidationError(
                f"anchor_month applies to quarterly and yearly cycles only, not {frequency}",
                field="anchor_month",
            )
        if alignment is Alignment.ANNIVERSARY:
            if frequency is not Frequency.DAILY and self.anchor_day is None:
                raise ValidationError(
                    "an anniversary cycle needs an anchor_day", field="anchor_day"
                )
            if frequency.months in (3, 12) and self.anchor_month is None:
                raise ValidationError(
                    "an anniversary quarterly/yearly cycle needs an anchor_month",
                    field="anchor_month",
                )

    # -- the boundary grid ------------------------------------------------------------------
    # Month-based cycles index boundaries by month number (year * 12 + month - 1); day-based
    # ones by proleptic Gregorian ordinal (date.toordinal(); ordinal 1 is a Monday). Grid
    # points are the indices congruent to the phase modulo the step.

    @property
    def _step(self) -> int:
        months = self.frequency.months
        if months is not None:
            return months
        days = self.frequency.days
        assert days is not None
        return days

    @property
    def _phase(self) -> int:
        if self.frequency.months is not None:
            return ((self.anchor_month or 1) - 1) % self.frequency.months
        if self.frequency is Frequency.WEEKLY:
            return (self.anchor_day or 1) % 7
        return 0

    def _index(self, day: date) -> int:
        if self.frequency.months is not None:
            return day.year * 12 + day.month - 1
        return day.toordinal()

    def _boundary(self, index: int) -> datetime:
        if self.frequency.months is not None:
            year, month0 = divmod(index, 12)
            last = calendar.monthrange(year, month0 + 1)[1]
            day = date(year, month0 + 1, min(self.anchor_day or 1, last))
        else:
            day = date.fromordinal(index)
        return _local_midnight(day, get_zone(self.tz))

    def _period(self, index: int) -> Period:
        return Period(self._boundary(index), self._boundary(index + self._step), self.tz)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous midnight is its first occurrence; a non-existent one (DST gap at
    # 00:00) is read with the pre-transition offset, which is the first instant of that day.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _index_containing(cycle: BillingCycle, moment: datetime) -> int:
    """The grid index of the period of ``cycle`` that contains the UTC ``moment``."""
    step = cycle._step
    index = cycle._index(moment.astimezone(get_zone(cycle.tz)).date())
    index -= (index - cycle._phase) % step
    while cycle._boundary(index) > moment:
        index -= step
    while cycle._boundary(index + step) <= moment:
        index += step
    return index


def period_containing(cycle: BillingCycle, instant: datetime) -> Period:
    """The period of ``cycle`` with ``start <= instant < end``."""
    return cycle._period(_index_containing(cycle, to_utc(instant, "instant")))


def next_period(cycle: BillingCycle, period: Period) -> Period:
    """The period of ``cycle`` that starts where ``period`` ends."""
    return period_containing(cycle, period.end)


def periods_between(cycle: BillingCycle, start: datetime, end: datetime) -> list[Period]:
    """The consecutive periods of ``cycle`` covering ``[start, end)``.

    The first period contains ``start`` (it may begin before it) and the last one contains
    the instant just before ``end`` (it may end after it). Empty if ``start == end``.
    """
    first = to_utc(start, "start")
    last = to_utc(end, "end")
    if last < first:
        raise ValidationError("end must not be before start", field="end")
    periods: list[Period] = []
    if last == first:
        return periods
    # each period starts where the one before ends (as next_period finds it), walking the
    # boundary grid: every boundary is computed once
    step = cycle._step
    index = _index_containing(cycle, first)
    lo = cycle._boundary(index)
    while lo < last:
        index += step
        hi = cycle._boundary(index)
        if hi > lo:  # (two boundaries are one instant if a zone skipped a whole day)
            periods.append(Period(lo, hi, cycle.tz))
            lo = hi
    return periods


def cycle_for_subscription(
    frequency: Frequency | str,
    start: datetime,
    alignment: Alignment | str,
    tz: str,
) -> BillingCycle:
    """The bill cycle of a subscription that starts at ``start``.

    Calendar alignment: the 1st of the month / quarter / year (Monday for weekly cycles).
    Anniversary alignment: the anchor day (and month, for quarterly / yearly cycles) is the
    start's local date in ``tz``; for weekly cycles the anchor is the start's ISO weekday.
    """
    try:
        freq = Frequency(frequency)
    except ValueError:
        raise ValidationError(f"unknown frequency {frequency!r}", field="frequency") from None
    try:
        align = Alignment(alignment)
    except ValueError:
        raise ValidationError(f"unknown alignment {alignment!r}", field="alignment") from None
    if align is Alignment.CALENDAR or freq is Frequency.DAILY:
        ensure_aware(start, "start")
        return BillingCycle(freq, None, align, tz)
    day = local_date(start, tz, "start")
    if freq is Frequency.WEEKLY:
        return BillingCycle(freq, day.isoweekday(), align, tz)
    anchor_month = day.month if freq.months in (3, 12) else None
    return BillingCycle(freq, day.day, align, tz, anchor_month)


# --------------------------------------------------------------------------------------------
# Proration
# --------------------------------------------------------------------------------------------


def _overlap(period: Period, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    lo = to_utc(start, "start")
    hi = to_utc(end, "end")
    if hi < lo:
        raise ValidationError("end must not be before start", field="end")
    lo = max(lo, period.start)
    hi = min(hi, period.end)
    return (lo, hi) if lo < hi else None


def _ratio(part: int, whole: int) -> Decimal:
    if part == 0:
        return Decimal(0)
    if part == whole:
        return Decimal(1)
    return _RATIO_CONTEXT.divide(Decimal(part), Decimal(whole))


def prorate_by_day(period: Period, start: datetime, end: datetime) -> Decimal:
    """Fraction of ``period`` covered by ``[start, end)``, counted in whole local days.

    Days are calendar dates in ``period.tz``. As Kill Bill does with ``LocalDate``, each
    instant is truncated to its local date, so the overlap counts ``date(end) - date(start)``
    days: the day on which a change happens is charged to the new state (a subscription that
    starts on the 10th pays for the 10th; one that ends on the 20th does not pay for the 20th),
    and an overlap that does not cross a local midnight counts 0 days. This makes the
    fraction additive over any split of ``[start, end)``. The period's own length is counted
    the same way (a cycle period has exactly its number of calendar days). Full period: 1;
    no overlap: 0; otherwise an exact ratio to :data:`PRORATION_PRECISION` digits.
    """
    span = _overlap(period, start, end)
    if span is None:
        return Decimal(0)
    zone = get_zone(period.tz)

    def ordinal(instant: datetime) -> int:
        return instant.astimezone(zone).date().toordinal()

    return ratio_of_days(ordinal(span[1]) - ordinal(span[0]),
                         ordinal(period.end) - ordinal(period.start))


def ratio_of_days(days: int, whole: int) -> Decimal:
    """:func:`prorate_by_day`'s fraction for ``days`` local days of a period of ``whole``
    local days (a period without a whole local day is refused)."""
    if whole <= 0:
        raise ValidationError(
            "the period does not contain a whole local day; prorate it by second",
            field="period",
        )
    return _ratio(days, whole)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def prorate_by_second(period: Period, start: datetime, end: datetime) -> Decimal:
    """Fraction of ``period`` covered by ``[start, end)`` in elapsed time (exact to the
    microsecond): overlap duration / period duration. Full period: 1; no overlap: 0."""
    span = _overlap(period, start, end)
    if span is None:
        return Decimal(0)
    return _ratio(_microseconds(span[1] - span[0]), _microseconds(period.duration))
