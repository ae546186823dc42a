"""``openbss demo``'s billing: after the party, catalog and ordering demo data, two monthly
bill runs (1 April and 1 May for a demo started on 10 March), usage on Lena's line and a
credit note; the invoices show proration, usage, a discount and tax; a second load adds
nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openbss.billing import demo
from openbss.demo import load_demo

BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
RATES = "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate"
ACCOUNTS = "/tmf-api/accountManagement/v4/billingAccount"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
APR_1, MAY_1 = datetime(2026, 3, 31, 22, tzinfo=UTC), datetime(2026, 4, 30, 22, tzinfo=UTC)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _value(money: dict[str, Any]) -> Decimal:
    return Decimal(str(money["value"]))


def _get(client, tenant, path: str, **params: Any) -> Any:  # type: ignore[no-untyped-def]
    r = client.get(path, params={"limit": 1000, **params}, headers=tenant.headers("read_only"))
    assert r.status_code == 200, r.text
    return r.json()


def _snapshot(client, tenant) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    bills = _get(client, tenant, BILLS)
    runs = _get(client, tenant, "/api/v1/billRuns")
    rates = _get(client, tenant, RATES)
    usage = _get(client, tenant, "/tmf-api/usageManagement/v4/usage")
    return (sorted(b["billNo"] for b in bills), len(runs), len(rates), len(usage))


def test_bill_dates_are_the_first_of_the_next_two_months_in_berlin():
    assert demo.bill_dates(T0) == (APR_1, MAY_1)
    # the last hour of a month in Berlin is already the next month there
    assert demo.bill_dates(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == (
        datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC))


def test_the_demo_bills_two_months_with_proration_usage_discount_tax_and_a_credit(  # type: ignore[no-untyped-def]
        client, make_tenant, tmf_schema):
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    lines = load_demo(tenant.name)
    assert sum(line.startswith("billing: bill run as of") for line in lines) == 2, lines

    [lena] = _get(client, tenant, ACCOUNTS, name="Lena Schneider — mobile")
    bills = sorted(_get(client, tenant, BILLS, **{"billingAccount.id": lena["id"]}),
                   key=lambda b: (b["billDate"], b["billNo"]))
    invoices = [b for b in bills if b["category"] == "invoice"]
    [note] = [b for b in bills if b["category"] == "creditNote"]
    assert [_at(b["billDate"]) for b in invoices] == [APR_1, MAY_1]
    for bill in bills:
        tmf_schema("TMF678-CustomerBillManagement-v4.0.0.swagger.json", "CustomerBill", bill)
    first, second = invoices

    rates = _get(client, tenant, RATES, **{"bill.id": first["id"]})
    kinds = {r["type"] for r in rates}
    assert {"recurring", "discount", "usage", "oneTime"} <= kinds, kinds
    # proration: Mobile L from 10 March to 1 April (a leading stub), then April in advance
    covered = {(_at(r["periodCoverage"]["startDateTime"]), _at(r["periodCoverage"]["endDateTime"]))
               for r in rates if r["type"] == "recurring" and _value(r["taxExcludedAmount"]) > 0}
    assert {(T0, APR_1), (APR_1, MAY_1)} <= covered, covered  # the stub starts at the start
    # usage: 30 + 22 = 52 GB, 50 included, 2 started GB at 2.00 (the exact amount:
    # test_the_demo_usage_is_priced_tax_included below)
    [usage] = [r for r in rates if r["type"] == "usage"]
    assert _value(usage["taxExcludedAmount"]) > 0
    # the discount: Mobile L's "-50% for 3 months"
    assert all(_value(r["taxExcludedAmount"]) < 0 for r in rates if r["type"] == "discount")
    # tax: German VAT inside the consumer prices
    assert [Decimal(str(t["taxRate"])) for t in first["taxItem"]] in ([Decimal(19)],
                                                                      [Decimal("0.19")])
    tax = sum((_value(t["taxAmount"]) for t in first["taxItem"]), Decimal(0))
    assert tax > 0 and _value(first["taxExcludedAmount"]) + tax == _value(
        first["taxIncludedAmount"])

    assert note["correctsBill"]["id"] == first["id"]
    assert abs(_value(note["taxExcludedAmount"])) == Decimal(demo.CREDIT_AMOUNT)
    # the second month: May in advance, still discounted, no second usage or one-time line
    later = _get(client, tenant, RATES, **{"bill.id": second["id"]})
    assert {r["type"] for r in later} >= {"recurring", "discount"}
    assert not [r for r in later if r["type"] in ("usage", "oneTime")]

    before = _snapshot(client, tenant)
    again = load_demo(tenant.name)
    assert all(line.endswith("(ready)") for line in again if line.startswith("billing")), again
    assert _snapshot(client, tenant) == before


def test_the_demo_usage_is_priced_tax_included(client, make_tenant):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    load_demo(tenant.name)
    [lena] = _get(client, tenant, ACCOUNTS, name="Lena Schneider — mobile")
    bills = _get(client, tenant, BILLS, **{"billingAccount.id": lena["id"],
                                           "category": "invoice"})
    first = min(bills, key=lambda b: b["billDate"])
    [usage] = _get(client, tenant, RATES, **{"bill.id": first["id"], "type": "usage"})
    # 30 + 22 = 52 GB, 50 included, 2 started GB at 2.00, VAT included
    assert _value(usage["taxIncludedAmount"]) == Decimal("4.00")
