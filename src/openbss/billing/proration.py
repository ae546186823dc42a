"""Proration: the fraction of a billing period a slice of service covers (pure).

No I/O, no clock, no database. One function, :func:`share`, answers a :class:`Share` (the
ratio and the units it counted) for a period and a slice ``[start, end)`` under the
tenant's :class:`~openbss.billing.settings.BillingSettings`:

``prorationGranularity``
    ``day`` (default, Kill Bill): local calendar dates in the period's time zone; the
    slice counts ``date(end) - date(start)`` days, so the day of a change belongs to the new
    state (:func:`openbss.core.periods.prorate_by_day`). ``second`` (Stripe): elapsed time
    of the slice / elapsed time of the period (:func:`openbss.core.periods.prorate_by_second`).

``prorationDenominator``
    ``actual`` (default): the period's own number of days. ``30`` (Kill Bill's fixed
    30-day month): the 30/360 day count — a local date counts as
    ``360 * year + 30 * (month - 1) + min(day, 30)``, the slice's days and the period's
    length are differences of that count, so a month is 30 days, a quarter 90, a year 360,
    the 31st is free and 28 February -> 1 March counts 3 days. Because both are differences
    of one count, two slices of a period still add up to the whole and a full period is
    exactly 1. Periods shorter than 28 days (weekly, daily cycles) use actual days. With
    ``second`` granularity the denominator is not used (Stripe has no such option).

``terminationDayCharged``
    ``false`` (default, Kill Bill): a termination at any time on a day does not charge that
    day. ``true`` (Lago): the termination day is still charged — :func:`charged_end` moves
    the end of the product's last slice to the next local midnight; the caller clips it
    to the period, so it never goes past the period's end.

Laws: a full period is exactly 1, no overlap exactly 0, the ratio is in ``[0, 1]``, and
(day granularity) the ratios of two slices splitting a period add up to 1 (exactly for
``actual``/``30`` up to the :data:`~openbss.core.periods.PRORATION_PRECISION`-th digit).
Amounts are rounded per line by the caller, so two prorated lines of one period sum to the
full price within one minor unit (each rounding is off by at most half a unit).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from openbss.billing.settings import BillingSettings
from openbss.core.periods import (
    PRORATION_PRECISION,
    Period,
    get_zone,
    prorate_by_second,
    ratio_of_days,
    to_utc,
)

__all__ = ["Share", "charged_end", "share"]

_RATIO = decimal.Context(prec=PRORATION_PRECISION, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Share:
    """``ratio`` of a period; ``units`` of ``whole`` counted (``unit``: day or second)."""

    ratio: Decimal
    units: int
    whole: int
    unit: Literal["day", "second"]

    def detail(self) -> dict[str, str | int]:
        return {"ratio": str(self.ratio), "units": self.units, "whole": self.whole,
                "unit": self.unit}


def _count_30_360(day: date) -> int:
    return 360 * day.year + 30 * (day.month - 1) + min(day.day, 30)


def share(period: Period, start: datetime, end: datetime, settings: BillingSettings) -> Share:
    """The part of ``period`` that ``[start, end)`` covers (module docstring for the rules)."""
    lo = max(to_utc(start, "start"), period.start)
    hi = min(to_utc(end, "end"), period.end)
    if settings.proration_granularity == "second":
        whole = int(period.duration.total_seconds())
        if lo >= hi:
            return Share(Decimal(0), 0, whole, "second")
        units = int((hi - lo).total_seconds())
        return Share(prorate_by_second(period, lo, hi), units, whole, "second")
    # local dates in the period's zone, each computed once
    zone = get_zone(period.tz)
    first, last = period.start.astimezone(zone).date(), period.end.astimezone(zone).date()
    actual = (last - first).days
    if lo >= hi:
        return Share(Decimal(0), 0, actual, "day")
    lo_day, hi_day = lo.astimezone(zone).date(), hi.astimezone(zone).date()
    if settings.proration_denominator == "30" and actual >= 28:
        whole = _count_30_360(last) - _count_30_360(first)
        units = _count_30_360(hi_day) - _count_30_360(lo_day)
        if whole > 0:
            if units >= whole:
                return Share(Decimal(1), whole, whole, "day")
            ratio = _RATIO.divide(Decimal(units), Decimal(whole)) if units else Decimal(0)
            return Share(ratio, units, whole, "day")
    units = (hi_day - lo_day).days
    return Share(ratio_of_days(units, actual), units, actual, "day")


def charged_end(end: datetime, tz: str, settings: BillingSettings) -> datetime:
    """Where a product's last slice ends when it is terminated at ``end``: ``end`` itself,
    or (``terminationDayCharged``) the next local midnight after ``end``'s local date."""
    instant = to_utc(end, "end")
    if not settings.termination_day_charged:
        return instant
    zone = get_zone(tz)
    day = instant.astimezone(zone).date() + timedelta(days=1)
    return to_utc(datetime(day.year, day.month, day.day, tzinfo=zone))
