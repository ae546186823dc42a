"""Worked examples from the public docs and tests of Kill Bill, Stripe and Lago, run
through :func:`openbss.billing.calculator.calculate` (not just the proration ratio).

Kill Bill: killbill/killbill
``invoice/src/test/java/org/killbill/billing/invoice/tests/inAdvance/monthly/`` —
``TestLeadingProRation`` (start 2011-02-01, BCD 13: 12/31, then whole periods),
``TestTrailingProRation`` (start 2010-06-17, end 2010-07-25, BCD 17: 1 + 8/31),
``TestDoubleProRation`` (start 2011-01-01, end 2011-02-27, BCD 15: 14/31 + 1 + 12/28);
``.../inAdvance/annual/TestLeadingProRation`` (annual, start 2011-02-01, BCD 13: 12/365).
With a price of 31.00 (or 365.00 a year) the expected *number of billing cycles* of those
tests becomes an amount one can check by eye.

Stripe: https://docs.stripe.com/billing/subscriptions/prorations — "if a customer upgrades
from a 10 USD per month subscription to a 20 USD option … halfway through the billing
period, the customer is billed an additional 5 USD: -5 USD for unused time on the initial
price, and 10 USD for the remaining time on the new price".

Lago: getlago/lago-api ``spec/services/fees/subscription_service_spec.rb`` — a 1.00 EUR plan
started 2022-03-15 is 55 cents for March, a weekly one started on a Wednesday 71 cents, a
yearly one 80 cents; "a newly terminated subscription" billed from 2022-03-01 to the end of
the termination day 2022-03-20 is 65 cents (``terminationDayCharged: true``); see also
https://getlago.com/docs/guide/subscriptions/terminate-subscription.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    BillingPrice,
    InvoicedItem,
    Plan,
    ProposedLine,
    SubscriptionEvent,
)
from openbss.billing.calculator import calculate
from openbss.billing.settings import BillingSettings
from openbss.core.money import Money
from openbss.core.periods import Alignment, BillingCycle, Frequency
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.pricing import ChargePeriod, PriceSpec

KILL_BILL = BillingSettings()
STRIPE = BillingSettings(proration_granularity="second", downgrade_timing="immediate",
                         interval_change="resetAnchor")
LAGO = BillingSettings(termination_day_charged=True, interval_change="keepAnniversary")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def account(bcd: int, currency: str = "EUR",
            frequency: Frequency = Frequency.MONTHLY) -> AccountTerms:
    month = 2 if frequency is Frequency.YEARLY else None
    return AccountTerms("acc", currency, BillingCycle(frequency, bcd, Alignment.ANNIVERSARY,
                                                      "UTC", month))


def plans(currency: str = "EUR", **amounts: tuple[str, ChargePeriod | None]) -> dict[str, Plan]:
    return {name: Plan(name, name, (BillingPrice(PriceSpec(
        f"{name}-price", name, "recurring", Money(Decimal(value), currency), period=period)),),
        rank=rank)
        for rank, (name, (value, period)) in enumerate(amounts.items())}


MONTHLY_31 = plans(basic=("31.00", None))


def start_end(start: datetime, end: datetime | None = None) -> tuple[SubscriptionEvent, ...]:
    events = [SubscriptionEvent(start, ChangeKind.STARTED, "acc", "p", "basic", 1)]
    if end is not None:
        events.append(SubscriptionEvent(end, ChangeKind.TERMINATED, "acc", "p", "basic", 1))
    return tuple(events)


def values(lines: list[ProposedLine]) -> list[str]:
    return [str(line.amount.amount) for line in lines]


def issue(lines: list[ProposedLine], prefix: str) -> tuple[InvoicedItem, ...]:
    return tuple(InvoicedItem(f"{prefix}{i}", ln.kind, ln.account_id, ln.amount, ln.product_id,
                              ln.price_id, ln.start, ln.end, ln.quantity, ln.corrects,
                              ln.source_key, ln.price_version) for i, ln in enumerate(lines))


def test_killbill_leading_proration_then_whole_periods() -> None:
    # TestLeadingProRation_Evergreen_TargetDateOnStartDate: 12/31 -> 31 * 12/31 = 12.00
    inp = AccountInput(account(13), start_end(utc(2011, 2, 1)), MONTHLY_31)
    assert values(calculate(inp, target=utc(2011, 2, 1), settings=KILL_BILL)) == ["12.00"]
    # ..._TargetDateAfterFirstBillingPeriod (2011-04-13): 12/31 + 3 -> 12.00 + 3 x 31.00
    lines = calculate(inp, target=utc(2011, 4, 13), settings=KILL_BILL)
    assert values(lines) == ["12.00", "31.00", "31.00", "31.00"]
    assert [line.start for line in lines] == [utc(2011, 2, 1), utc(2011, 2, 13),
                                              utc(2011, 3, 13), utc(2011, 4, 13)]


def test_killbill_trailing_proration() -> None:
    # TestTrailingProRation.testTargetDateAfterEndDate: 1 + 8/31 -> 31.00 + 8.00
    inp = AccountInput(account(17), start_end(utc(2010, 6, 17), utc(2010, 7, 25)), MONTHLY_31)
    lines = calculate(inp, target=utc(2010, 7, 30), settings=KILL_BILL)
    assert values(lines) == ["31.00", "8.00"]
    assert lines[1].end == utc(2010, 7, 25)


def test_killbill_double_proration() -> None:
    # TestDoubleProRation_TargetDateAfterEndDate: 14/31 + 1 + 12/28
    # -> 14.00 + 31.00 + 31 * 12/28 (= 13.2857..) 13.29
    inp = AccountInput(account(15), start_end(utc(2011, 1, 1), utc(2011, 2, 27)), MONTHLY_31)
    assert values(calculate(inp, target=utc(2011, 3, 7), settings=KILL_BILL)) == [
        "14.00", "31.00", "13.29"]


def test_killbill_annual_leading_proration() -> None:
    # annual TestLeadingProRation: 12/365 -> 365 * 12/365 = 12.00, then a full year
    yearly = plans(basic=("365.00", ChargePeriod("year")))
    inp = AccountInput(account(13, frequency=Frequency.YEARLY), start_end(utc(2011, 2, 1)),
                       yearly)
    assert values(calculate(inp, target=utc(2011, 2, 13), settings=KILL_BILL)) == [
        "12.00", "365.00"]


def test_stripe_upgrade_halfway_credits_5_and_charges_10() -> None:
    usd = plans("USD", basic=("10.00", None), premium=("20.00", None))
    terms = account(1, "USD")
    started = start_end(utc(2026, 2, 1))
    billed = issue(calculate(AccountInput(terms, started, usd), target=utc(2026, 2, 1),
                             settings=STRIPE), "in_")
    assert [str(item.amount.amount) for item in billed] == ["10.00"]
    # halfway through February (28 days): 2026-02-15T00:00Z
    events = (*started, SubscriptionEvent(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "acc", "p",
                                          "premium", 1))
    lines = calculate(AccountInput(terms, events, usd, billed), target=utc(2026, 2, 15),
                      settings=STRIPE)
    assert sorted(values(lines)) == ["-5.00", "10.00"]
    credit = next(line for line in lines if line.amount.is_negative())
    assert credit.corrects == "in_0"


def test_stripe_seconds_charge_part_of_a_day() -> None:
    # Stripe prorates to the second: an upgrade at 2026-02-15T12:00Z leaves 13.5 of 28 days:
    # credit 10 * 13.5/28 = 4.8214.. -> -4.82, charge 20 * 13.5/28 = 9.6428.. -> 9.64
    usd = plans("USD", basic=("10.00", None), premium=("20.00", None))
    terms = account(1, "USD")
    started = start_end(utc(2026, 2, 1))
    billed = issue(calculate(AccountInput(terms, started, usd), target=utc(2026, 2, 1),
                             settings=STRIPE), "in_")
    events = (*started, SubscriptionEvent(utc(2026, 2, 15, 12), ChangeKind.PLAN_CHANGED, "acc",
                                          "p", "premium", 1))
    lines = calculate(AccountInput(terms, events, usd, billed), target=utc(2026, 2, 16),
                      settings=STRIPE)
    assert sorted(values(lines)) == ["-4.82", "9.64"]


# -- Lago: getlago/lago-api spec/services/fees/subscription_service_spec.rb ------------------
# A plan of 1.00 EUR (amount_cents 100), calendar billing; Lago counts whole days, the start
# day and (terminationDayCharged) the termination day included.


def lago_plan(period: ChargePeriod | None = None, mode: str = "inAdvance") -> dict[str, Plan]:
    spec = PriceSpec("lago", "lago", "recurring", Money(Decimal("1.00"), "EUR"), period=period)
    return {"basic": Plan("basic", "basic", (BillingPrice(spec, mode),))}  # type: ignore[arg-type]


def calendar(frequency: Frequency) -> AccountTerms:
    return AccountTerms("acc", "EUR", BillingCycle(frequency, None, Alignment.CALENDAR, "UTC"))


def test_lago_monthly_start_on_any_other_day() -> None:
    # "when subscription start is on any other day": 2022-03-15 -> 55 cents (17/31 days)
    inp = AccountInput(calendar(Frequency.MONTHLY), start_end(utc(2022, 3, 15)), lago_plan())
    assert values(calculate(inp, target=utc(2022, 3, 15), settings=LAGO)) == ["0.55"]


def test_lago_weekly_start_on_any_other_day() -> None:
    # weekly plan (Monday to Sunday), start Wednesday 2022-06-22 -> 71 cents (5/7 days)
    inp = AccountInput(calendar(Frequency.WEEKLY), start_end(utc(2022, 6, 22)),
                       lago_plan(ChargePeriod("week")))
    assert values(calculate(inp, target=utc(2022, 6, 22), settings=LAGO)) == ["0.71"]


def test_lago_yearly_start_on_any_other_day() -> None:
    # yearly plan, start 2022-03-15 -> 80 cents (292/365 days)
    inp = AccountInput(calendar(Frequency.YEARLY), start_end(utc(2022, 3, 15)),
                       lago_plan(ChargePeriod("year")))
    assert values(calculate(inp, target=utc(2022, 3, 15), settings=LAGO)) == ["0.80"]


def test_lago_newly_terminated_subscription_charges_the_termination_day() -> None:
    # "when billing a newly terminated subscription": in arrears, billed from 2022-03-01 to
    # the end of the termination day 2022-03-20 -> 65 cents (20/31). Kill Bill's default
    # does not charge the 20th: 19/31 -> 61 cents.
    events = start_end(utc(2022, 3, 1), utc(2022, 3, 20, 12))
    inp = AccountInput(calendar(Frequency.MONTHLY), events, lago_plan(mode="inArrears"))
    assert values(calculate(inp, target=utc(2022, 4, 1), settings=LAGO)) == ["0.65"]
    assert values(calculate(inp, target=utc(2022, 4, 1), settings=KILL_BILL)) == ["0.61"]


def test_lago_newly_terminated_weekly_subscription() -> None:
    # weekly: from Monday 2022-03-14 to the end of Wednesday 2022-03-16 -> 43 cents (3/7)
    events = start_end(utc(2022, 3, 14), utc(2022, 3, 16, 12))
    inp = AccountInput(calendar(Frequency.WEEKLY), events,
                       lago_plan(ChargePeriod("week"), mode="inArrears"))
    assert values(calculate(inp, target=utc(2022, 3, 21), settings=LAGO)) == ["0.43"]
