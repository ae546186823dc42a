"""Proration ratios (billing/proration.py): each setting with worked examples.

Defaults (day granularity, actual denominator, the change day belongs to the new state) are
checked against Kill Bill's own in-advance proration tests, killbill/killbill
``invoice/src/test/java/org/killbill/billing/invoice/tests/inAdvance/``:

* ``monthly/TestLeadingProRation.java``: start 2011-02-01, bill-cycle day 13 -> the
  leading stub is ``12 / 31`` (2011-01-13 .. 2011-02-13 has 31 days);
* ``monthly/TestTrailingProRation.java``: BCD 17, end 2010-07-25 -> trailing stub
  ``8 / 31`` (2010-07-17 .. 2010-08-17);
* ``monthly/TestDoubleProRation.java``: start 2011-01-01, end 2011-02-27, BCD 15 ->
  ``14 / 31`` + 1 + ``12 / 28``;
* ``annual/TestLeadingProRation.java``: start 2011-02-01, BCD 13, annual -> ``12 / 365``.

Second granularity against Stripe's "Prorations" page
(https://docs.stripe.com/billing/subscriptions/prorations): an upgrade from 10 USD to
20 USD a month "halfway through the billing period" is -5 USD for the unused time and
+10 USD for the remaining time, i.e. a ratio of exactly 1/2 of the period's seconds.

``terminationDayCharged`` follows Lago (https://getlago.com/docs/guide/subscriptions/
terminate-subscription and ``spec/services/fees/subscription_service_spec.rb``, where the
termination date is the last day billed: ``to_date`` inclusive).
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbss.billing.proration import charged_end, share
from openbss.billing.settings import BillingSettings
from openbss.core.periods import Alignment, BillingCycle, Frequency, Period, period_containing

CTX = decimal.Context(prec=50)
DEFAULT = BillingSettings()
THIRTY = BillingSettings(proration_denominator="30")
SECOND = BillingSettings(proration_granularity="second")
LAGO = BillingSettings(termination_day_charged=True)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def ratio(part: int, whole: int) -> Decimal:
    return CTX.divide(Decimal(part), Decimal(whole))


def monthly(bcd: int, tz: str = "UTC") -> BillingCycle:
    return BillingCycle(Frequency.MONTHLY, bcd, Alignment.ANNIVERSARY, tz)


# -- Kill Bill (defaults) ---------------------------------------------------------------------


def test_killbill_monthly_leading_stub() -> None:
    # TestLeadingProRation: start 2011-02-01, BCD 13 -> 12/31
    period = period_containing(monthly(13), utc(2011, 2, 1))
    assert (period.start, period.end) == (utc(2011, 1, 13), utc(2011, 2, 13))
    got = share(period, utc(2011, 2, 1), utc(2099, 1, 1), DEFAULT)
    assert (got.ratio, got.units, got.whole) == (ratio(12, 31), 12, 31)


def test_killbill_monthly_trailing_stub() -> None:
    # TestTrailingProRation: start 2010-06-17, end 2010-07-25, BCD 17 -> 1 + 8/31
    cycle = monthly(17)
    first = period_containing(cycle, utc(2010, 6, 17))
    assert share(first, utc(2010, 6, 17), utc(2010, 7, 25), DEFAULT).ratio == 1
    last = period_containing(cycle, utc(2010, 7, 24))
    assert share(last, utc(2010, 6, 17), utc(2010, 7, 25), DEFAULT).ratio == ratio(8, 31)


def test_killbill_monthly_double_proration() -> None:
    # TestDoubleProRation: start 2011-01-01, end 2011-02-27, BCD 15 -> 14/31 + 1 + 12/28
    cycle = monthly(15)
    start, end = utc(2011, 1, 1), utc(2011, 2, 27)
    ratios = [share(period_containing(cycle, at), start, end, DEFAULT).ratio
              for at in (utc(2011, 1, 1), utc(2011, 1, 15), utc(2011, 2, 15))]
    assert ratios == [ratio(14, 31), Decimal(1), ratio(12, 28)]


def test_killbill_annual_leading_stub() -> None:
    # annual/TestLeadingProRation: start 2011-02-01, BCD 13 -> 12/365
    cycle = BillingCycle(Frequency.YEARLY, 13, Alignment.ANNIVERSARY, "UTC", 2)
    period = period_containing(cycle, utc(2011, 2, 1))
    assert share(period, utc(2011, 2, 1), utc(2030, 1, 1), DEFAULT).ratio == ratio(12, 365)


def test_full_period_is_one_and_no_overlap_is_zero() -> None:
    period = Period(utc(2026, 2, 1), utc(2026, 3, 1))
    for settings in (DEFAULT, THIRTY, SECOND):
        assert share(period, period.start, period.end, settings).ratio == 1
        assert share(period, utc(2026, 3, 1), utc(2026, 4, 1), settings).ratio == 0


def test_days_are_local_dates_in_the_account_zone() -> None:
    # Berlin, March 2026 (31 local days, DST on the 29th): a start at 2026-03-09T23:30Z is
    # already the 10th in Berlin, so 22 days are charged (10th .. 31st), not 23.
    period = period_containing(BillingCycle(Frequency.MONTHLY, 1, tz="Europe/Berlin"),
                               utc(2026, 3, 15))
    got = share(period, utc(2026, 3, 9, 23, 30), utc(2099, 1, 1), DEFAULT)
    assert (got.units, got.whole, got.ratio) == (22, 31, ratio(22, 31))


def test_a_change_inside_one_local_day_counts_nothing() -> None:
    period = Period(utc(2026, 1, 1), utc(2026, 2, 1))
    assert share(period, utc(2026, 1, 10, 8), utc(2026, 1, 10, 20), DEFAULT).ratio == 0


# -- prorationDenominator 30 --------------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "units", "expected"), [
    # February 2026 has 28 days, but counts 30: the first half (1st .. 16th) is 15/30.
    (utc(2026, 2, 1), utc(2026, 2, 16), 15, ratio(15, 30)),
    # 16 Feb .. 1 Mar: 30*2+1 - (30*1+16) = 15 -> the two halves add up to the whole.
    (utc(2026, 2, 16), utc(2026, 3, 1), 15, ratio(15, 30)),
    # 28 Feb .. 1 Mar is one actual day, 3 days of 30/360.
    (utc(2026, 2, 28), utc(2026, 3, 1), 3, ratio(3, 30)),
])
def test_thirty_day_month_in_february(start: datetime, end: datetime, units: int,
                                      expected: Decimal) -> None:
    period = Period(utc(2026, 2, 1), utc(2026, 3, 1))
    got = share(period, start, end, THIRTY)
    assert (got.units, got.whole, got.ratio) == (units, 30, expected)


def test_thirty_day_month_in_a_31_day_month_and_a_year() -> None:
    january = Period(utc(2026, 1, 1), utc(2026, 2, 1))
    # 1 .. 31 Jan (30 actual days): the 31st is free under 30/360 -> 29/30
    assert share(january, utc(2026, 1, 1), utc(2026, 1, 31), THIRTY).ratio == ratio(29, 30)
    # actual: 30/31
    assert share(january, utc(2026, 1, 1), utc(2026, 1, 31), DEFAULT).ratio == ratio(30, 31)
    year = Period(utc(2026, 1, 1), utc(2027, 1, 1))
    got = share(year, utc(2026, 7, 1), utc(2027, 1, 1), THIRTY)
    assert (got.units, got.whole, got.ratio) == (180, 360, Decimal("0.5"))


def test_weekly_periods_ignore_the_thirty_day_month() -> None:
    week = Period(utc(2026, 3, 2), utc(2026, 3, 9))
    assert share(week, utc(2026, 3, 5), utc(2026, 3, 9), THIRTY).ratio == ratio(4, 7)


# -- prorationGranularity second (Stripe) -------------------------------------------------------


def test_stripe_halfway_upgrade_is_half_the_seconds() -> None:
    # February 2026 is 28 days; "halfway" is 2026-02-15T00:00Z -> exactly 1/2.
    period = Period(utc(2026, 2, 1), utc(2026, 3, 1))
    used = share(period, period.start, utc(2026, 2, 15), SECOND)
    rest = share(period, utc(2026, 2, 15), period.end, SECOND)
    assert used.ratio == rest.ratio == Decimal("0.5")
    # 10 USD -> 20 USD: credit 10 * 1/2 = 5, charge 20 * 1/2 = 10 (Stripe's numbers)
    assert (Decimal(10) * rest.ratio, Decimal(20) * rest.ratio) == (5, 10)


def test_second_granularity_counts_hours() -> None:
    period = Period(utc(2026, 2, 1), utc(2026, 3, 1))
    got = share(period, utc(2026, 2, 15, 12), period.end, SECOND)
    assert (got.units, got.whole) == (int(13.5 * 86400), 28 * 86400)
    assert got.ratio == ratio(27, 56)


# -- terminationDayCharged (Lago) ----------------------------------------------------------------


def test_termination_day_charged_moves_the_end_to_the_next_local_midnight() -> None:
    march = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    terminated = utc(2026, 3, 20, 10)
    # Kill Bill: the 20th is not charged -> 19/31
    assert share(march, march.start, charged_end(terminated, "UTC", DEFAULT),
                 DEFAULT).ratio == ratio(19, 31)
    # Lago: the 20th is charged -> 20/31
    assert charged_end(terminated, "UTC", LAGO) == utc(2026, 3, 21)
    assert share(march, march.start, charged_end(terminated, "UTC", LAGO),
                 LAGO).ratio == ratio(20, 31)
    # the local day: 23:30Z on the 20th is the 21st in Berlin -> ends at 22 Mar 00:00 Berlin
    assert charged_end(utc(2026, 3, 20, 23, 30), "Europe/Berlin", LAGO) == utc(2026, 3, 21, 23)


def test_termination_day_charged_never_passes_the_period_end() -> None:
    march = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    end = charged_end(utc(2026, 3, 31, 12), "UTC", LAGO)
    assert end == utc(2026, 4, 1)
    assert share(march, march.start, end, LAGO).ratio == 1


# -- laws ---------------------------------------------------------------------------------------

months = st.builds(lambda y, m: utc(y, m, 1), st.integers(2020, 2030), st.integers(1, 12))


@given(months, st.integers(0, 40), st.sampled_from([DEFAULT, THIRTY]))
def test_two_slices_of_a_period_add_up_to_one(month: datetime, day: int,
                                              settings: BillingSettings) -> None:
    cycle = BillingCycle(Frequency.MONTHLY, 1)
    period = period_containing(cycle, month)
    cut = min(period.start.replace(day=1 + min(day, 27)), period.end)
    left = share(period, period.start, cut, settings).ratio
    right = share(period, cut, period.end, settings).ratio
    assert abs(left + right - 1) <= Decimal("1e-49")
    assert 0 <= left <= 1 and 0 <= right <= 1
