"""``openbss demo``: a demo tenant that has lived through two months, loaded idempotently.

The story runs on the tenant's test clock, which is moved forward to each step's date
before the step (docs/tour.md tells it):

1. *Month 0* (the clock's start, the 7th of the month three months back when the demo
   makes the tenant a sandbox): customers, accounts, three catalogs, orders (new lines, a
   plan change, a suspension, a termination with its fee, a quote ordered) and Lena's
   data usage;
2. the PBX's Asterisk CDRs of that month are imported; *bill run 1* on the 1st of the
   next month (local midnight, Europe/Berlin), a credit note, Lena's SEPA file, the
   bank's camt.054 crediting it;
3. the mediation's generic CSV of the second month; *bill run 2* on the 1st of the month
   after; Lena's second SEPA file; Munich pays by hand; dunning chases the headquarters
   (reminder, late fee, suspension); the bank returns Lena's second debit and she pays by
   transfer (camt.053, with a transfer nobody can place);
4. a future-dated order waits for its date; the clock is moved to the real time.

A tenant that holds no parties yet is made a sandbox for this (its phone region and
currency set to the data's: DE, EUR); a sandbox tenant keeps its own clock as month 0; on
a production tenant with data the steps run at the real time (dates ahead of it stay
ahead). Every step is idempotent: a second ``openbss demo`` adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openbss.billing import demo as billing_demo
from openbss.catalog import demo as catalog_demo
from openbss.core import clock
from openbss.core.context import Context, system_context
from openbss.core.db import unit_of_work
from openbss.core.periods import add_months
from openbss.core.queries import scoped
from openbss.core.service import advance_clock, ensure_tenant, make_sandbox, set_tenant_defaults
from openbss.ordering import demo as ordering_demo
from openbss.party import demo as party_demo
from openbss.party.models import Party
from openbss.payments import demo as payments_demo
from openbss.usage import demo as usage_demo

#: The demo's numbers and prices are German and in euros: a tenant that holds no parties
#: yet is set to this phone region and currency, so ``0151 …`` finds the demo's people.
DEMO_REGION, DEMO_CURRENCY = "DE", "EUR"
ZONE = ZoneInfo(billing_demo.DEMO_TZ)


def story_start(now: datetime) -> datetime:
    """Month 0 of a demo that ends before ``now``: 10:00 Berlin on the 7th, three months
    back (its two bill runs fall on the 1st of the two months before ``now``'s)."""
    local = now.astimezone(ZONE)
    first = datetime(local.year, local.month, 1, tzinfo=ZONE)
    return add_months(first, -3, anchor_day=1).replace(day=7, hour=10).astimezone(UTC)


def _at(ctx: Context, when: datetime) -> None:
    """Move a sandbox tenant's clock forward to ``when`` (never back; no-op otherwise)."""
    if ctx.tenant.sandbox and when > ctx.now:
        advance_clock(ctx, to=when)
        ctx.session.commit()


def _day(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE).astimezone(UTC)


def load_demo(tenant_name: str = "default") -> list[str]:
    lines: list[str] = []
    with unit_of_work() as session:
        tenant, created = ensure_tenant(session, tenant_name, region=DEMO_REGION,
                                        currency=DEMO_CURRENCY)
        lines.append(f"tenant {tenant_name!r} " + ("created" if created else "ready"))
        ctx = system_context(session, tenant, actor="demo")
        empty = session.scalar(scoped(ctx, Party.id).limit(1)) is None
        if empty and set_tenant_defaults(ctx, region=DEMO_REGION, currency=DEMO_CURRENCY):
            lines.append(f"tenant {tenant_name!r}: phone region {DEMO_REGION}, currency "
                         f"{DEMO_CURRENCY} (the demo's data is German)")
        real_time = empty and not tenant.sandbox
        if real_time:
            make_sandbox(ctx, clock_start=story_start(clock.utcnow()))
            lines.append(f"tenant {tenant_name!r}: a sandbox on a test clock from "
                         f"{ctx.now:%Y-%m-%d %H:%M}Z, moved through the demo's two months")
        session.commit()
        lines += party_demo.load(ctx)
        lines += catalog_demo.load(ctx)
        lines += ordering_demo.load(ctx)
        _months(ctx, lines)
        lines += ordering_demo.future_order(ctx)
        if real_time:
            _at(ctx, clock.utcnow())
            lines.append(f"tenant {tenant_name!r}: clock at {ctx.now:%Y-%m-%d %H:%M}Z")
    return lines


def _months(ctx: Context, lines: list[str]) -> None:
    line = billing_demo.lena_line(ctx)
    if line is None or line.start_date is None:
        lines.append("billing: the ordering demo's lines are missing (nothing billed)")
        return
    start = line.start_date
    _at(ctx, start + timedelta(hours=3))
    billing_demo.usage(ctx, lines, line)
    accounts = billing_demo.accounts(ctx)
    first, second = billing_demo.bill_dates(start)

    # month 1 → bill run 1
    _at(ctx, first - timedelta(hours=1))
    usage_demo.pbx(ctx, lines, start)
    _at(ctx, first)
    billing_demo.bill_run(ctx, lines, first, accounts)
    _at(ctx, first + timedelta(days=1))
    billing_demo.credit_note(ctx, lines)
    payments_demo.setup(ctx)
    bills = payments_demo.lena_bills(ctx)
    if bills:
        payments_demo.collect(ctx, lines, bills[0])
        collected_on = payments_demo.collected_on(ctx, bills[0])
        if collected_on is not None:
            booked = collected_on + timedelta(days=1)
            _at(ctx, _day(booked))
            payments_demo.collected(ctx, lines, bills[0], booked)

    # month 2 → bill run 2
    _at(ctx, second - timedelta(hours=1))
    usage_demo.mediation(ctx, lines, first)
    _at(ctx, second)
    billing_demo.bill_run(ctx, lines, second, accounts)

    # after bill run 2, in date order
    steps: list[tuple[datetime, Callable[[], None]]] = [
        (second + timedelta(days=3), lambda: payments_demo.manual(ctx, lines))]
    bills = payments_demo.lena_bills(ctx)
    if len(bills) > 1:
        bill = bills[1]
        # the dates of the bank's files derive from the bill (the same files every run)
        due = bill.payment_due_date or (second + timedelta(days=14)).date()
        steps += [
            (second + timedelta(days=1), lambda: payments_demo.collect(ctx, lines, bill)),
            (_day(due + timedelta(days=2)),
             lambda: payments_demo.returned(ctx, lines, bill, due + timedelta(days=2))),
            (_day(due + timedelta(days=6)),
             lambda: payments_demo.transferred(ctx, lines, bill, due + timedelta(days=5)))]
    chase_day = payments_demo.chase_day(ctx)
    if chase_day is not None:
        chase_on: date = chase_day
        steps.append((_day(chase_on, 9), lambda: payments_demo.chase(ctx, lines, chase_on)))
    for when, step in sorted(steps, key=lambda s: s[0]):
        _at(ctx, when)
        step()
    billing_demo.documents(ctx, lines)
