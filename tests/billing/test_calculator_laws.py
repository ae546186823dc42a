"""Laws of the invoice calculation (hypothesis).

* a product active for a whole period is charged exactly its price;
* a period split at any local day into two prorated parts sums to the whole within one
  minor unit (each line is rounded once, so each is off by at most half a unit — the
  documented rule, docs/billing.md "Proration and rounding");
* start-then-cancel on the same local day charges nothing (day granularity);
* calculate(input + its own output) == [] after any story, at every target;
* a credit never exceeds what was billed for the item it corrects (with earlier credits);
* every line's amount is its exact amount rounded once, so the totals add up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    BillingEvent,
    BillingMode,
    BillingPrice,
    InvoicedItem,
    LineKind,
    Plan,
    ProposedLine,
    SubscriptionEvent,
)
from openbss.billing.calculator import calculate
from openbss.billing.settings import BillingSettings
from openbss.core.money import Money, round_amount
from openbss.core.periods import BillingCycle, Frequency, Period, period_containing
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.pricing import AlterationSpec, ChargePeriod, PriceSpec

ACCOUNT = "acc-1"


def eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


def recurring(price_id: str, amount: str, *, mode: BillingMode = "inAdvance",
              period: ChargePeriod | None = None,
              alterations: tuple[AlterationSpec, ...] = ()) -> BillingPrice:
    return BillingPrice(PriceSpec(price_id, price_id, "recurring", eur(amount), period=period,
                                  alterations=alterations), mode)


def plan(version: str, *prices: BillingPrice, rank: int | None = None,
         minimum: str | None = None) -> Plan:
    return Plan(version, version, tuple(prices), rank=rank,
                minimum_commitment=eur(minimum) if minimum else None)


def ev(at: datetime, kind: ChangeKind, version: str = "basic",
       quantity: int = 1) -> SubscriptionEvent:
    return SubscriptionEvent(at, kind, ACCOUNT, "prod-1", version, quantity)


def issued(lines: list[ProposedLine], prefix: str) -> tuple[InvoicedItem, ...]:
    """The lines as the invoice context issues them (line ids ``prefix-0`` …)."""
    return tuple(InvoicedItem(
        f"{prefix}-{i}", line.kind, line.account_id, line.amount, line.product_id,
        line.price_id, line.start, line.end, line.quantity, line.corrects, line.source_key,
        line.price_version) for i, line in enumerate(lines))

ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
ALL_SETTINGS = st.builds(
    BillingSettings,
    proration_granularity=st.sampled_from(["day", "second"]),
    proration_denominator=st.sampled_from(["actual", "30"]),
    termination_day_charged=st.booleans(),
    interval_change=st.sampled_from(["keepBillCycleDay", "resetAnchor", "keepAnniversary"]),
    downgrade_timing=st.sampled_from(["endOfTerm", "immediate"]),
    rounding_mode=st.sampled_from(["halfUp", "halfEven"]),
)
DAY_SETTINGS = st.builds(BillingSettings, proration_denominator=st.sampled_from(["actual", "30"]),
                         rounding_mode=st.sampled_from(["halfUp", "halfEven"]))
prices = st.integers(1, 10**7).map(lambda cents: Decimal(cents).scaleb(-2))


def account(tz: str, anchor: int) -> AccountTerms:
    return AccountTerms(ACCOUNT, "EUR", BillingCycle(Frequency.MONTHLY, anchor, tz=tz))


@st.composite
def periods(draw: st.DrawFn) -> tuple[AccountTerms, Period]:
    terms = account(draw(st.sampled_from(ZONES)), draw(st.integers(1, 31)))
    at = datetime(draw(st.integers(2024, 2028)), draw(st.integers(1, 12)), 15,
                  tzinfo=ZoneInfo("UTC"))
    return terms, period_containing(terms.cycle, at)


def local_midnight(period: Period, day: int) -> datetime:
    """The local midnight ``day`` days after the period's start (clamped to its end)."""
    zone = ZoneInfo(period.tz)
    first = period.start.astimezone(zone).date()
    local = first + timedelta(days=day)
    at = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(ZoneInfo("UTC"))
    return min(at, period.end)


def single(price: Decimal, *, rank: int = 1, version: str = "basic") -> dict[str, Plan]:
    return {version: plan(version, recurring(f"{version}-m", str(price)), rank=rank)}


@given(periods(), prices, st.integers(1, 5), st.floats(0, 1), DAY_SETTINGS)
def test_a_whole_period_is_charged_exactly_its_price(
        window: tuple[AccountTerms, Period], price: Decimal, quantity: int, where: float,
        config: BillingSettings) -> None:
    terms, period = window
    target = period.start + (period.end - period.start) * where
    target = min(target, period.end - timedelta(microseconds=1))
    inp = AccountInput(terms, (ev(period.start, ChangeKind.STARTED, quantity=quantity),),
                       single(price))
    lines = calculate(inp, target=target, settings=config)
    assert [(line.amount.amount, line.start, line.end) for line in lines] == [
        (price * quantity, period.start, period.end)]


@given(periods(), prices, st.integers(1, 30), DAY_SETTINGS)
def test_a_period_split_at_any_day_sums_to_the_whole_within_one_minor_unit(
        window: tuple[AccountTerms, Period], price: Decimal, day: int,
        config: BillingSettings) -> None:
    terms, period = window
    cut = local_midnight(period, day)
    plans = {**single(price), **single(price, version="other")}
    events = (ev(period.start, ChangeKind.STARTED),
              ev(cut, ChangeKind.PLAN_CHANGED, "other"))
    lines = calculate(AccountInput(terms, events, plans), target=period.end - timedelta(seconds=1),
                      settings=config)
    total = sum((line.amount.amount for line in lines), Decimal(0))
    assert abs(total - price) <= Decimal("0.01")
    assert all(line.kind is LineKind.RECURRING for line in lines)


@given(periods(), st.integers(0, 27), st.integers(0, 86_399), st.integers(0, 86_399),
       st.sampled_from(["actual", "30"]))
def test_start_then_cancel_on_the_same_day_charges_nothing(
        window: tuple[AccountTerms, Period], day: int, first: int, second: int,
        denominator: str) -> None:
    terms, period = window
    midnight = local_midnight(period, day)
    start = midnight + timedelta(seconds=min(first, second))
    end = midnight + timedelta(seconds=max(first, second))
    zone = ZoneInfo(terms.tz)
    if end.astimezone(zone).date() != start.astimezone(zone).date():
        end = start  # a DST day shorter than 24 h: stay on the same local day
    events = (ev(start, ChangeKind.STARTED), ev(end, ChangeKind.TERMINATED))
    config = BillingSettings(proration_denominator=denominator)  # type: ignore[arg-type]
    inp = AccountInput(terms, events, single(Decimal("30.00")))
    assert calculate(inp, target=end + timedelta(days=40), settings=config) == []


# -- stories ------------------------------------------------------------------------------------

HALF = AlterationSpec("half", "50 % off", percentage=Decimal(50), application_duration=2)
STORY_PLANS = {
    "basic": plan("basic", recurring("basic-m", "28.00", alterations=(HALF,)), rank=1),
    "pro": plan("pro", recurring("pro-m", "56.00"), rank=2, minimum="70.00"),
    "arrears": plan("arrears", recurring("arr-m", "17.33", mode="inArrears"), rank=3),
    "yearly": plan("yearly", recurring("y", "333.33", period=ChargePeriod("year")), rank=4),
}


@st.composite
def stories(draw: st.DrawFn) -> tuple[list[SubscriptionEvent], list[datetime]]:
    base = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    t = base + timedelta(hours=draw(st.integers(0, 24 * 40)))
    events: list[SubscriptionEvent] = [ev(t, ChangeKind.STARTED, draw(st.sampled_from(
        sorted(STORY_PLANS))), draw(st.integers(1, 3)))]
    state = "active"
    for _ in range(draw(st.integers(0, 5))):
        t += timedelta(hours=draw(st.integers(1, 24 * 25)))
        choices = ["plan", "quantity", "terminate"]
        choices.append("suspend" if state == "active" else "resume")
        kind = draw(st.sampled_from(choices))
        if kind == "plan":
            version = draw(st.sampled_from(sorted(STORY_PLANS)))
            events.append(ev(t, ChangeKind.PLAN_CHANGED, version))
        elif kind == "quantity":
            events.append(ev(t, ChangeKind.QUANTITY_CHANGED, quantity=draw(st.integers(1, 3))))
        elif kind == "suspend":
            events.append(ev(t, ChangeKind.SUSPENDED))
            state = "suspended"
        elif kind == "resume":
            events.append(ev(t, ChangeKind.RESUMED))
            state = "active"
        else:
            events.append(ev(t, ChangeKind.TERMINATED))
            break
    # targets around the changes (just before and after them) and anywhere
    targets = [base + timedelta(hours=draw(st.integers(0, 24 * 300)))
               for _ in range(draw(st.integers(0, 2)))]
    for change in events:
        if draw(st.booleans()):
            targets.append(change.at - timedelta(hours=draw(st.integers(0, 24 * 10))))
        if draw(st.booleans()):
            targets.append(change.at + timedelta(hours=draw(st.integers(0, 24 * 10))))
    targets.sort()
    if not targets:
        targets = [t]
    return events, targets


def _version_consistent(events: list[SubscriptionEvent]) -> list[SubscriptionEvent]:
    """Carry the price version in force on every event (as the junction does)."""
    version = ""
    out: list[SubscriptionEvent] = []
    for change in events:
        if change.kind in (ChangeKind.STARTED, ChangeKind.PLAN_CHANGED):
            version = change.price_version
        out.append(change if change.price_version == version
                   else ev(change.at, change.kind, version, change.quantity))
    return out


def _check_lines(lines: list[ProposedLine], rounding: str) -> None:
    for line in lines:
        assert line.amount.amount == round_amount(line.exact, "EUR", rounding)
        assert line.amount.amount != 0
    assert sum((ln.amount.amount for ln in lines), Decimal(0)) == sum(
        (round_amount(ln.exact, "EUR", rounding) for ln in lines), Decimal(0))


def _check_credits(invoiced: tuple[InvoicedItem, ...]) -> None:
    by_id = {item.line_id: item for item in invoiced}
    credited: dict[str, Decimal] = {}
    for item in invoiced:
        if item.corrects is not None:
            credited[item.corrects] = credited.get(item.corrects, Decimal(0)) + item.amount.amount
    for line_id, total in credited.items():
        billed = by_id[line_id].amount.amount
        assert abs(total) <= abs(billed)  # a credit never exceeds what was billed
        assert total * billed <= 0  # and always goes against it


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories(), ALL_SETTINGS)
def test_stories_are_idempotent_capped_and_add_up(
        story: tuple[list[SubscriptionEvent], list[datetime]], config: BillingSettings) -> None:
    raw, targets = story
    events: tuple[BillingEvent, ...] = tuple(_version_consistent(raw))
    terms = account("Europe/Berlin", 1)
    invoiced: tuple[InvoicedItem, ...] = ()
    for round_no, target in enumerate(targets):
        # the bill run sees the changes made so far (later ones are not known yet)
        known = tuple(e for e in events if e.at <= target) or events[:1]
        inp = AccountInput(terms, known, STORY_PLANS, invoiced)
        lines = calculate(inp, target=target, settings=config)
        _check_lines(lines, config.decimal_rounding)
        invoiced += issued(lines, f"inv{round_no}")
        again = AccountInput(terms, known, STORY_PLANS, invoiced)
        assert calculate(again, target=target, settings=config) == []
        _check_credits(invoiced)
    event(f"credits: {any(item.corrects for item in invoiced)}")
    event(f"discounts: {any(item.kind is LineKind.DISCOUNT for item in invoiced)}")
    event(f"true-ups: {any('|minimum|' in (item.source_key or '') for item in invoiced)}")
    assert all(item.amount.currency == "EUR" for item in invoiced)
