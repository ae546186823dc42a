"""The invoice calculation: what is missing or must be corrected (pure).

No I/O, no clock, no database. :func:`calculate` compares what *should* have been billed
for every period up to ``target`` with what was already invoiced and answers only the
missing or correcting :class:`~openbss.billing.book.ProposedLine` values, like Kill Bill's
invoice generator. Running it again with its own output added to ``invoiced`` answers
``[]``: the bill run relies on it.

Rules, in the order they are applied (docs/billing.md, "Calculation order"):

1. **Validation** — naive datetimes, currencies other than the account's, events of
   accounts that are neither the account nor one of its children paid by it, and price
   versions missing from ``plans`` raise :class:`~openbss.core.errors.ValidationError`
   naming the field (``events[3].at``, ``plans[gold].prices[0].currency`` …).
2. **Effective history** — per product, its :class:`~openbss.billing.book.SubscriptionEvent`
   values become ordering's ``ProductChange`` values. A plan change to a *lower* plan
   (lower ``Plan.rank``; with ranks missing, a lower recurring amount per month at
   quantity 1) with ``downgradeTiming`` ``endOfTerm`` (the new plan's override, else the
   tenant setting) is moved to the end of the period in progress of the old plan's first
   recurring price (no credit, the new price from the next period); it is dropped if the
   product changes plan again or terminates before then. ``immediate`` downgrades and all
   upgrades take effect at their instant. :func:`openbss.ordering.intervals.effective_intervals`
   then gives the active and suspended intervals; suspended time is not charged.
   With ``terminationDayCharged`` the last active interval of a terminated product ends
   at the next local midnight (:func:`openbss.billing.proration.charged_end`).
3. **Recurring slices** — each recurring price of the plan in force is charged per period.
   A price whose charge period equals the account cycle's frequency uses the account
   cycle; another one (a yearly price on a monthly account) gets its own cycle per
   ``intervalChange``: ``keepBillCycleDay`` (Kill Bill) — the account's anchor day, the
   month of the product's start; ``resetAnchor`` (Stripe) — anchored on the day the
   product moved to this price version; ``keepAnniversary`` (Lago) — anchored on the
   product's start date. A slice is an active interval clipped to a period; it is
   identified by (account, product, price id, price version, quantity, [start, end)).
   ``inAdvance`` slices are due when they start (``start <= target``), ``inArrears``
   ones when their period ends (``end <= target``).
4. **Coverage** — a billed recurring :class:`~openbss.billing.book.InvoicedItem` covers its
   ``[start, end)`` minus the spans of the repair credits that ``corrects`` it (the credits
   this function proposed, ``source_key`` ``"<line id>|credit|<start>|<end>"``; a credit
   note's line that corrects it lowers the cap below but leaves the span covered, so a
   credited period is not billed again). *Missing* = due
   slices minus covered spans: a ``recurring`` line each, amount = unit price × quantity
   (or the catalog charge model of the quantity) × the proration ratio
   (:func:`openbss.billing.proration.share`), exact, rounded once. *Unused* = covered spans
   that are in no slice any more (a plan or quantity change, a suspension, a termination):
   an ``adjustment`` line each (negative, ``corrects`` = the billed line), computed the
   same way, capped at what was billed for the item minus the credits that already
   corrected it (Kill Bill's REPAIR_ADJ); only once the unused span has started
   (``start <= target``). No credit for a zero-amount billed item.
5. **Discounts** — each alteration of a charged recurring or one-time price becomes a
   ``discount`` line right after its line (``applies_to`` = the line's ``source_key``,
   ``source_key`` = that key + ``|`` + the alteration id), as ordering.pricing computes
   them: priority order, a percentage of the running (rounded) amount or an absolute
   amount per unit × the proration ratio, each rounded, clamped so the net never goes
   below zero. ``applicationDuration`` ``n`` applies to the period indices ``0 .. n-1``
   (index 0 = the period of the price's cycle that contains the product's start).
6. **One-time prices** of the plan at the product's ``started`` event (not on plan
   changes): one ``oneTime`` line each, ``source_key`` ``"<product>|<price id>|oneTime"``.
   ``usage`` prices produce nothing (rating priced the usage: it arrives as
   :class:`~openbss.billing.book.UsageSummary`), ``penalty`` prices neither (the
   early-termination fee arrives as a :class:`~openbss.billing.book.ChargeEvent`).
7. **Charges and usage** — a :class:`~openbss.billing.book.ChargeEvent` is due at
   ``at <= target``, a usage summary at ``end <= target``; one line each (kind
   ``line_kind``; ``usage``, or ``adjustment`` for a re-rating correction), unless an
   invoiced item has the same ``source_key``. A late summary keeps its own service period.
8. **Minimum commitment** — once an account-cycle period of a product with a
   ``Plan.minimum_commitment`` has ended, if its recurring, discount, usage lines and
   recurring credits starting in that period (invoiced + proposed) are below the minimum
   (prorated by the product's active share of the period), an ``adjustment`` line
   "Minimum commitment true-up" for the difference, ``source_key``
   ``"<product>|minimum|<start ISO>|<end ISO>"``, once.

Lines whose rounded amount is zero are never proposed. The answer is sorted by account,
product, start, kind; a discount follows the line it discounts.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    BillingPrice,
    ChargeEvent,
    InvoicedItem,
    LineKind,
    Plan,
    ProposedLine,
    SubscriptionEvent,
    UsageSummary,
)
from openbss.billing.proration import charged_end, share
from openbss.billing.settings import BillingSettings
from openbss.catalog.pricing import price as price_charge_model
from openbss.core.errors import ValidationError
from openbss.core.money import Money, round_amount, validate_currency
from openbss.core.periods import (
    Alignment,
    BillingCycle,
    Frequency,
    Period,
    cycle_for_subscription,
    local_date,
    period_containing,
    periods_between,
    to_utc,
)
from openbss.ordering.intervals import (
    ChangeKind,
    EffectiveInterval,
    IntervalKind,
    ProductChange,
    effective_intervals,
)
from openbss.ordering.pricing import AlterationSpec, PriceSpec

__all__ = ["calculate"]

Span = tuple[datetime, datetime]
#: (account, product, price id, price version, quantity)
SliceKey = tuple[str, str, str, str, Decimal]

_MUL = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN,
                       traps=[decimal.InvalidOperation, decimal.Overflow])
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
_FOREVER = datetime.max.replace(tzinfo=UTC)
_TICK = timedelta(microseconds=1)
_KIND_RANK = {LineKind.RECURRING: 0, LineKind.DISCOUNT: 1, LineKind.ADJUSTMENT: 2,
              LineKind.ONE_TIME: 3, LineKind.USAGE: 4}
#: Marks the ``source_key`` of a credit for unused time (a repair).
_REPAIR = "|credit|"
#: Kinds that count towards a minimum commitment.
_COMMITTED = frozenset({LineKind.RECURRING, LineKind.DISCOUNT, LineKind.USAGE})


@lru_cache(maxsize=8192)
def _periods(cycle: BillingCycle, start: datetime, end: datetime) -> tuple[Period, ...]:
    """:func:`~openbss.core.periods.periods_between`, memoised (a pure function of its
    arguments: bill runs ask for the same cycles and dates for many accounts)."""
    return tuple(periods_between(cycle, start, end))


# -- spans ------------------------------------------------------------------------------------


def _union(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _cut(spans: list[Span], holes: list[Span]) -> list[Span]:
    """``spans`` minus ``holes``, both merged as :func:`_union` gives them (a single span
    is): sorted, non-empty pieces."""
    result: list[Span] = []
    for lo, hi in spans:
        cursor = lo
        for h_lo, h_hi in holes:
            if h_hi <= cursor or h_lo >= hi:
                continue
            if h_lo > cursor:
                result.append((cursor, h_lo))
            cursor = max(cursor, h_hi)
            if cursor >= hi:
                break
        if cursor < hi:
            result.append((cursor, hi))
    return result


# -- the pieces of one computation -----------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """A line and the discount lines that follow it."""

    lines: list[ProposedLine]

    @property
    def sort_key(self) -> tuple[str, str, datetime, int, str]:
        head = self.lines[0]
        return (head.account_id, head.product_id or "", head.start or _FOREVER,
                _KIND_RANK[head.kind], head.source_key or "")


@dataclass(slots=True)
class _Slice:
    span: Span
    period: Period
    period_index: int
    price: BillingPrice
    plan: Plan
    quantity: int
    due: bool


@dataclass(slots=True)
class _Run:
    """A stretch of a product's life on one price version (for ``resetAnchor``)."""

    version: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class _Calc:
    inp: AccountInput
    target: datetime
    settings: BillingSettings
    rounding: str
    currency: str
    invoiced_keys: set[str] = field(default_factory=set)
    groups: list[_Group] = field(default_factory=list)
    lives: dict[tuple[str, str], _Life] = field(default_factory=dict)
    coverage: dict[SliceKey, list[tuple[InvoicedItem, Span]]] = field(default_factory=dict)
    credited: dict[str, Decimal] = field(default_factory=dict)  # line id -> sum of credits
    #: (account, product) -> the latest end of its invoiced items
    billed_until: dict[tuple[str, str | None], datetime] = field(default_factory=dict)

    def round(self, amount: Decimal) -> Decimal:
        return round_amount(amount, self.currency, self.rounding)

    def money(self, amount: Decimal) -> Money:
        return Money(amount, self.currency)


def calculate(input: AccountInput, *, target: datetime,
              settings: BillingSettings) -> list[ProposedLine]:
    """The missing or correcting lines of ``input`` up to ``target`` (module docstring)."""
    moment = to_utc(target, "target")
    currency = _validate(input)
    calc = _Calc(input, moment, settings, settings.decimal_rounding, currency,
                 {item.source_key for item in input.invoiced if item.source_key})
    calc.coverage = _coverage(input.invoiced)
    for item in input.invoiced:
        if item.corrects is not None:
            calc.credited[item.corrects] = calc.credited.get(item.corrects, _ZERO) \
                + item.amount.amount
        if item.end is not None:
            owner, end = (item.account_id, item.product_id), to_utc(item.end)
            if owner not in calc.billed_until or end > calc.billed_until[owner]:
                calc.billed_until[owner] = end
    histories: dict[tuple[str, str], list[SubscriptionEvent]] = defaultdict(list)
    for event in input.events:
        if isinstance(event, SubscriptionEvent):
            histories[(event.account_id, event.product_id)].append(event)
    for (account_id, product_id), events in histories.items():
        events.sort(key=lambda e: e.sort_key)
        _product_lines(calc, account_id, product_id, events)
    _recurring_credits(calc)
    for event in input.events:
        if isinstance(event, ChargeEvent):
            _charge_line(calc, event)
        elif isinstance(event, UsageSummary):
            _usage_line(calc, event)
    for (account_id, product_id), life in calc.lives.items():
        _minimum_commitment(calc, account_id, product_id, life.intervals)
    calc.groups.sort(key=lambda group: group.sort_key)
    return [line for group in calc.groups for line in group.lines]


# -- validation -------------------------------------------------------------------------------


def _check_money(money: Money, currency: str, where: str, name: str = "amount") -> None:
    if money.currency != currency:
        raise ValidationError(f"{where}.{name} is in {money.currency}, the account bills in "
                              f"{currency}", field=f"{where}.{name}.unit")


def _check_instant(value: datetime, where: str, name: str) -> datetime:
    """``value`` in UTC; anything but an aware datetime is refused naming
    ``<where>.<name>`` (the name is only made when it is needed)."""
    try:
        return to_utc(value)
    except ValidationError:
        return to_utc(value, f"{where}.{name}")


def _validate(inp: AccountInput) -> str:
    terms = inp.terms
    currency = validate_currency(terms.currency, field="terms.currency")
    accounts = {terms.id, *terms.children}
    for version, plan in inp.plans.items():
        for j, billing_price in enumerate(plan.prices):
            spec = billing_price.spec
            if spec.currency != currency:
                raise ValidationError(
                    f"price {spec.id!r} of plan {version!r} is in {spec.currency}, the account "
                    f"bills in {currency}", field=f"plans[{version}].prices[{j}].currency")
            if billing_price.billing_mode not in ("inAdvance", "inArrears"):
                raise ValidationError(f"unknown billing mode {billing_price.billing_mode!r}",
                                      field=f"plans[{version}].prices[{j}].billingMode")
        if plan.minimum_commitment is not None:
            _check_money(plan.minimum_commitment, currency, f"plans[{version}]",
                         "minimumCommitment")
    for i, event in enumerate(inp.events):
        where = f"events[{i}]"
        if event.account_id not in accounts:
            raise ValidationError(
                f"{where} belongs to account {event.account_id!r}, neither {terms.id!r} nor "
                f"one of the children it pays for", field=f"{where}.accountId")
        if isinstance(event, SubscriptionEvent):
            _check_instant(event.at, where, "at")
            if event.price_version not in inp.plans:
                raise ValidationError(f"{where}: no plan for price version "
                                      f"{event.price_version!r}", field=f"{where}.priceVersion")
        elif isinstance(event, ChargeEvent):
            _check_instant(event.at, where, "at")
            _check_money(event.amount, currency, where)
            if event.service_start is not None:
                _check_instant(event.service_start, where, "service_start")
            if event.service_end is not None:
                _check_instant(event.service_end, where, "service_end")
        else:
            start = _check_instant(event.start, where, "start")
            if _check_instant(event.end, where, "end") <= start:
                raise ValidationError(f"{where}: end must be after start", field=f"{where}.end")
            _check_money(event.amount, currency, where)
    for i, item in enumerate(inp.invoiced):
        where = f"invoiced[{i}]"
        _check_money(item.amount, currency, where)
        if item.start is not None:
            _check_instant(item.start, where, "start")
        if item.end is not None:
            _check_instant(item.end, where, "end")
    return currency


# -- prices -----------------------------------------------------------------------------------


def _base_amount(spec: PriceSpec, quantity: int) -> Decimal:
    """Unit price × quantity, or the catalog charge model of the quantity (exact)."""
    if spec.charge_model is not None:
        return price_charge_model(spec.charge_model, quantity).amount
    assert spec.unit_price is not None
    return _MUL.multiply(spec.unit_price.amount, Decimal(quantity))


_FREQUENCIES: dict[tuple[str, int], Frequency] = {
    ("day", 1): Frequency.DAILY, ("week", 1): Frequency.WEEKLY,
    ("month", 1): Frequency.MONTHLY, ("month", 3): Frequency.QUARTERLY,
    ("month", 12): Frequency.YEARLY, ("year", 1): Frequency.YEARLY,
}


def _frequency(spec: PriceSpec) -> Frequency:
    period = spec.period
    assert period is not None
    frequency = _FREQUENCIES.get((period.type, period.length))
    if frequency is None:
        raise ValidationError(
            f"price {spec.id!r}: a recurring period of {period.label()} cannot be billed "
            f"(day, week, month, 3 months, 12 months or year)",
            field=f"productOfferingPrice[{spec.id}].recurringChargePeriodLength")
    return frequency


def _months_per_period(spec: PriceSpec) -> Decimal:
    frequency = _frequency(spec)
    if frequency.months is not None:
        return Decimal(frequency.months)
    days = frequency.days or 1
    return _MUL.divide(Decimal(days) * 12, Decimal(365))


def _cycle(spec: PriceSpec, terms: AccountTerms, settings: BillingSettings,
           product_start: datetime, version_start: datetime) -> BillingCycle:
    """The periods of a recurring price (module docstring, rule 3)."""
    frequency = _frequency(spec)
    account = terms.cycle
    if frequency is account.frequency:
        return account
    mode = settings.interval_change
    if mode == "resetAnchor":
        return cycle_for_subscription(frequency, version_start, Alignment.ANNIVERSARY, account.tz)
    if mode == "keepAnniversary" or frequency.months is None or account.frequency.months is None:
        return cycle_for_subscription(frequency, product_start, Alignment.ANNIVERSARY,
                                      account.tz)
    # keepBillCycleDay: the account's bill-cycle day, periods of the price's length.
    month = local_date(product_start, account.tz).month
    anchor_month = month if frequency.months in (3, 12) else None
    return BillingCycle(frequency, account.anchor_day or 1, Alignment.ANNIVERSARY, account.tz,
                        anchor_month)


def _per_month(plan: Plan) -> Decimal:
    total = _ZERO
    for billing_price in plan.prices:
        spec = billing_price.spec
        if spec.price_type == "recurring":
            total += _MUL.divide(_base_amount(spec, 1), _months_per_period(spec))
    return total


def _is_downgrade(old: Plan, new: Plan) -> bool:
    if old.rank is not None and new.rank is not None:
        return new.rank < old.rank
    return _per_month(new) < _per_month(old)


def _sorted_alterations(alterations: Sequence[AlterationSpec]) -> list[AlterationSpec]:
    indexed = list(enumerate(alterations))
    indexed.sort(key=lambda pair: (pair[1].priority is None, pair[1].priority or 0, pair[0]))
    return [alteration for _, alteration in indexed]


# -- one product ------------------------------------------------------------------------------


def _first_recurring(plan: Plan) -> PriceSpec | None:
    return next((bp.spec for bp in plan.prices if bp.spec.price_type == "recurring"), None)


def _changes(calc: _Calc, events: Sequence[SubscriptionEvent]) -> list[ProductChange]:
    """The product's history with ``endOfTerm`` downgrades moved (module docstring, rule 2)."""
    plans, terms, settings = calc.inp.plans, calc.inp.terms, calc.settings
    entries: list[tuple[datetime, int, ProductChange]] = []
    deferred: list[tuple[int, datetime, ProductChange]] = []
    version = ""
    version_start = product_start = events[0].at
    for order, event in enumerate(events):
        at = to_utc(event.at)
        kind = ChangeKind(event.kind)
        if kind is ChangeKind.STARTED:
            version, version_start, product_start = event.price_version, at, at
            entries.append((at, order, ProductChange(at, kind, event.price_version,
                                                     event.quantity)))
            continue
        if kind is ChangeKind.PLAN_CHANGED and version and event.price_version != version:
            old, new = plans[version], plans[event.price_version]
            timing = new.downgrade_timing or settings.downgrade_timing
            spec = _first_recurring(old)
            if timing == "endOfTerm" and _is_downgrade(old, new):
                cycle = (terms.cycle if spec is None else
                         _cycle(spec, terms, settings, product_start, version_start))
                period = period_containing(cycle, at)
                # a change already on a period boundary (ordering deferred it to the end of
                # the term itself) takes effect there, not one period later
                effective = at if period.start == at else period.end
                deferred.append((order, effective, ProductChange(effective, kind,
                                                                 event.price_version)))
                version, version_start = event.price_version, effective
                continue
            version, version_start = event.price_version, at
        entries.append((at, order, ProductChange(at, kind, event.price_version, event.quantity)))
    for order, effective, change in deferred:
        superseded = any(
            o > order and at < effective and c.kind in (ChangeKind.PLAN_CHANGED,
                                                        ChangeKind.TERMINATED)
            for at, o, c in entries) or any(
            o > order and eff <= effective for o, eff, _ in deferred)
        ended = any(c.kind is ChangeKind.TERMINATED and at <= effective
                    for at, _, c in entries)
        if not superseded and not ended:
            entries.append((effective, -1, change))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [change for _, _, change in entries]


def _runs(intervals: Sequence[EffectiveInterval]) -> list[_Run]:
    runs: list[_Run] = []
    for interval in intervals:
        if runs and runs[-1].version == interval.price_version and runs[-1].end == interval.start:
            runs[-1].end = interval.end
        else:
            runs.append(_Run(interval.price_version, interval.start, interval.end))
    return runs


def _run_start(runs: Sequence[_Run], version: str, at: datetime) -> datetime | None:
    for run in runs:
        if run.version == version and run.start <= at < run.end:
            return run.start
    return None


@dataclass(slots=True)
class _Life:
    """What one product's history means for billing."""

    start: datetime
    intervals: list[EffectiveInterval]  # active and suspended, last active one extended
    runs: list[_Run]
    slices: dict[SliceKey, list[_Slice]]


def _life(calc: _Calc, account_id: str, product_id: str,
          events: Sequence[SubscriptionEvent]) -> _Life:
    if ChangeKind(events[0].kind) is not ChangeKind.STARTED:
        raise ValidationError(f"product {product_id!r}: its first event must be 'started'",
                              field=f"events[{product_id}].kind")
    changes = _changes(calc, events)
    start = changes[0].at
    intervals = effective_intervals(changes, start, _FOREVER, field=f"events[{product_id}]")
    terminated = changes[-1].at if changes[-1].kind is ChangeKind.TERMINATED else None
    if terminated is not None and calc.settings.termination_day_charged and intervals \
            and intervals[-1].in_force and intervals[-1].end == terminated:
        intervals[-1] = replace(intervals[-1], end=charged_end(terminated, calc.inp.terms.tz,
                                                               calc.settings))
    return _Life(start, intervals, _runs(intervals), {})


def _horizon(calc: _Calc, account_id: str, product_id: str) -> datetime:
    billed = calc.billed_until.get((account_id, product_id), calc.target)
    return max(calc.target, billed) + _TICK


def _slices(calc: _Calc, account_id: str, product_id: str, life: _Life) -> None:
    terms, settings = calc.inp.terms, calc.settings
    horizon = _horizon(calc, account_id, product_id)
    for interval in life.intervals:
        if not interval.in_force or interval.start >= horizon:
            continue
        plan = calc.inp.plans[interval.price_version]
        version_start = _run_start(life.runs, interval.price_version, interval.start)
        assert version_start is not None
        for billing_price in plan.prices:
            spec = billing_price.spec
            if spec.price_type != "recurring":
                continue
            cycle = _cycle(spec, terms, settings, life.start, version_start)
            periods = _periods(cycle, interval.start, min(interval.end, horizon))
            index = 0
            if periods and any(a.application_duration for a in spec.alterations):
                first = period_containing(cycle, life.start)
                index = len(_periods(cycle, first.start, periods[0].start))
            key: SliceKey = (account_id, product_id, spec.id, interval.price_version,
                             Decimal(interval.quantity))
            in_advance = billing_price.billing_mode == "inAdvance"
            for offset, period in enumerate(periods):
                lo, hi = max(interval.start, period.start), min(interval.end, period.end)
                if lo >= hi:
                    continue
                due = lo <= calc.target if in_advance else period.end <= calc.target
                life.slices.setdefault(key, []).append(_Slice(
                    (lo, hi), period, index + offset, billing_price, plan, interval.quantity,
                    due))


def _line_name(plan: Plan, spec: PriceSpec) -> str:
    if not plan.name or spec.name in ("", plan.name):
        return spec.name or plan.name
    return f"{plan.name} — {spec.name}"


def _slice_key(product_id: str, price_id: str, span: Span) -> str:
    return f"{product_id}|{price_id}|{span[0].isoformat()}|{span[1].isoformat()}"


def _discounts(calc: _Calc, head: ProposedLine, spec: PriceSpec, quantity: int,
               ratio: Decimal, period_index: int | None) -> list[ProposedLine]:
    """The discount lines of ``head`` (module docstring, rule 5)."""
    if not spec.alterations:
        return []
    lines: list[ProposedLine] = []
    running = head.amount.amount
    for alteration in _sorted_alterations(spec.alterations):
        duration = alteration.application_duration
        if period_index is not None and duration is not None and period_index >= duration:
            continue
        if alteration.percentage is not None:
            exact = _MUL.divide(_MUL.multiply(running, alteration.percentage), _HUNDRED)
        else:
            assert alteration.amount is not None
            exact = _MUL.multiply(_MUL.multiply(alteration.amount.amount, Decimal(quantity)),
                                  ratio)
        off = min(calc.round(exact), running)
        exact = min(exact, running)
        running -= off
        key = f"{head.source_key}|{alteration.id}"
        if off <= 0 or key in calc.invoiced_keys:
            continue
        lines.append(replace(
            head, kind=LineKind.DISCOUNT, name=alteration.name, amount=calc.money(-off),
            exact=exact.copy_negate(), description=alteration.description, source_key=key,
            applies_to=head.source_key,
            detail={**head.detail, "alteration": alteration.id,
                    "percentage": None if alteration.percentage is None
                    else str(alteration.percentage),
                    "applicationDuration": duration}))
    return lines


def _recurring_line(calc: _Calc, account_id: str, product_id: str, name: str,
                    item: _Slice, span: Span) -> None:
    spec = item.price.spec
    portion = share(item.period, span[0], span[1], calc.settings)
    exact = _MUL.multiply(_base_amount(spec, item.quantity), portion.ratio)
    amount = calc.round(exact)
    if amount == 0:
        return
    detail: dict[str, Any] = {
        "proration": portion.detail(), "periodStart": item.period.start.isoformat(),
        "periodEnd": item.period.end.isoformat(), "periodIndex": item.period_index,
        "billingMode": item.price.billing_mode}
    head = ProposedLine(
        kind=LineKind.RECURRING, name=_line_name(item.plan, spec),
        account_id=account_id, amount=calc.money(amount), exact=exact, start=span[0],
        end=span[1], product_id=product_id, price_id=spec.id,
        price_version=item.plan.price_version, quantity=Decimal(item.quantity),
        description=spec.description or name or None, tax_category=spec.tax_category,
        tax_included=spec.tax_included, source_key=_slice_key(product_id, spec.id, span),
        detail=detail)
    calc.groups.append(_Group([head, *_discounts(calc, head, spec, item.quantity,
                                                 portion.ratio, item.period_index)]))


def _one_time_lines(calc: _Calc, account_id: str, product_id: str,
                    started: SubscriptionEvent) -> None:
    at = to_utc(started.at)
    if at > calc.target:
        return
    plan = calc.inp.plans[started.price_version]
    for billing_price in plan.prices:
        spec = billing_price.spec
        key = f"{product_id}|{spec.id}|oneTime"
        if spec.price_type != "oneTime" or key in calc.invoiced_keys:
            continue
        exact = _base_amount(spec, started.quantity)
        amount = calc.round(exact)
        if amount == 0:
            continue
        head = ProposedLine(
            kind=LineKind.ONE_TIME, name=spec.name, account_id=account_id,
            amount=calc.money(amount), exact=exact, start=at, product_id=product_id,
            price_id=spec.id, price_version=plan.price_version,
            quantity=Decimal(started.quantity), description=spec.description,
            tax_category=spec.tax_category, tax_included=spec.tax_included, source_key=key)
        calc.groups.append(_Group([head, *_discounts(calc, head, spec, started.quantity,
                                                     Decimal(1), None)]))


def _product_lines(calc: _Calc, account_id: str, product_id: str,
                   events: Sequence[SubscriptionEvent]) -> None:
    """Missing recurring and one-time lines of one product (its life kept in ``calc``)."""
    life = _life(calc, account_id, product_id, events)
    _slices(calc, account_id, product_id, life)
    covered = calc.coverage
    name = events[-1].product_name or events[0].product_name
    for key, slices in life.slices.items():
        billed = _union(span for _, span in covered.get(key, ()))
        for item in slices:
            if not item.due:
                continue
            for piece in _cut([item.span], billed):
                _recurring_line(calc, account_id, product_id, name, item, piece)
    _one_time_lines(calc, account_id, product_id, events[0])
    calc.lives[(account_id, product_id)] = life


# -- credits for what is no longer in force ---------------------------------------------------


def _coverage(invoiced: Sequence[InvoicedItem]) -> dict[SliceKey, list[tuple[InvoicedItem, Span]]]:
    """Per slice key, each billed recurring item with the spans it still covers."""
    corrections: dict[str, list[InvoicedItem]] = defaultdict(list)
    for item in invoiced:
        if item.corrects is not None:
            corrections[item.corrects].append(item)
    result: dict[SliceKey, list[tuple[InvoicedItem, Span]]] = defaultdict(list)
    for item in invoiced:
        if item.kind != LineKind.RECURRING or item.corrects is not None \
                or item.product_id is None or item.price_id is None or item.start is None \
                or item.end is None or item.price_version is None:
            continue
        key: SliceKey = (item.account_id, item.product_id, item.price_id, item.price_version,
                         Decimal(item.quantity))
        minus = [(to_utc(c.start), to_utc(c.end)) for c in corrections.get(item.line_id, ())
                 if c.start is not None and c.end is not None and _is_repair(c)]
        for piece in _cut([(to_utc(item.start), to_utc(item.end))], _union(minus)):
            result[key].append((item, piece))
    return result


def _is_repair(item: InvoicedItem) -> bool:
    """A credit this module proposed for unused time (its ``source_key`` says so), as
    opposed to a credit note's line: only repairs take their span out of the coverage."""
    return item.source_key is not None and _REPAIR in item.source_key


def _remaining(calc: _Calc, item: InvoicedItem) -> Decimal:
    """What was billed for ``item`` less the credits that already corrected it."""
    return item.amount.amount + calc.credited.get(item.line_id, _ZERO)


def _recurring_credits(calc: _Calc) -> None:
    """Credit lines for billed recurring spans no longer in any slice (rule 4)."""
    left: dict[str, Decimal] = {}
    for key, pieces in calc.coverage.items():
        life = calc.lives.get((key[0], key[1]))
        if life is None:  # no history for the product: nothing is known to be unused
            continue
        should = _union(s.span for s in life.slices.get(key, ()))
        for item, span in pieces:
            if item.line_id not in left:
                left[item.line_id] = _remaining(calc, item)
            for piece in _cut([span], should):
                if piece[0] > calc.target or left[item.line_id] <= 0:
                    continue
                line = _credit(calc, item, piece, life, left[item.line_id])
                if line is not None:
                    left[item.line_id] += line.amount.amount
                    calc.groups.append(_Group([line, *_reversals(calc, item, line, left)]))


def _reversals(calc: _Calc, item: InvoicedItem, credit: ProposedLine,
               left: dict[str, Decimal]) -> list[ProposedLine]:
    """Give back the discount of a credited span: each discount billed with ``item`` is
    reversed in proportion (credit / billed amount), capped at what it took off."""
    if item.source_key is None or item.amount.amount <= 0:
        return []
    lines: list[ProposedLine] = []
    prefix = f"{item.source_key}|"
    for discount in calc.inp.invoiced:
        if discount.kind != LineKind.DISCOUNT or discount.corrects is not None \
                or not (discount.source_key or "").startswith(prefix):
            continue
        if discount.line_id not in left:
            left[discount.line_id] = -_remaining(calc, discount)
        exact = _MUL.divide(_MUL.multiply(-discount.amount.amount, -credit.amount.amount),
                            item.amount.amount)
        cap = left[discount.line_id]
        amount = min(calc.round(exact), cap)
        if amount <= 0:
            continue
        left[discount.line_id] -= amount
        lines.append(replace(
            credit, name="Discount given back for unused time",
            amount=calc.money(amount), exact=min(exact, cap),
            corrects=discount.line_id, applies_to=credit.source_key,
            source_key=f"{discount.line_id}|reversal|{credit.start}|{credit.end}",
            detail={**credit.detail, "discount": discount.line_id}))
    return lines


def _credit(calc: _Calc, item: InvoicedItem, piece: Span, life: _Life | None,
            remaining: Decimal) -> ProposedLine | None:
    """The credit for the unused ``piece`` of ``item`` (module docstring, rule 4)."""
    assert item.start is not None and item.end is not None and item.price_version is not None
    plan = calc.inp.plans.get(item.price_version)
    spec = next((bp.spec for bp in plan.prices if bp.spec.id == item.price_id), None) \
        if plan is not None else None
    version_start = None if life is None else _run_start(life.runs, item.price_version,
                                                         to_utc(item.start))
    if spec is not None and spec.price_type == "recurring" and life is not None \
            and version_start is not None:
        cycle = _cycle(spec, calc.inp.terms, calc.settings, life.start, version_start)
        period = period_containing(cycle, piece[0])
        base = _base_amount(spec, int(item.quantity))
    else:  # the price is gone: credit in proportion to what the item billed
        period = Period(item.start, item.end, calc.inp.terms.tz)
        base = item.amount.amount
    portion = share(period, piece[0], piece[1], calc.settings)
    exact = _MUL.multiply(base, portion.ratio)
    capped = calc.round(exact) > remaining
    amount = min(calc.round(exact), remaining)
    exact = min(exact, remaining)
    if amount <= 0:
        return None
    return ProposedLine(
        kind=LineKind.ADJUSTMENT, name=f"Credit for unused time: {spec.name if spec else ''}"
        .rstrip(": "), account_id=item.account_id, amount=calc.money(-amount),
        exact=exact.copy_negate(),  # exact: unary minus would round to the context's 28 digits
        start=piece[0], end=piece[1], product_id=item.product_id, price_id=item.price_id,
        price_version=item.price_version, quantity=item.quantity,
        tax_category=spec.tax_category if spec else "standard",
        tax_included=spec.tax_included if spec else False, corrects=item.line_id,
        source_key=f"{item.line_id}{_REPAIR}{piece[0].isoformat()}|{piece[1].isoformat()}",
        detail={"proration": portion.detail(), "periodStart": period.start.isoformat(),
                "periodEnd": period.end.isoformat(), "capped": capped})


# -- charges, usage, minimum commitment -------------------------------------------------------


def _charge_line(calc: _Calc, event: ChargeEvent) -> None:
    at = to_utc(event.at)
    if at > calc.target or event.key in calc.invoiced_keys:
        return
    amount = calc.round(event.amount.amount)
    if amount == 0:
        return
    calc.groups.append(_Group([ProposedLine(
        kind=LineKind(event.line_kind), name=event.name, account_id=event.account_id,
        amount=calc.money(amount), exact=event.amount.amount,
        start=to_utc(event.service_start) if event.service_start else at,
        end=to_utc(event.service_end) if event.service_end else None,
        product_id=event.product_id, price_id=event.price_id, description=event.description,
        tax_category=event.tax_category, tax_included=event.tax_included,
        source_key=event.key, detail={"at": at.isoformat()})]))


def _usage_line(calc: _Calc, summary: UsageSummary) -> None:
    end = to_utc(summary.end)
    if end > calc.target or summary.key in calc.invoiced_keys:
        return
    amount = calc.round(summary.amount.amount)
    if amount == 0:
        return
    calc.groups.append(_Group([ProposedLine(
        kind=LineKind.ADJUSTMENT if summary.correction else LineKind.USAGE,
        name=summary.name or summary.usage_type, account_id=summary.account_id,
        amount=calc.money(amount), exact=summary.amount.amount, start=to_utc(summary.start),
        end=end, product_id=summary.product_id, price_id=summary.price_id,
        quantity=summary.quantity, tax_category=summary.tax_category,
        tax_included=summary.tax_included, source_key=summary.key,
        detail={"usageType": summary.usage_type, "metric": summary.metric,
                "records": summary.records, "correction": summary.correction})]))


def _commits(kind: LineKind, corrects: str | None, source_key: str | None,
             usage_keys: set[str]) -> bool:
    if source_key is not None and "|minimum|" in source_key:
        return False
    return kind in _COMMITTED or corrects is not None or (source_key in usage_keys)


def _minimum_commitment(calc: _Calc, account_id: str, product_id: str,
                        intervals: Sequence[EffectiveInterval]) -> None:
    active = [iv for iv in intervals if iv.kind is IntervalKind.ACTIVE]
    if not active or active[0].start >= calc.target or all(
            calc.inp.plans[iv.price_version].minimum_commitment is None for iv in active):
        return
    cycle = calc.inp.terms.cycle
    usage_keys = {e.key for e in calc.inp.events if isinstance(e, UsageSummary)}
    # the product's invoiced and proposed lines that count, with their start (the
    # true-ups added below never count)
    owner = (account_id, product_id)
    billed = [(to_utc(i.start), i.amount.amount) for i in calc.inp.invoiced
              if (i.account_id, i.product_id) == owner and i.start is not None
              and _commits(i.kind, i.corrects, i.source_key, usage_keys)]
    proposed = [(to_utc(line.start), line.amount.amount)
                for group in calc.groups for line in group.lines
                if (line.account_id, line.product_id) == owner and line.start is not None
                and _commits(line.kind, line.corrects, line.source_key, usage_keys)]
    last = min(calc.target, active[-1].end)
    for period in _periods(cycle, active[0].start, last):
        if period.end > calc.target:
            continue
        inside = [iv for iv in active if iv.start < period.end and iv.end > period.start]
        if not inside:
            continue
        plan = calc.inp.plans[inside[-1].price_version]
        if plan.minimum_commitment is None:
            continue
        key = f"{product_id}|minimum|{period.start.isoformat()}|{period.end.isoformat()}"
        if key in calc.invoiced_keys:
            continue
        ratio = sum((share(period, iv.start, iv.end, calc.settings).ratio for iv in inside),
                    _ZERO)
        if ratio == 0:
            continue
        total = sum((value for start, value in billed
                     if period.start <= start < period.end), _ZERO)
        total += sum((value for start, value in proposed
                      if period.start <= start < period.end), _ZERO)
        minimum = _MUL.multiply(plan.minimum_commitment.amount, min(ratio, Decimal(1)))
        exact = minimum - total
        amount = calc.round(exact)
        if amount <= 0:
            continue
        calc.groups.append(_Group([ProposedLine(
            kind=LineKind.ADJUSTMENT, name="Minimum commitment true-up", account_id=account_id,
            amount=calc.money(amount), exact=exact, start=period.start, end=period.end,
            product_id=product_id, price_version=plan.price_version, source_key=key,
            detail={"minimum": str(plan.minimum_commitment.amount), "ratio": str(ratio),
                    "charged": str(total)})]))
