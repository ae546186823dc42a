"""Billing stories over several cycles, driven like a user through the HTTP API only, on a
sandbox tenant's test clock: catalog prices, a billing account with its bill cycle,
product orders (add, plan change, suspend/resume, terminate), usage, bill runs, and the
TMF678 invoices and lines they produce.

Every expected amount is worked by hand in the test's comments, following the convention
the defaults name (docs/billing.md "Proration and rounding"): day granularity in the
account's zone (Europe/Berlin), a period includes its start and excludes its end, ratio =
days / days of the actual billing period, the change or cancel day belongs to the new
state, one rounding per line to the cent (half-up), VAT per line. The seller is the
tenant's default legal entity in Germany (DE, 19 % standard, 7 % reduced).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from billing.scenario_support import (  # type: ignore[import-not-found]
    CAT,
    FR_VAT,
    TZ,
    Story,
    amount,
    at,
    by_type,
    coverage,
    excl,
    incl,
    totals_add_up,
)
from openbss.core.db import unit_of_work

D = Decimal


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# Local midnights in Berlin as UTC instants (CET = UTC+1, CEST = UTC+2 from 29 March).
FEB_1, FEB_13, MAR_13 = utc(2026, 1, 31, 23), utc(2026, 2, 12, 23), utc(2026, 3, 12, 23)
MAR_1, MAR_10, MAR_20 = utc(2026, 2, 28, 23), utc(2026, 3, 9, 23), utc(2026, 3, 19, 23)
APR_1, APR_16, MAY_1 = utc(2026, 3, 31, 22), utc(2026, 4, 15, 22), utc(2026, 4, 30, 22)
JUN_1 = utc(2026, 5, 31, 22)
# A service period that starts or ends with a product event (start, change, suspension,
# resumption) starts at the event's instant; the ratio counts local days (a Berlin day
# touched by the period counts from its start: 1 Feb 09:00Z is the whole of 1 Feb).
START_FEB_1, START_APR_1, CHANGE_APR_16 = utc(2026, 2, 1, 9), utc(2026, 4, 1, 9), \
    utc(2026, 4, 16, 9)


@pytest.fixture
def story(client, make_tenant) -> Callable[[datetime], Story]:  # type: ignore[no-untyped-def]
    """``story(start)``: a fresh sandbox tenant (region DE) whose test clock starts at
    ``start``."""
    def make(start: datetime) -> Story:
        return Story(client, make_tenant(sandbox=True, clock_start=start, region="DE"))
    return make


def only(bills: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(bills) == 1, [b.get("billNo") for b in bills]
    return bills[0]


def customer(s: Story, **account: Any) -> dict[str, Any]:
    """A consumer in Berlin and her billing account (monthly on the 1st, due in 14 days)."""
    return s.account(s.person(), **account)


# -- 1. mid-cycle start: a leading pro-rated stub -----------------------------------------------

def test_mid_cycle_start_charges_the_leading_stub_then_whole_periods(story):  # type: ignore[no-untyped-def]
    """Kill Bill's leading pro-ration, TestLeadingProRation.testLeadingProRation_Evergreen_
    TargetDateOnStartDate (killbill/killbill invoice/src/test/java/org/killbill/billing/
    invoice/proRations/inAdvance/monthly/TestLeadingProRation.java): a monthly plan started
    on 1 Feb with bill cycle day 13 is charged 12/31 of a period first (1 Feb .. 13 Feb of
    the period 13 Jan .. 13 Feb, 31 days), then whole periods. Same dates here, in 2026."""
    s = story(utc(2026, 2, 1, 9))
    plan = s.offering("Office suite", s.monthly("Office suite", "100.00"),
                      s.price("Activation", "oneTime", "10.00"))
    account = customer(s, anchor=13)
    product = s.add(account, plan)

    s.bill_run(s.now())
    first = only(s.bills(account))
    lines = s.lines(first)
    [stub] = by_type(lines, "recurring")
    # 100.00 x 12/31 = 38.709677… -> 38.71
    assert excl(stub) == D("38.71")
    assert coverage(stub) == (START_FEB_1, FEB_13)
    assert stub["product"]["id"] == product
    [fee] = by_type(lines, "oneTime")
    assert excl(fee) == D("10.00")
    # VAT 19 % per line: 38.71 x 0.19 = 7.3549 -> 7.35; 10.00 -> 1.90; 48.71 + 9.25
    assert (excl(first), incl(first)) == (D("48.71"), D("57.96"))
    totals_add_up(first, lines)
    assert first["category"] == "invoice"
    assert at(first["paymentDueDate"]) == utc(2026, 2, 14, 23)  # 1 Feb + 14 days, Berlin

    s.advance(utc(2026, 2, 13, 9))
    s.bill_run(s.now())
    second = s.bills(account)[1]
    [whole] = s.lines(second)
    assert (excl(whole), incl(whole)) == (D("100.00"), D("119.00"))
    assert coverage(whole) == (FEB_13, MAR_13)
    assert at(second["billingPeriod"]["startDateTime"]) == FEB_13


# -- 2. upgrade mid-period ----------------------------------------------------------------------

def test_upgrade_mid_period_credits_the_unused_old_plan_and_charges_the_new(story):  # type: ignore[no-untyped-def]
    """Stripe, "Prorations" (https://docs.stripe.com/billing/subscriptions/prorations): an
    upgrade half-way through the period credits the unused half of the old price and
    charges the new price for the remaining half; Kill Bill does the same for an immediate
    plan change (a repair credit on the old item, a new pro-rated item)."""
    s = story(utc(2026, 4, 1, 9))
    basic, pro = s.plan("Basic", "30.00"), s.plan("Pro", "60.00")
    account = customer(s)
    product = s.add(account, basic)
    s.bill_run(s.now())
    [april] = s.lines(only(s.bills(account)))
    assert (excl(april), coverage(april)) == (D("30.00"), (START_APR_1, MAY_1))

    s.advance(utc(2026, 4, 16, 9))
    s.change_plan(account, product, pro)  # an upgrade: effective now, 16 April
    s.advance(utc(2026, 5, 1, 9))
    s.bill_run(s.now())
    may = s.bills(account)[1]
    lines = s.lines(may)
    [credit] = [line for line in lines if excl(line) < 0]
    # unused: 16 .. 30 April = 15 of 30 days of Basic: -30.00 x 15/30 = -15.00
    assert excl(credit) == D("-15.00")
    assert coverage(credit) == (CHANGE_APR_16, MAY_1)
    assert credit["corrects"]["id"] == april["id"]
    charges = sorted((line for line in lines if excl(line) > 0), key=coverage)
    # Pro for the rest of April: 60.00 x 15/30 = 30.00; then May whole: 60.00
    assert [(excl(c), coverage(c)) for c in charges] == [
        (D("30.00"), (CHANGE_APR_16, MAY_1)), (D("60.00"), (MAY_1, JUN_1))]
    # -15.00 + 30.00 + 60.00 = 75.00; VAT -2.85 + 5.70 + 11.40 = 14.25
    assert (excl(may), incl(may)) == (D("75.00"), D("89.25"))
    totals_add_up(may, lines)


# -- 3. downgrade at period end -----------------------------------------------------------------

def test_downgrade_takes_effect_at_period_end_without_a_credit(story):  # type: ignore[no-untyped-def]
    """Kill Bill's END_OF_TERM change policy (docs.killbill.io, "Subscription Billing":
    change plan, policy END_OF_TERM): the current period stays billed at the old price, no
    credit; the new price applies from the next period."""
    s = story(utc(2026, 4, 1, 9))
    basic, pro = s.plan("Basic", "30.00"), s.plan("Pro", "60.00")
    account = customer(s)
    product = s.add(account, pro)
    s.bill_run(s.now())
    assert excl(only(s.bills(account))) == D("60.00")

    s.advance(utc(2026, 4, 16, 9))
    s.change_plan(account, product, basic, state="pending")  # waits for the period end
    s.advance(utc(2026, 5, 1, 9))
    s.bill_run(s.now())
    may = s.bills(account)[1]
    [line] = s.lines(may)  # no credit, no April correction
    assert (excl(line), coverage(line)) == (D("30.00"), (MAY_1, JUN_1))
    assert line["type"] == "recurring"
    assert (excl(may), incl(may)) == (D("30.00"), D("35.70"))


# -- 4. suspension and resume -------------------------------------------------------------------

def test_suspended_days_are_credited(story):  # type: ignore[no-untyped-def]
    """Kill Bill's blocking states (a paused subscription is not billed while blocked:
    the in-advance period already invoiced gets a credit for the blocked days). 31.00 a
    month in March (31 days) is 1.00 a day: suspended on 10 March, resumed on 20 March
    (the resume day is active again) = 10 days = 10.00 credited."""
    s = story(utc(2026, 3, 1, 9))
    plan = s.plan("Line", "31.00")
    account = customer(s)
    product = s.add(account, plan)
    s.bill_run(s.now())
    [march] = s.lines(only(s.bills(account)))
    assert (excl(march), coverage(march)) == (D("31.00"), (utc(2026, 3, 1, 9), APR_1))

    s.advance(utc(2026, 3, 10, 9))
    s.set_status(account, product, "suspended")
    s.advance(utc(2026, 3, 20, 9))
    s.set_status(account, product, "active")
    s.advance(utc(2026, 4, 1, 9))
    s.bill_run(s.now())
    april = s.bills(account)[1]
    lines = s.lines(april)
    [credit] = [line for line in lines if excl(line) < 0]
    assert (excl(credit), coverage(credit)) == (D("-10.00"), (utc(2026, 3, 10, 9),
                                                          utc(2026, 3, 20, 9)))
    assert credit["corrects"]["id"] == march["id"]
    [whole] = [line for line in lines if excl(line) > 0]
    assert (excl(whole), coverage(whole)) == (D("31.00"), (APR_1, MAY_1))
    # 21.00; VAT -1.90 + 5.89 = 3.99
    assert (excl(april), incl(april)) == (D("21.00"), D("24.99"))
    totals_add_up(april, lines)


# -- 5. termination with an early-termination fee -----------------------------------------------

def test_termination_inside_the_commitment_credits_and_charges_the_fee(story):  # type: ignore[no-untyped-def]
    """Kill Bill's IMMEDIATE cancellation credits the unused part of the in-advance period
    (docs.killbill.io "Subscription Billing": cancellation policy IMMEDIATE); the
    offering's 12-month commitment makes the ordering context record its ``penalty``
    price as an early-termination fee, billed as a one-time line."""
    s = story(utc(2026, 4, 1, 9))
    fibre = s.offering(
        "Fibre", s.monthly("Fibre", "30.00"),
        s.price("Early termination fee", "penalty", "100.00"),
        productOfferingTerm=[{"name": "12-month commitment",
                              "duration": {"amount": 12, "units": "month"}}])
    account = customer(s)
    product = s.add(account, fibre)
    s.bill_run(s.now())
    [april] = s.lines(only(s.bills(account)))

    s.advance(utc(2026, 4, 16, 9))
    s.terminate(account, product)
    s.advance(utc(2026, 5, 1, 9))
    s.bill_run(s.now())
    may = s.bills(account)[1]
    lines = s.lines(may)
    [credit] = [line for line in lines if excl(line) < 0]
    # 16 .. 30 April unused: -30.00 x 15/30 = -15.00; nothing for May
    assert (excl(credit), coverage(credit)) == (D("-15.00"), (CHANGE_APR_16, MAY_1))
    assert credit["corrects"]["id"] == april["id"]
    [fee] = by_type(lines, "oneTime")
    assert excl(fee) == D("100.00")
    assert len(lines) == 2
    # 85.00; VAT -2.85 + 19.00 = 16.15
    assert (excl(may), incl(may)) == (D("85.00"), D("101.15"))

    s.advance(utc(2026, 6, 1, 9))
    s.bill_run(s.now())
    assert len(s.bills(account)) == 2  # a terminated product is not billed again


# -- 6. late usage --------------------------------------------------------------------------------

def test_late_usage_goes_on_the_next_invoice_dated_to_its_own_period(story):  # type: ignore[no-untyped-def]
    """Usage is billed in arrears for its bill period; a record of an invoiced period that
    arrives later is billed on the next invoice as its own line, dated to the period it
    belongs to (Kill Bill's usage items carry their own service period; Lago bills late
    events of a closed period on the next invoice)."""
    s = story(utc(2026, 3, 1, 9))
    msisdn = "+4915112340001"
    voice = s.price("Voice", "usage", "0.10", usageType="voice",
                    unitOfMeasure={"amount": 1, "units": "minute"})
    plan = s.offering("Mobile S", s.monthly("Mobile S", "10.00"), voice)
    account = customer(s)
    s.add(account, plan, msisdn=msisdn)
    s.bill_run(s.now())
    assert excl(only(s.bills(account))) == D("10.00")

    s.advance(utc(2026, 3, 15, 9))
    s.call("r-1", msisdn, 1200, utc(2026, 3, 15, 8))  # 20 minutes x 0.10 = 2.00
    s.advance(utc(2026, 4, 1, 9))
    s.bill_run(s.now())
    april = s.bills(account)[1]
    lines = s.lines(april)
    [usage] = by_type(lines, "usage")
    assert (excl(usage), coverage(usage)) == (D("2.00"), (MAR_1, APR_1))
    [fee] = by_type(lines, "recurring")
    assert coverage(fee) == (APR_1, MAY_1)

    s.advance(utc(2026, 4, 5, 9))
    s.call("r-2", msisdn, 1800, utc(2026, 3, 20, 10))  # late: March, 30 min = 3.00
    s.advance(utc(2026, 5, 1, 9))
    s.bill_run(s.now())
    may = s.bills(account)[2]
    lines = s.lines(may)
    [late] = by_type(lines, "usage")
    assert (excl(late), coverage(late)) == (D("3.00"), (MAR_1, APR_1))
    [fee] = by_type(lines, "recurring")
    assert (excl(fee), coverage(fee)) == (D("10.00"), (MAY_1, JUN_1))
    # 13.00; VAT 0.57 + 1.90 = 2.47
    assert (excl(may), incl(may)) == (D("13.00"), D("15.47"))
    # the April invoice is immutable: still one usage line of 2.00
    assert [excl(line) for line in by_type(s.lines(april), "usage")] == [D("2.00")]


# -- 7. a parent paying for its children ----------------------------------------------------------

def test_children_paid_by_parent_are_billed_on_the_parents_invoice_grouped(story):  # type: ignore[no-untyped-def]
    s = story(utc(2026, 4, 1, 9))
    basic, pro = s.plan("Basic", "30.00"), s.plan("Pro", "60.00")
    org = s.company("Nordwind Logistik GmbH", country="DE", vat_id="DE136695976",
                    city="Hamburg", post_code="20457")
    parent = s.account(org, "Nordwind — headquarters", referred="Organization",
                       due_days=30, accountType="business",
                       taxIdentification={"identificationId": "DE136695976"})
    children = [s.account(org, name, referred="Organization", due_days=30,
                          accountType="business", paidByParent=True,
                          accountRelationship=[{"relationshipType": "parent",
                                                "account": {"id": parent["id"]}}])
                for name in ("Nordwind — Hamburg depot", "Nordwind — Munich depot")]
    hamburg, munich = children
    s.add(hamburg, basic)
    s.add(munich, pro)
    s.add(hamburg, pro)
    s.bill_run(s.now())

    assert s.bills(hamburg) == [] and s.bills(munich) == []
    bill = only(s.bills(parent))
    lines = s.lines(bill)
    billed = [line["billedAccount"]["id"] for line in lines]
    assert sorted(billed) == sorted([hamburg["id"], hamburg["id"], munich["id"]])
    # grouped by child: each child's lines are next to each other
    runs = [b for n, b in enumerate(billed) if n == 0 or billed[n - 1] != b]
    assert sorted(runs) == sorted({hamburg["id"], munich["id"]})
    by_child = {c["id"]: sum((excl(line) for line in lines
                              if line["billedAccount"]["id"] == c["id"]), D(0))
                for c in children}
    assert by_child == {hamburg["id"]: D("90.00"), munich["id"]: D("60.00")}
    # B2B inside Germany: 19 %; 150.00 + 28.50
    assert (excl(bill), incl(bill)) == (D("150.00"), D("178.50"))
    assert at(bill["paymentDueDate"]) == utc(2026, 4, 30, 22)  # 1 April + 30 days


# -- 8. reverse charge ----------------------------------------------------------------------------

def test_reverse_charge_for_an_eu_business_buyer(story):  # type: ignore[no-untyped-def]
    """Council Directive 2006/112/EC art. 196: a DE seller's service to a French business
    with a valid VAT id is invoiced without VAT; the invoice says the recipient accounts
    for it. The same service to a French consumer carries French VAT (20 %, place of
    supply of telecom services to consumers: the customer's country)."""
    s = story(utc(2026, 4, 1, 9))
    s.settings(seller={"name": "openbss demo operator", "country": "DE",
                       "vatId": "DE136695976"})
    plan = s.plan("Cloud PBX", "100.00")
    buyer = s.company("Dupont SARL", country="FR", vat_id=FR_VAT, city="Paris",
                      post_code="75001")
    business = s.account(buyer, "Dupont SARL", referred="Organization",
                         accountType="business", taxIdentification={"identificationId": FR_VAT})
    consumer = s.account(s.person("Claire", "Martin", country="FR"), "Claire")
    s.add(business, plan)
    s.add(consumer, plan)
    s.bill_run(s.now())

    b2b = only(s.bills(business))
    assert (excl(b2b), incl(b2b)) == (D("100.00"), D("100.00"))
    assert sum((amount(t["taxAmount"]) for t in b2b.get("taxItem") or []), D(0)) == 0
    [line] = s.lines(b2b)
    assert incl(line) == excl(line) == D("100.00")
    notes = " ".join(str(n.get("text", n)) if isinstance(n, dict) else str(n)
                     for n in b2b.get("note") or [])
    assert "reverse charge" in notes.lower() and "196" in notes, b2b.get("note")

    b2c = only(s.bills(consumer))
    assert (excl(b2c), incl(b2c)) == (D("100.00"), D("120.00"))
    [item] = b2c["taxItem"]
    assert (D(str(item["taxRate"])), amount(item["taxAmount"])) in {
        (D("20"), D("20.00")), (D("0.20"), D("20.00"))}


# -- 9. tax-inclusive prices and the rounding mode ------------------------------------------------

@pytest.mark.parametrize(("mode", "gross", "tax"), [
    # 12.45 x 15/30 = 6.225 exactly: half-up 6.23, half-even 6.22 (2 is even).
    # VAT inside the gross: 6.23 x 19/119 = 0.99470… -> 0.99 (net 5.24);
    #                       6.22 x 19/119 = 0.99310… -> 0.99 (net 5.23).
    ("halfUp", D("6.23"), D("0.99")),
    ("halfEven", D("6.22"), D("0.99")),
])
def test_tax_included_price_prorated_with_the_tenants_rounding_mode(story, mode, gross, tax):  # type: ignore[no-untyped-def]
    """Tax-inclusive pricing keeps the gross and extracts the tax: tax = gross x rate /
    (1 + rate) (Stripe, "Tax rates: inclusive vs exclusive",
    https://docs.stripe.com/billing/taxes/tax-rates); the tenant's roundingMode rounds the
    pro-rated line once (Lago's half-month proration of a monthly fee, start on the 16th of
    a 30-day month: 15/30)."""
    s = story(utc(2026, 4, 16, 9))
    s.settings(roundingMode=mode)
    plan = s.plan("Streaming", "12.45", taxIncluded=True)
    account = customer(s)
    s.add(account, plan)
    s.bill_run(s.now())
    bill = only(s.bills(account))
    [line] = s.lines(bill)
    assert coverage(line) == (CHANGE_APR_16, MAY_1)
    assert (incl(line), excl(line)) == (gross, gross - tax)
    assert (incl(bill), excl(bill)) == (gross, gross - tax)
    totals_add_up(bill, [line])

    s.advance(utc(2026, 5, 1, 9))
    s.bill_run(s.now())
    [whole] = s.lines(s.bills(account)[1])
    # 12.45 x 19/119 = 1.98781… -> 1.99; net 10.46 (both modes)
    assert (incl(whole), excl(whole)) == (D("12.45"), D("10.46"))


# -- 10. idempotent runs, a credit note, gapless numbers ------------------------------------------

def test_a_second_run_adds_nothing_credit_notes_and_numbers_are_gapless(story):  # type: ignore[no-untyped-def]
    """Kill Bill's invoice generator is idempotent: what was billed is compared with what
    should be, only the difference is proposed; running twice for the same date adds
    nothing. Numbers are gapless per series and year; a dry run consumes none."""
    s = story(utc(2026, 4, 1, 9))
    plan = s.plan("Basic", "30.00")
    accounts = [customer(s, name=f"Home {n}") for n in range(2)]
    for account in accounts:
        s.add(account, plan)
    first = s.bill_run(s.now())
    assert first["results"]["invoices"] == 2
    again = s.bill_run(s.now())
    assert again["results"]["invoices"] == 0
    bills = s.all_bills()
    assert sorted(b["billNo"] for b in bills) == ["INV-2026-000001", "INV-2026-000002"]

    invoice = only(s.bills(accounts[0]))
    note = s.post(f"/api/v1/customerBills/{invoice['id']}/creditNotes",
                  {"amount": {"unit": "EUR", "value": "5.00"}, "reason": "goodwill"})
    assert note["category"] == "creditNote" and note["billNo"] == "CN-2026-000001"
    assert note["correctsBill"]["id"] == invoice["id"]
    # 5.00 tax excluded at the invoice's 19 %: 5.95; the invoice's 35.70 has 29.75 left
    assert (abs(excl(note)), abs(incl(note))) == (D("5.00"), D("5.95"))
    assert amount(s.get(f"/tmf-api/customerBillManagement/v4/customerBill/{invoice['id']}")[
        "remainingAmount"]) == D("29.75")
    r = s.client.post(f"/api/v1/customerBills/{invoice['id']}/creditNotes",
                      json={"amount": {"unit": "EUR", "value": "25.01"}},
                      headers=s.tenant.headers())
    assert r.status_code == 409, r.text  # 30.00 - 5.00 = 25.00 is all that is left

    s.advance(utc(2026, 5, 1, 9))
    dry = s.bill_run(s.now(), dry_run=True)
    assert dry["dryRun"] is True
    assert len(s.all_bills()) == 3
    s.bill_run(s.now())
    numbers = sorted(b["billNo"] for b in s.all_bills() if b["category"] == "invoice")
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 5)]
    for account in accounts:
        may = s.bills(account)[-1]
        assert may["category"] == "invoice" and excl(may) == D("30.00")


# -- 11. a discount with an application duration, two tax categories ------------------------------

def test_discount_for_two_periods_and_a_reduced_rate_price(story):  # type: ignore[no-untyped-def]
    """A catalog discount ``-25 %`` with ``applicationDuration: 2`` alters the first two
    periods only (Stripe coupons ``duration: repeating, duration_in_months``,
    https://docs.stripe.com/billing/subscriptions/coupons); an e-paper price in tax
    category ``reduced`` is taxed at Germany's 7 %."""
    s = story(utc(2026, 4, 1, 9))
    fee = s.monthly("Streaming", "40.00")
    paper = s.monthly("E-paper", "10.00", taxCategory="reduced")
    promo = s.price("Welcome -25 %", "discount", None, percentage=25, applicationDuration=2,
                    popRelationship=[{"id": fee, "relationshipType": "discount"}])
    plan = s.offering("Streaming + news", fee, paper, promo)
    account = customer(s)
    s.add(account, plan)
    for month in (5, 6):
        s.bill_run(s.now())
        s.advance(utc(2026, month, 1, 9))
    s.bill_run(s.now())
    april, may, june = s.bills(account)
    for bill in (april, may):
        lines = s.lines(bill)
        [discount] = by_type(lines, "discount")
        assert excl(discount) == D("-10.00")  # 25 % of 40.00
        # 40.00 - 10.00 + 10.00 = 40.00; VAT 19 % of 30.00 = 5.70, 7 % of 10.00 = 0.70
        assert (excl(bill), incl(bill)) == (D("40.00"), D("46.40"))
        rates = {D(str(t["taxRate"])): amount(t["taxAmount"]) for t in bill["taxItem"]}
        assert sorted(rates.values()) == [D("0.70"), D("5.70")]
        totals_add_up(bill, lines)
    lines = s.lines(june)
    assert by_type(lines, "discount") == []  # the third period is not discounted
    assert (excl(june), incl(june)) == (D("50.00"), D("58.30"))  # 7.60 + 0.70


def test_the_zone_of_the_periods_is_the_accounts():
    """The boundaries used above are local midnights in Europe/Berlin."""
    from zoneinfo import ZoneInfo
    for instant in (FEB_1, MAR_1, APR_1, MAY_1, JUN_1, APR_16, MAR_10, MAR_20, FEB_13):
        local = instant.astimezone(ZoneInfo(TZ))
        assert (local.hour, local.minute) == (0, 0)


# -- personal data on the bill ---------------------------------------------------------------

def test_the_bill_prints_the_buyers_address_and_keeps_it_encrypted_at_rest(story):  # type: ignore[no-untyped-def]
    """The party context encrypts contact media at rest; the bill's buyer snapshot is the
    decrypted address (printed on the PDF) and is stored sealed under the tenant's key."""
    s = story(utc(2026, 4, 1, 9))
    plan = s.plan("Home Fibre", "40.00")
    # the account names its owner as a Customer (as TMF666 clients usually do)
    customer = s.post("/tmf-api/customerManagement/v4/customer", {
        "name": "Lena Schneider",
        "engagedParty": {"id": s.person("Lena", "Schneider")["id"],
                         "@referredType": "Individual"}})
    account = s.account(customer, "Lena", referred="Customer")
    s.add(account, plan)
    s.bill_run(s.now())
    bill = only(s.bills(account))
    r = s.client.get(f"/api/v1/customerBills/{bill['id']}/document", headers=s.tenant.headers())
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    drawn = b"".join(zlib.decompressobj().decompress(m) for m in re.findall(
        rb"/FlateDecode.*?stream\r?\n(.*?)endstream", r.content, re.S))
    assert b"(Torstra" in drawn and b"(10119 Berlin)" in drawn  # ß is an octal escape
    with unit_of_work() as session:
        stored = session.execute(sa.text("SELECT body FROM customer_bill WHERE id = :i"),
                                 {"i": bill["id"]}).scalar_one()
    stored = stored if isinstance(stored, str) else json.dumps(stored, default=str)
    assert "Torstra" not in stored and "10119" not in stored and "enc:v2:" in stored


def test_a_minimum_commitment_set_in_the_catalog_is_trued_up_once_its_period_ends(story):  # type: ignore[no-untyped-def]
    """``minimumCommitment`` and ``rank`` are accepted by the catalog API (offering or
    price) and read by billing: a 28.00 plan with a 50.00 monthly minimum is charged 28.00
    in advance, and once March has ended a 22.00 "Minimum commitment true-up" line for
    March is added, once (Lago's minimum commitment; worked by hand)."""
    s = story(utc(2026, 3, 1, 9))
    plan = s.offering("Team", s.monthly("Team", "28.00"),
                      minimumCommitment={"unit": "EUR", "value": "50.00"}, rank=2)
    shown = s.get(f"{CAT}/productOffering/{plan['id']}")
    assert shown["minimumCommitment"] == {"unit": "EUR", "value": 50.00}
    assert shown["rank"] == 2
    r = s.client.post(f"{CAT}/productOffering", headers=s.tenant.headers("catalog_manager"),
                      json={"name": "Bad", "rank": "high"})
    assert r.status_code == 422 and "rank" in r.text
    account = customer(s, anchor=1)
    s.add(account, plan)

    s.bill_run(s.now())
    march = only(s.bills(account))
    assert [(line["type"], excl(line)) for line in s.lines(march)] == [
        ("recurring", D("28.00"))]

    s.advance(utc(2026, 4, 1, 9))
    s.bill_run(s.now())
    april = s.bills(account)[1]
    lines = s.lines(april)
    [trueup] = by_type(lines, "adjustment")
    assert trueup["name"] == "Minimum commitment true-up" and excl(trueup) == D("22.00")
    assert coverage(trueup)[0] <= utc(2026, 3, 1) < coverage(trueup)[1] <= utc(2026, 4, 1)
    [april_fee] = by_type(lines, "recurring")
    assert excl(april_fee) == D("28.00")
    totals_add_up(april, lines)
    s.bill_run(s.now())  # again: nothing more
    assert len(s.bills(account)) == 2
