"""Issuing invoices from proposed lines (:func:`openbss.billing.invoices.issue_many`):
totals are the lines plus their tax exactly, a negative total is a credit note, numbers
are consecutive, sources are marked in the same transaction, a dry run stores nothing
and consumes no number.

Worked example (German VAT 19 %, line rounding, half-up — the arithmetic of Stripe's
"tax-exclusive" and "tax-inclusive" invoice examples,
https://docs.stripe.com/tax/products-prices-tax-codes-tax-behavior): 10.00 net → 1.90
tax, 11.90 gross; 19.99 net → 3.7981 → 3.80; 11.90 gross included → 10.00 net + 1.90.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.issue_helpers import (  # type: ignore[import-not-found]
    APR1,
    MAR1,
    AccountInput,
    billing_account,
    flat_vat,
    input_for,
    issue,
    line,
)
from openbss.billing import invoices
from openbss.billing.book import ChargeEvent, LineKind, UsageSummary
from openbss.billing.models import BillingCharge, Invoice, InvoiceLine
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.core.money import Money
from openbss.core.queries import scoped
from openbss.ordering.models import ProductCharge
from openbss.rating.models import RatedUsage


@pytest.fixture(autouse=True)
def _vat():  # type: ignore[no-untyped-def]
    with flat_vat():
        yield


def _rows(tenant, model, **where):  # type: ignore[no-untyped-def]
    with unit_of_work() as session:
        stmt = scoped(tenant.id, model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def test_totals_are_lines_plus_tax_exactly(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    [bill] = issue(tenant, [(input_for(acc), [
        line(acc, "10.00"), line(acc, "19.99", name="Router"),
        line(acc, "11.90", name="Book", tax_category="reduced", tax_included=True)])])
    b = bill["bill"]
    assert b["billNo"] == "INV-2026-000001" and b["category"] == "invoice"
    assert b["state"] == "new" and b["@type"] == "CustomerBill"
    # 10.00 + 19.99 net at 19 %: 1.90 + 3.80; 11.90 gross at 7 %: 11.12 net + 0.78
    assert b["taxExcludedAmount"] == {"unit": "EUR", "value": Decimal("41.11")}
    assert b["taxIncludedAmount"] == {"unit": "EUR", "value": Decimal("47.59")}
    assert b["amountDue"] == b["remainingAmount"] == b["taxIncludedAmount"]
    taxes = {(t["taxCategory"], t["taxRate"]): t["taxAmount"]["value"] for t in b["taxItem"]}
    assert taxes == {("standard", Decimal(19)): Decimal("5.70"),
                     ("reduced", Decimal(7)): Decimal("0.78")}
    net = sum(x["taxExcludedAmount"]["value"] for x in bill["lines"])
    gross = sum(x["taxIncludedAmount"]["value"] for x in bill["lines"])
    assert net + sum(taxes.values()) == gross == b["taxIncludedAmount"]["value"]
    # the lines keep the catalog basis for the next calculation (part D reads it back)
    stored = _rows(tenant, InvoiceLine, invoice_id=bill["invoice_id"])
    book = {r.name: r.body for r in stored}
    assert book["Book"]["basisAmount"] == "11.90" and book["Book"]["taxIncluded"] is True
    assert [r.position for r in sorted(stored, key=lambda r: r.position)] == [1, 2, 3]


def test_due_date_is_the_local_bill_date_plus_due_days(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant, due_days=14)["id"]
    # 23:30 UTC on 28 Feb is 1 March in Berlin: the bill date's local date counts
    as_of = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    [bill] = issue(tenant, [(input_for(acc, due_days=14), [line(acc, "5.00")])], as_of=as_of)
    [row] = _rows(tenant, Invoice, id=bill["invoice_id"])
    assert row.payment_due_date == date(2026, 3, 15)
    assert bill["bill"]["paymentDueDate"] == "2026-03-14T23:00:00Z"  # Berlin midnight
    assert bill["bill"]["billingPeriod"] == {"startDateTime": "2026-03-01T00:00:00Z",
                                             "endDateTime": "2026-04-01T00:00:00Z"}


def test_negative_total_is_a_credit_note_referring_to_the_corrected_invoice(  # type: ignore[no-untyped-def]
        client, tenant) -> None:
    acc = billing_account(client, tenant)["id"]
    [first] = issue(tenant, [(input_for(acc), [line(acc, "30.00")])])
    corrected = first["lines"][0]["id"]
    [note] = issue(tenant, [(input_for(acc), [
        line(acc, "-15.00", kind=LineKind.ADJUSTMENT, corrects=corrected),
        line(acc, "5.00", name="Add-on")])], as_of=APR1)
    b = note["bill"]
    assert b["category"] == "creditNote" and b["billNo"] == "CN-2026-000001"
    assert b["taxIncludedAmount"]["value"] == Decimal("-11.90")  # -10.00 net, -1.90 tax
    assert b["correctsBill"]["id"] == first["invoice_id"]
    assert b["correctsBill"]["billNo"] == first["bill"]["billNo"]
    assert note["lines"][0]["corrects"]["id"] == corrected


def test_numbers_are_consecutive_across_a_batch(client, tenant) -> None:  # type: ignore[no-untyped-def]
    accs = [billing_account(client, tenant)["id"] for _ in range(3)]
    bills = issue(tenant, [(input_for(a), [line(a, "1.00")]) for a in accs]
                  + [(input_for(accs[0]), [])])  # an item without lines gets no bill
    assert [b["bill"]["billNo"] for b in bills] == [
        "INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    assert [b["bill"]["billingAccount"]["id"] for b in bills] == accs


def test_dry_run_stores_nothing_and_consumes_no_number(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    [proforma] = issue(tenant, [(input_for(acc), [line(acc, "10.00")])], dry_run=True)
    assert proforma["invoice_id"] is None
    assert "billNo" not in proforma["bill"] and "id" not in proforma["bill"]
    assert proforma["bill"]["state"] == "new"
    assert proforma["bill"]["taxIncludedAmount"]["value"] == Decimal("11.90")
    assert [x["taxIncludedAmount"]["value"] for x in proforma["lines"]] == [Decimal("11.90")]
    assert "id" not in proforma["lines"][0] and proforma["lines"][0]["name"] == "Mobile M"
    assert _rows(tenant, Invoice) == []
    [real] = issue(tenant, [(input_for(acc), [line(acc, "10.00")])])
    assert real["bill"]["billNo"] == "INV-2026-000001"


def test_sources_are_marked_in_the_issuing_transaction(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    r = client.post(f"/api/v1/billingAccounts/{acc}/charges", headers=tenant.headers(),
                    json={"kind": "charge", "amount": {"unit": "EUR", "value": 20},
                          "name": "Installation"})
    assert r.status_code == 201, r.text
    charge_id = r.json()["id"]
    with unit_of_work() as session:
        fee = ProductCharge(tenant_id=tenant.id, product_id="p1", billing_account_id=acc,
                            kind="earlyTerminationFee", amount=Decimal("50"), currency="EUR",
                            at=MAR1, billed=False)
        rated = RatedUsage(tenant_id=tenant.id, usage_id="u1", product_id="p1",
                           billing_account_id=acc, usage_date=MAR1, period_start=MAR1,
                           period_end=APR1, usage_type="data", quantity=Decimal(1),
                           included=Decimal(0), charged=Decimal(1), amount=Decimal("0.5"),
                           currency="EUR", rated_at=MAR1)
        session.add_all([fee, rated])
        session.flush()
        fee_id, rated_id = fee.id, rated.id
    usage = UsageSummary(key="usage:p1:data", account_id=acc, product_id="p1",
                         usage_type="data", price_id=None, start=MAR1, end=APR1,
                         quantity=Decimal(1), amount=Money("0.5", "EUR"),
                         rated_ids=(rated_id,))
    charge = ChargeEvent(at=MAR1, key=f"billingCharge:{charge_id}", account_id=acc,
                         amount=Money("20", "EUR"), name="Installation")
    item = AccountInput(terms=input_for(acc).terms, events=(charge, usage), plans={})
    [bill] = issue(tenant, [(item, [
        line(acc, "20.00", kind=LineKind.ONE_TIME, source_key=charge.key),
        line(acc, "50.00", kind=LineKind.ONE_TIME, source_key=f"productCharge:{fee_id}"),
        line(acc, "0.50", kind=LineKind.USAGE, source_key=usage.key)])])
    inv = bill["invoice_id"]
    assert [c.invoice_id for c in _rows(tenant, BillingCharge, id=charge_id)] == [inv]
    assert [c.billed for c in _rows(tenant, ProductCharge, id=fee_id)] == [True]
    assert [u.invoice_id for u in _rows(tenant, RatedUsage, id=rated_id)] == [inv]
    listed = client.get(f"/api/v1/billingAccounts/{acc}/charges", headers=tenant.headers())
    assert listed.json()[0]["customerBill"]["id"] == inv
    assert listed.json()[0]["billed"] is True


def test_a_failed_issue_rolls_back_numbers_and_marks(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    with pytest.raises(ValueError), unit_of_work() as session:
        ctx = system_context(session, load_tenant(session, tenant.id))  # type: ignore[arg-type]
        invoices.issue_many(ctx, [(input_for(acc), [line(acc, "1.00")])], as_of=MAR1)
        raise ValueError("the bill run fails after issuing")
    assert _rows(tenant, Invoice) == []
    [bill] = issue(tenant, [(input_for(acc), [line(acc, "1.00")])])
    assert bill["bill"]["billNo"] == "INV-2026-000001"


def test_a_line_in_another_currency_is_refused_naming_it(client, tenant) -> None:  # type: ignore[no-untyped-def]
    acc = billing_account(client, tenant)["id"]
    from openbss.billing.errors import WrongCurrency

    with pytest.raises(WrongCurrency) as exc:
        issue(tenant, [(input_for(acc), [line(acc, "1.00"), line(acc, "1.00", currency="USD")])])
    assert exc.value.field == "lines[1].amount"


def test_issue_writes_audit_and_create_event(client, tenant) -> None:  # type: ignore[no-untyped-def]
    from openbss.core.models import OutboxEvent

    acc = billing_account(client, tenant)["id"]
    [bill] = issue(tenant, [(input_for(acc), [line(acc, "1.00")])])
    events = [e for e in _rows(tenant, OutboxEvent) if e.resource_id == bill["invoice_id"]]
    assert [e.event_type for e in events] == ["CustomerBillCreateEvent"]
    audit = client.get(f"/api/v1/audit?resourceId={bill['invoice_id']}",
                       headers=tenant.headers("auditor")).json()
    assert [a["action"] for a in audit] == ["create"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(st.integers(-50_000, 500_000),
                                st.sampled_from(["standard", "reduced", "zero"]),
                                st.booleans()), min_size=1, max_size=12))
def test_law_totals_add_up_and_the_sign_decides_the_category(  # type: ignore[no-untyped-def]
        client, tenant, parts) -> None:
    """Whatever the lines: bill net + tax items = bill gross = sum of the lines' gross,
    to the cent, and a bill below zero is a credit note (a dry run: nothing stored)."""
    acc = _shared_account(client, tenant)
    lines = [line(acc, str(Decimal(c) / 100), tax_category=cat, tax_included=incl)
             for c, cat, incl in parts]
    [bill] = issue(tenant, [(input_for(acc), lines)], dry_run=True)
    b = bill["bill"]
    tax = sum((t["taxAmount"]["value"] for t in b["taxItem"]), Decimal(0))
    gross = b["taxIncludedAmount"]["value"]
    assert b["taxExcludedAmount"]["value"] + tax == gross
    assert sum(x["taxIncludedAmount"]["value"]
               for x in b["appliedCustomerBillingRate"]) == gross
    assert b["category"] == ("creditNote" if gross < 0 else "invoice")


_ACCOUNTS: dict[str, str] = {}


def _shared_account(client, tenant) -> str:  # type: ignore[no-untyped-def]
    if tenant.id not in _ACCOUNTS:
        _ACCOUNTS[tenant.id] = billing_account(client, tenant)["id"]
    return _ACCOUNTS[tenant.id]


def test_issue_through_the_built_in_tax_engine(client, tenant) -> None:  # type: ignore[no-untyped-def]
    """The real tax port (part B's engine): a consumer of the DE seller (no address: the
    seller's country) pays 19 % on 100.00."""
    pytest.importorskip("openbss.billing.tax")
    acc = billing_account(client, tenant)["id"]
    saved = invoices._tax_engine, invoices._tax_party_of
    with flat_vat():
        invoices._tax_engine, invoices._tax_party_of = saved  # type: ignore[assignment]
        [bill] = issue(tenant, [(input_for(acc), [line(acc, "100.00")])])
    b = bill["bill"]
    assert [(t["taxRate"], t["taxAmount"]["value"]) for t in b["taxItem"]] == [
        (Decimal(19), Decimal("19.00"))]
    assert b["taxIncludedAmount"]["value"] == Decimal("119.00")
