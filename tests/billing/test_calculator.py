"""The invoice calculation (billing/calculator.py): stories with amounts worked by hand.

Each story gives the events, what was invoiced and a target; the expected lines are worked
in the comments (prices are chosen so the day counts are easy to follow). Every story also
checks idempotence: the output fed back as invoiced items gives nothing more.

Shapes follow Kill Bill's invoice generator (REPAIR_ADJ credits that reference the repaired
item, killbill/killbill ``invoice/.../generator/FixedAndRecurringInvoiceItemGenerator``)
and Stripe's proration page (https://docs.stripe.com/billing/subscriptions/prorations:
"-5 USD for unused time on the initial price, and 10 USD for the remaining time").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    BillingEvent,
    BillingMode,
    BillingPrice,
    ChargeEvent,
    InvoicedItem,
    LineKind,
    Plan,
    ProposedLine,
    SubscriptionEvent,
    UsageSummary,
)
from openbss.billing.calculator import calculate
from openbss.billing.settings import BillingSettings
from openbss.core.errors import ValidationError
from openbss.core.money import Money
from openbss.core.periods import BillingCycle, Frequency
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.pricing import AlterationSpec, ChargePeriod, PriceSpec

DEFAULT = BillingSettings()
ACCOUNT = "acc-1"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def terms(anchor: int = 1, children: tuple[str, ...] = ()) -> AccountTerms:
    return AccountTerms(ACCOUNT, "EUR", BillingCycle(Frequency.MONTHLY, anchor, tz="UTC"),
                        children=children)


def recurring(price_id: str, amount: str, *, mode: BillingMode = "inAdvance",
              period: ChargePeriod | None = None,
              alterations: tuple[AlterationSpec, ...] = ()) -> BillingPrice:
    spec = PriceSpec(price_id, price_id, "recurring", eur(amount), period=period,
                     alterations=alterations)
    return BillingPrice(spec, mode)


def plan(version: str, *prices: BillingPrice, rank: int | None = None,
         minimum: str | None = None, downgrade: str | None = None) -> Plan:
    return Plan(version, version, tuple(prices),
                minimum_commitment=eur(minimum) if minimum else None,
                downgrade_timing=downgrade, rank=rank)  # type: ignore[arg-type]


BASIC = plan("basic", recurring("basic-m", "28.00"), rank=1)
PRO = plan("pro", recurring("pro-m", "56.00"), rank=2)
PLANS = {p.price_version: p for p in (BASIC, PRO)}


def ev(at: datetime, kind: ChangeKind, version: str = "basic", quantity: int = 1,
       product: str = "prod-1", account: str = ACCOUNT) -> SubscriptionEvent:
    return SubscriptionEvent(at, kind, account, product, version, quantity)


def issued(lines: Sequence[ProposedLine], prefix: str) -> tuple[InvoicedItem, ...]:
    """The lines as the invoice context would issue them (line ids ``prefix-0`` …)."""
    return tuple(InvoicedItem(
        f"{prefix}-{i}", line.kind, line.account_id, line.amount, line.product_id,
        line.price_id, line.start, line.end, line.quantity, line.corrects, line.source_key,
        line.price_version) for i, line in enumerate(lines))


def run(events: Sequence[BillingEvent], target: datetime, *,
        invoiced: tuple[InvoicedItem, ...] = (), plans: dict[str, Plan] | None = None,
        settings: BillingSettings = DEFAULT, account: AccountTerms | None = None,
        ) -> list[ProposedLine]:
    inp = AccountInput(account or terms(), tuple(events), plans or PLANS, invoiced)
    lines = calculate(inp, target=target, settings=settings)
    again = AccountInput(inp.terms, inp.events, inp.plans, invoiced + issued(lines, "check"))
    assert calculate(again, target=target, settings=settings) == []  # idempotent
    return lines


def amounts(lines: Sequence[ProposedLine]) -> list[tuple[str, str, datetime | None,
                                                         datetime | None]]:
    return [(line.kind.value, str(line.amount.amount), line.start, line.end) for line in lines]


# -- starts, in advance, in arrears ---------------------------------------------------------------


def test_mid_cycle_start_bills_the_stub_and_the_next_period_in_advance() -> None:
    # 28.00/month, starts 10 Jan: Jan stub 22/31 * 28 = 19.870967.. -> 19.87;
    # on 1 Feb the February period (in advance) is 28.00.
    events = [ev(utc(2026, 1, 10), ChangeKind.STARTED)]
    first = run(events, utc(2026, 1, 10))
    assert amounts(first) == [("recurring", "19.87", utc(2026, 1, 10), utc(2026, 2, 1))]
    # exact: 28 * (22/31 to 50 significant digits), rounded once to 19.87
    assert abs(first[0].exact - Decimal(28) * Decimal(22) / Decimal(31)) < Decimal("1e-25")
    assert first[0].detail["proration"]["units"] == 22
    second = run(events, utc(2026, 2, 1), invoiced=issued(first, "inv1"))
    assert amounts(second) == [("recurring", "28.00", utc(2026, 2, 1), utc(2026, 3, 1))]


def test_in_arrears_bills_a_period_once_it_has_ended() -> None:
    plans = {"basic": plan("basic", recurring("basic-m", "31.00", mode="inArrears"))}
    events = [ev(utc(2026, 1, 1), ChangeKind.STARTED)]
    assert run(events, utc(2026, 1, 20), plans=plans) == []
    lines = run(events, utc(2026, 2, 1), plans=plans)
    assert amounts(lines) == [("recurring", "31.00", utc(2026, 1, 1), utc(2026, 2, 1))]


def test_start_in_the_future_bills_nothing() -> None:
    assert run([ev(utc(2026, 2, 10), ChangeKind.STARTED)], utc(2026, 2, 1)) == []


# -- plan changes ----------------------------------------------------------------------------


def test_upgrade_mid_period_credits_the_old_plan_and_charges_the_new_one() -> None:
    # February (28 days) billed in advance on basic 28.00; upgrade to pro 56.00 on 15 Feb:
    # 14 days unused: credit 28 * 14/28 = -14.00 (corrects the billed line),
    # pro for 15 Feb .. 1 Mar: 56 * 14/28 = 28.00.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "pro")]
    lines = run(events, utc(2026, 2, 15), invoiced=billed)
    assert amounts(lines) == [
        ("recurring", "28.00", utc(2026, 2, 15), utc(2026, 3, 1)),
        ("adjustment", "-14.00", utc(2026, 2, 15), utc(2026, 3, 1)),
    ]
    assert lines[0].price_version == "pro"
    assert lines[1].corrects == "inv1-0"
    assert lines[1].price_version == "basic"


def test_downgrade_at_end_of_term_takes_effect_next_period() -> None:
    # pro billed for February; downgrade to basic on 15 Feb: nothing now (no credit), and
    # on 1 Mar basic 28.00 for March.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED, "pro")]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "basic")]
    assert run(events, utc(2026, 2, 20), invoiced=billed) == []
    march = run(events, utc(2026, 3, 1), invoiced=billed)
    assert amounts(march) == [("recurring", "28.00", utc(2026, 3, 1), utc(2026, 4, 1))]
    assert march[0].price_version == "basic"


def test_downgrade_immediate_is_like_an_upgrade() -> None:
    # tenant setting immediate: credit pro 56 * 14/28 = -28.00, basic 28 * 14/28 = 14.00
    settings = BillingSettings(downgrade_timing="immediate")
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED, "pro")]
    billed = issued(run(start, utc(2026, 2, 1), settings=settings), "inv1")
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "basic")]
    lines = run(events, utc(2026, 2, 15), invoiced=billed, settings=settings)
    assert amounts(lines) == [
        ("recurring", "14.00", utc(2026, 2, 15), utc(2026, 3, 1)),
        ("adjustment", "-28.00", utc(2026, 2, 15), utc(2026, 3, 1)),
    ]


def test_a_plan_override_of_downgrade_timing_wins() -> None:
    plans = {"pro": PRO, "basic": plan("basic", recurring("basic-m", "28.00"), rank=1,
                                       downgrade="immediate")}
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED, "pro")]
    billed = issued(run(start, utc(2026, 2, 1), plans=plans), "inv1")
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "basic")]
    lines = run(events, utc(2026, 2, 15), invoiced=billed, plans=plans)
    assert [line.amount.amount for line in lines] == [Decimal("14.00"), Decimal("-28.00")]


def test_downgrade_without_ranks_compares_the_monthly_amounts() -> None:
    plans = {"big": plan("big", recurring("big-y", "600.00", period=ChargePeriod("year"))),
             "small": plan("small", recurring("small-m", "40.00"))}
    # 600/year = 50/month > 40/month: a downgrade, deferred to the end of the yearly term.
    start = [ev(utc(2026, 1, 1), ChangeKind.STARTED, "big")]
    first = run(start, utc(2026, 1, 1), plans=plans)
    assert amounts(first) == [("recurring", "600.00", utc(2026, 1, 1), utc(2027, 1, 1))]
    billed = issued(first, "inv1")
    events = [*start, ev(utc(2026, 3, 10), ChangeKind.PLAN_CHANGED, "small")]
    assert run(events, utc(2026, 6, 1), invoiced=billed, plans=plans) == []
    lines = run(events, utc(2027, 1, 1), invoiced=billed, plans=plans)
    assert amounts(lines) == [("recurring", "40.00", utc(2027, 1, 1), utc(2027, 2, 1))]


# -- quantity, suspension, termination ------------------------------------------------------------


def test_quantity_change_credits_the_old_quantity_and_charges_the_new_one() -> None:
    # 1 seat billed for February (28.00); 3 seats from 15 Feb:
    # credit 28 * 14/28 = -14.00, charge 3 * 28 * 14/28 = 42.00.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.QUANTITY_CHANGED, quantity=3)]
    lines = run(events, utc(2026, 2, 16), invoiced=billed)
    assert amounts(lines) == [
        ("recurring", "42.00", utc(2026, 2, 15), utc(2026, 3, 1)),
        ("adjustment", "-14.00", utc(2026, 2, 15), utc(2026, 3, 1)),
    ]
    assert lines[0].quantity == 3


def test_suspension_credits_the_suspended_days_billed_in_advance() -> None:
    # February billed (28.00); suspended 8 Feb .. 22 Feb (14 days): credit -14.00; the days
    # from the resumption were already billed: nothing more.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    events = [*start, ev(utc(2026, 2, 8), ChangeKind.SUSPENDED),
              ev(utc(2026, 2, 22), ChangeKind.RESUMED)]
    lines = run(events, utc(2026, 2, 25), invoiced=billed)
    assert amounts(lines) == [("adjustment", "-14.00", utc(2026, 2, 8), utc(2026, 2, 22))]
    # the next period is billed in full again
    march = run(events, utc(2026, 3, 1), invoiced=billed + issued(lines, "inv2"))
    assert amounts(march) == [("recurring", "28.00", utc(2026, 3, 1), utc(2026, 4, 1))]


def test_suspension_before_billing_charges_again_from_the_resumption() -> None:
    # never billed; suspended 8 .. 22 Feb: 1 .. 8 Feb = 7/28 * 28 = 7.00 and
    # 22 Feb .. 1 Mar = 7.00
    events = [ev(utc(2026, 2, 1), ChangeKind.STARTED), ev(utc(2026, 2, 8), ChangeKind.SUSPENDED),
              ev(utc(2026, 2, 22), ChangeKind.RESUMED)]
    assert amounts(run(events, utc(2026, 2, 25))) == [
        ("recurring", "7.00", utc(2026, 2, 1), utc(2026, 2, 8)),
        ("recurring", "7.00", utc(2026, 2, 22), utc(2026, 3, 1)),
    ]


def test_termination_mid_period_credits_the_rest_capped_at_what_was_billed() -> None:
    # A February line was issued for only 10.00 (an older price); terminated on 8 Feb the
    # unused 21 days are worth 28 * 21/28 = 21.00, but the credit is capped at 10.00.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    line = run(start, utc(2026, 2, 1))[0]
    billed = (InvoicedItem("inv1-0", line.kind, ACCOUNT, eur("10.00"), line.product_id,
                           line.price_id, line.start, line.end, line.quantity, None,
                           line.source_key, line.price_version),)
    events = [*start, ev(utc(2026, 2, 8), ChangeKind.TERMINATED)]
    lines = run(events, utc(2026, 2, 8), invoiced=billed)
    assert amounts(lines) == [("adjustment", "-10.00", utc(2026, 2, 8), utc(2026, 3, 1))]
    assert lines[0].detail["capped"] is True
    # an earlier repair credit of -4.00 for 28 Feb .. 1 Mar leaves 6.00 to credit, for the
    # span it did not credit yet (8 .. 28 Feb)
    repair = f"inv1-0|credit|{utc(2026, 2, 28).isoformat()}|{utc(2026, 3, 1).isoformat()}"
    earlier = (InvoicedItem("cn-1", LineKind.ADJUSTMENT, ACCOUNT, eur("-4.00"), "prod-1",
                            "basic-m", utc(2026, 2, 28), utc(2026, 3, 1), Decimal(1),
                            "inv1-0", repair, "basic"),)
    lines = run(events, utc(2026, 2, 8), invoiced=billed + earlier)
    assert amounts(lines) == [("adjustment", "-6.00", utc(2026, 2, 8), utc(2026, 2, 28))]


def test_termination_day_charged_like_lago() -> None:
    # terminated on 8 Feb 10:00: Kill Bill credits 8 Feb .. 1 Mar (21 days = -21.00);
    # Lago charges the 8th: credit 9 Feb .. 1 Mar (20 days = -20.00).
    lago = BillingSettings(termination_day_charged=True)
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    events = [*start, ev(utc(2026, 2, 8, 10), ChangeKind.TERMINATED)]
    assert [ln.amount.amount for ln in run(events, utc(2026, 2, 9), invoiced=billed)] == [
        Decimal("-21.00")]
    lines = run(events, utc(2026, 2, 9), invoiced=billed, settings=lago)
    assert amounts(lines) == [("adjustment", "-20.00", utc(2026, 2, 9), utc(2026, 3, 1))]


def test_no_credit_for_a_zero_amount_billed_item() -> None:
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    line = run(start, utc(2026, 2, 1))[0]
    billed = (InvoicedItem("inv1-0", line.kind, ACCOUNT, eur("0.00"), line.product_id,
                           line.price_id, line.start, line.end, line.quantity, None,
                           line.source_key, line.price_version),)
    events = [*start, ev(utc(2026, 2, 8), ChangeKind.TERMINATED)]
    assert run(events, utc(2026, 2, 8), invoiced=billed) == []


# -- discounts, one-time prices, minimum commitment ---------------------------------------------


def test_discount_with_application_duration_three() -> None:
    # 31.00/month, -50 % for 3 periods, starts 10 Jan; billed at 1 Apr in one go:
    # Jan stub 22/31 * 31 = 22.00, discount -11.00 (period index 0)
    # Feb 31.00 -15.50 (1), Mar 31.00 -15.50 (2), Apr 31.00 and no discount (3).
    half = AlterationSpec("half", "50 % off", percentage=Decimal(50), application_duration=3)
    plans = {"basic": plan("basic", recurring("basic-m", "31.00", alterations=(half,)))}
    lines = run([ev(utc(2026, 1, 10), ChangeKind.STARTED)], utc(2026, 4, 1), plans=plans)
    assert [(ln.kind.value, str(ln.amount.amount)) for ln in lines] == [
        ("recurring", "22.00"), ("discount", "-11.00"),
        ("recurring", "31.00"), ("discount", "-15.50"),
        ("recurring", "31.00"), ("discount", "-15.50"),
        ("recurring", "31.00"),
    ]
    assert lines[1].applies_to == lines[0].source_key
    assert [ln.detail["periodIndex"] for ln in lines if ln.kind is LineKind.RECURRING] == [
        0, 1, 2, 3]


def test_absolute_discount_is_per_unit_and_prorated_and_never_below_zero() -> None:
    # 10.00 per seat, 4.00 off per seat, 3 seats, starts 15 Feb (14/28):
    # line 30 * 1/2 = 15.00, discount 4 * 3 * 1/2 = -6.00;
    # a 12.00 discount per seat would be clamped to the line: -15.00.
    for off, expected in (("4.00", "-6.00"), ("12.00", "-15.00")):
        alteration = AlterationSpec("off", "seat discount", amount=eur(off))
        plans = {"basic": plan("basic", recurring("seat", "10.00", alterations=(alteration,)))}
        lines = run([ev(utc(2026, 2, 15), ChangeKind.STARTED, quantity=3)], utc(2026, 2, 15),
                    plans=plans)
        assert [str(ln.amount.amount) for ln in lines] == ["15.00", expected]


def test_upgrade_gives_back_the_discount_of_the_credited_days() -> None:
    # basic 28.00 with -50 %: February billed 28.00 and -14.00; upgrade on 15 Feb:
    # credit -14.00, and the discount of those days given back: 14 * 14/28 = +7.00.
    half = AlterationSpec("half", "50 % off", percentage=Decimal(50))
    plans = {"basic": plan("basic", recurring("basic-m", "28.00", alterations=(half,)), rank=1),
             "pro": PRO}
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1), plans=plans), "inv1")
    assert [str(item.amount.amount) for item in billed] == ["28.00", "-14.00"]
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "pro")]
    lines = run(events, utc(2026, 2, 15), invoiced=billed, plans=plans)
    assert [(ln.kind.value, str(ln.amount.amount), ln.corrects) for ln in lines] == [
        ("recurring", "28.00", None), ("adjustment", "-14.00", "inv1-0"),
        ("adjustment", "7.00", "inv1-1")]


def test_one_time_price_is_charged_once_at_the_start() -> None:
    activation = BillingPrice(PriceSpec("act", "Activation", "oneTime", eur("49.00")))
    plans = {"basic": plan("basic", recurring("basic-m", "28.00"), activation, rank=1),
             "pro": plan("pro", recurring("pro-m", "56.00"), activation, rank=2)}
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    lines = run(start, utc(2026, 2, 1), plans=plans)
    assert amounts(lines) == [("recurring", "28.00", utc(2026, 2, 1), utc(2026, 3, 1)),
                              ("oneTime", "49.00", utc(2026, 2, 1), None)]
    assert lines[1].source_key == "prod-1|act|oneTime"
    # a plan change does not charge the activation again
    events = [*start, ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "pro")]
    later = run(events, utc(2026, 2, 15), invoiced=issued(lines, "inv1"), plans=plans)
    assert LineKind.ONE_TIME not in {ln.kind for ln in later}


def test_usage_prices_of_a_plan_produce_nothing() -> None:
    usage = BillingPrice(PriceSpec("min", "Minutes", "usage", eur("0.05")))
    plans = {"basic": plan("basic", usage)}
    assert run([ev(utc(2026, 2, 1), ChangeKind.STARTED)], utc(2026, 3, 1), plans=plans) == []


def test_minimum_commitment_true_up() -> None:
    # 28.00/month, minimum 50.00 per period; February usage 12.345 -> 12.35:
    # 28.00 + 12.35 = 40.35 < 50.00 -> true-up 9.65 once February has ended.
    plans = {"basic": plan("basic", recurring("basic-m", "28.00"), minimum="50.00")}
    usage = UsageSummary("use-feb", ACCOUNT, "prod-1", "voice", "min", utc(2026, 2, 1),
                         utc(2026, 3, 1), Decimal(247), Money(Decimal("12.345"), "EUR"))
    events: list[BillingEvent] = [ev(utc(2026, 2, 1), ChangeKind.STARTED), usage]
    february = run(events, utc(2026, 2, 1), plans=plans)
    assert amounts(february) == [("recurring", "28.00", utc(2026, 2, 1), utc(2026, 3, 1))]
    lines = run(events, utc(2026, 3, 1), invoiced=issued(february, "inv1"), plans=plans)
    assert [(ln.kind.value, ln.name, str(ln.amount.amount)) for ln in lines] == [
        ("adjustment", "Minimum commitment true-up", "9.65"),
        ("usage", "voice", "12.35"),
        ("recurring", "basic — basic-m", "28.00"),
    ]
    trueup = lines[0]
    assert trueup.source_key == f"prod-1|minimum|{utc(2026, 2, 1).isoformat()}|" \
                                f"{utc(2026, 3, 1).isoformat()}"


def test_minimum_commitment_is_prorated_for_a_partial_period() -> None:
    # starts 15 Feb: 28 * 14/28 = 14.00 charged; minimum 50 * 14/28 = 25.00 -> 11.00
    plans = {"basic": plan("basic", recurring("basic-m", "28.00"), minimum="50.00")}
    events = [ev(utc(2026, 2, 15), ChangeKind.STARTED)]
    first = run(events, utc(2026, 2, 15), plans=plans)
    lines = run(events, utc(2026, 3, 1), invoiced=issued(first, "inv1"), plans=plans)
    trueup = [ln for ln in lines if ln.name == "Minimum commitment true-up"]
    assert [str(ln.amount.amount) for ln in trueup] == ["11.00"]


# -- charges and usage ---------------------------------------------------------------------------


def test_charges_and_manual_credits_are_billed_once_when_due() -> None:
    fee = ChargeEvent(utc(2026, 2, 8), "etf-1", ACCOUNT, eur("99.00"), "Early termination",
                      product_id="prod-1")
    credit = ChargeEvent(utc(2026, 2, 9), "man-1", ACCOUNT, eur("-5.005"), "Goodwill",
                         line_kind=LineKind.ADJUSTMENT)
    lines = run([fee, credit], utc(2026, 2, 8, 12))
    assert amounts(lines) == [("oneTime", "99.00", utc(2026, 2, 8), None)]
    lines = run([fee, credit], utc(2026, 2, 10), invoiced=issued(lines, "inv1"))
    # half-up: -5.005 -> -5.01 (the sign is kept, the magnitude rounds up)
    assert amounts(lines) == [("adjustment", "-5.01", utc(2026, 2, 9), None)]


def test_late_usage_gets_its_own_line_with_its_own_period() -> None:
    # January was invoiced; a January summary arrives in March: it goes on the March
    # invoice, dated 1 Jan .. 1 Feb.
    events: list[BillingEvent] = [ev(utc(2026, 1, 1), ChangeKind.STARTED)]
    january = issued(run(events, utc(2026, 1, 1)), "inv1")
    late = UsageSummary("use-jan-late", ACCOUNT, "prod-1", "data", "gb", utc(2026, 1, 1),
                        utc(2026, 2, 1), Decimal(3), eur("6.00"), name="Data")
    events.append(late)
    lines = run(events, utc(2026, 2, 1), invoiced=january)
    assert ("usage", "6.00", utc(2026, 1, 1), utc(2026, 2, 1)) in amounts(lines)
    correction = UsageSummary("use-jan-fix", ACCOUNT, "prod-1", "data", "gb", utc(2026, 1, 1),
                              utc(2026, 2, 1), Decimal(-1), eur("-2.00"), correction=True)
    fixed = run([*events, correction], utc(2026, 3, 1),
                invoiced=january + issued(lines, "inv2"))
    assert ("adjustment", "-2.00", utc(2026, 1, 1), utc(2026, 2, 1)) in amounts(fixed)


def test_usage_is_billed_when_its_period_has_ended() -> None:
    summary = UsageSummary("u", ACCOUNT, "prod-1", "voice", None, utc(2026, 2, 1),
                           utc(2026, 3, 1), Decimal(10), eur("1.00"))
    assert run([summary], utc(2026, 2, 28)) == []
    assert len(run([summary], utc(2026, 3, 1))) == 1


# -- hierarchy ----------------------------------------------------------------------------------


def test_children_paid_by_parent_keep_their_own_account_on_the_lines() -> None:
    account = terms(children=("child-1",))
    events = [ev(utc(2026, 2, 1), ChangeKind.STARTED),
              ev(utc(2026, 2, 1), ChangeKind.STARTED, product="prod-c", account="child-1")]
    lines = run(events, utc(2026, 2, 1), account=account)
    assert [(ln.account_id, ln.product_id) for ln in lines] == [
        (ACCOUNT, "prod-1"), ("child-1", "prod-c")]


# -- yearly price on a monthly account: intervalChange ---------------------------------------------

YEARLY = {
    "monthly": plan("monthly", recurring("m", "31.00"), rank=1),
    "yearly": plan("yearly", recurring("y", "365.00", period=ChargePeriod("year")), rank=2),
}


@pytest.mark.parametrize(("mode", "start", "end", "amount"), [
    # Kill Bill: the account's bill-cycle day (1) in the month of the product's start
    # (January): 1 Jan 2026 .. 1 Jan 2027 has 365 days; 10 Mar .. 1 Jan = 297 days -> 297.00
    ("keepBillCycleDay", utc(2026, 3, 10), utc(2027, 1, 1), "297.00"),
    # Stripe: the anchor moves to the change date: a full year from 10 Mar -> 365.00
    ("resetAnchor", utc(2026, 3, 10), utc(2027, 3, 10), "365.00"),
    # Lago: anchored on the subscription's start (10 Jan): 10 Mar .. 10 Jan 2027 = 306 days
    ("keepAnniversary", utc(2026, 3, 10), utc(2027, 1, 10), "306.00"),
])
def test_yearly_price_on_a_monthly_account(mode: str, start: datetime, end: datetime,
                                           amount: str) -> None:
    settings = BillingSettings(interval_change=mode)  # type: ignore[arg-type]
    events = [ev(utc(2026, 1, 10), ChangeKind.STARTED, "monthly"),
              ev(utc(2026, 3, 10), ChangeKind.PLAN_CHANGED, "yearly")]
    lines = run(events, utc(2026, 3, 10), plans=YEARLY, settings=settings)
    yearly = [ln for ln in lines if ln.price_version == "yearly"]
    assert amounts(yearly) == [("recurring", amount, start, end)]
    # the monthly plan: 10 Jan .. 1 Feb (22/31 * 31 = 22.00), February, 1 .. 10 Mar (9/31)
    monthly = [str(ln.amount.amount) for ln in lines if ln.price_version == "monthly"]
    assert monthly == ["22.00", "31.00", "9.00"]


# -- ordering and validation --------------------------------------------------------------------


def test_lines_are_sorted_by_account_product_start_kind() -> None:
    events: list[BillingEvent] = [
        ev(utc(2026, 1, 1), ChangeKind.STARTED, product="b"),
        ev(utc(2026, 1, 1), ChangeKind.STARTED, product="a"),
        ChargeEvent(utc(2026, 1, 1), "k", ACCOUNT, eur("1.00"), "x", product_id="a"),
    ]
    lines = run(events, utc(2026, 2, 1))
    assert [(ln.product_id, ln.start, ln.kind.value) for ln in lines] == [
        ("a", utc(2026, 1, 1), "recurring"), ("a", utc(2026, 1, 1), "oneTime"),
        ("a", utc(2026, 2, 1), "recurring"),
        ("b", utc(2026, 1, 1), "recurring"), ("b", utc(2026, 2, 1), "recurring")]


@pytest.mark.parametrize(("events", "target", "field"), [
    ([], datetime(2026, 2, 1), "target"),  # naive target
    ([ev(datetime(2026, 2, 1), ChangeKind.STARTED)], utc(2026, 2, 1), "events[0].at"),
    ([ChargeEvent(utc(2026, 2, 1), "k", ACCOUNT, Money(Decimal(1), "USD"), "x")],
     utc(2026, 2, 1), "events[0].amount.unit"),
    ([ev(utc(2026, 2, 1), ChangeKind.STARTED, account="stranger")], utc(2026, 2, 1),
     "events[0].accountId"),
    ([ev(utc(2026, 2, 1), ChangeKind.STARTED, "gold")], utc(2026, 2, 1),
     "events[0].priceVersion"),
])
def test_bad_input_names_the_field(events: list[BillingEvent], target: datetime,
                                   field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        calculate(AccountInput(terms(), tuple(events), PLANS), target=target, settings=DEFAULT)
    assert raised.value.field == field


def test_a_plan_in_another_currency_is_refused() -> None:
    plans = {"basic": Plan("basic", "basic", (BillingPrice(
        PriceSpec("usd", "usd", "recurring", Money(Decimal(1), "USD"))),))}
    with pytest.raises(ValidationError) as raised:
        calculate(AccountInput(terms(), (), plans), target=utc(2026, 1, 1), settings=DEFAULT)
    assert raised.value.field == "plans[basic].prices[0].currency"


# -- the worked examples of docs/billing.md "Proration and rounding" -----------------------------


@pytest.mark.parametrize(("settings", "expected"), [
    (DEFAULT, "15.00"),  # actual: 28.00 * 15/28
    (BillingSettings(proration_denominator="30"), "14.00"),  # 30/360: 28.00 * 15/30
])
def test_doc_example_thirty_day_month(settings: BillingSettings, expected: str) -> None:
    events = [ev(utc(2026, 2, 1), ChangeKind.STARTED), ev(utc(2026, 2, 16), ChangeKind.TERMINATED)]
    assert [str(ln.amount.amount) for ln in run(events, utc(2026, 2, 20),
                                                settings=settings)] == [expected]


@pytest.mark.parametrize(("mode", "expected"), [("halfUp", "0.06"), ("halfEven", "0.04")])
def test_doc_example_rounding_each_half_of_five_cents(mode: str, expected: str) -> None:
    # 0.05/month, changed to an equal-priced version on 15 Feb (14 of 28 days each):
    # 0.025 + 0.025 -> 0.03 + 0.03 (halfUp) or 0.02 + 0.02 (halfEven)
    plans = {"a": plan("a", recurring("a-m", "0.05")), "b": plan("b", recurring("b-m", "0.05"))}
    events = [ev(utc(2026, 2, 1), ChangeKind.STARTED, "a"),
              ev(utc(2026, 2, 15), ChangeKind.PLAN_CHANGED, "b")]
    settings = BillingSettings(rounding_mode=mode)  # type: ignore[arg-type]
    lines = run(events, utc(2026, 2, 20), plans=plans, settings=settings)
    assert str(sum(ln.amount.amount for ln in lines)) == expected


def test_a_credit_note_does_not_uncover_the_period_but_lowers_the_cap() -> None:
    # February billed 28.00; a credit note credits 20.00 of that line (its line carries the
    # line's whole period, no source key): the period is not billed again. Terminated on
    # 8 Feb: 21.00 unused, but only 28 - 20 = 8.00 is left to credit.
    start = [ev(utc(2026, 2, 1), ChangeKind.STARTED)]
    billed = issued(run(start, utc(2026, 2, 1)), "inv1")
    note = (InvoicedItem("cn-1", LineKind.ADJUSTMENT, ACCOUNT, eur("-20.00"), "prod-1",
                         "basic-m", utc(2026, 2, 1), utc(2026, 3, 1), Decimal(1), "inv1-0",
                         None, "basic"),)
    assert run(start, utc(2026, 2, 10), invoiced=billed + note) == []
    events = [*start, ev(utc(2026, 2, 8), ChangeKind.TERMINATED)]
    lines = run(events, utc(2026, 2, 8), invoiced=billed + note)
    assert amounts(lines) == [("adjustment", "-8.00", utc(2026, 2, 8), utc(2026, 3, 1))]


def test_a_recurring_charge_model_prices_the_quantity_then_prorates() -> None:
    # volume seats: 12 seats all at tier 2 (10.00) = 120.00 a month; started 15 Feb
    # (14/28): 60.00. Going to 5 seats on 22 Feb (tier 1, 12.00 = 60.00 a month):
    # credit 120 * 7/28 = -30.00, charge 60 * 7/28 = 15.00.
    from openbss.catalog.pricing import parse_charge_model

    model = parse_charge_model({"type": "volume", "tiers": [
        {"upTo": "10", "unitPrice": "12"}, {"upTo": "50", "unitPrice": "10"},
        {"upTo": None, "unitPrice": "8"}]})
    seats = PriceSpec("seats", "Seats", "recurring", charge_model=model, currency="EUR")
    plans = {"basic": plan("basic", BillingPrice(seats))}
    start = [ev(utc(2026, 2, 15), ChangeKind.STARTED, quantity=12)]
    first = run(start, utc(2026, 2, 15), plans=plans)
    assert [str(ln.amount.amount) for ln in first] == ["60.00"]
    events = [*start, ev(utc(2026, 2, 22), ChangeKind.QUANTITY_CHANGED, quantity=5)]
    lines = run(events, utc(2026, 2, 22), invoiced=issued(first, "inv1"), plans=plans)
    assert [str(ln.amount.amount) for ln in lines] == ["15.00", "-30.00"]
