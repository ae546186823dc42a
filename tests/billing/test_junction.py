"""The billing-events junction: one AccountInput per billing account from the ordering,
rating, party and billing tables, set-based (the statement count does not grow with the
number of accounts)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from openbss.billing import junction
from openbss.billing.book import ChargeEvent, LineKind, SubscriptionEvent, UsageSummary
from openbss.billing.models import BillingCharge
from openbss.core.context import load_tenant, system_context
from openbss.core.db import get_engine, unit_of_work
from openbss.core.errors import ValidationError
from openbss.core.periods import Alignment, Frequency
from openbss.ordering.intervals import ChangeKind
from openbss.ordering.models import Product, ProductCharge, ProductHistory
from openbss.party.models import Account
from openbss.rating.models import RatedUsage

CAT = "/tmf-api/productCatalogManagement/v4"
FEB1 = datetime(2026, 2, 1, tzinfo=UTC)
FEB10 = datetime(2026, 2, 10, tzinfo=UTC)
FEB20 = datetime(2026, 2, 20, tzinfo=UTC)
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)


def _offering(client: Any, tenant: Any, name: str, value: str, **extra: Any) -> str:
    h = tenant.headers()
    price = client.post(f"{CAT}/productOfferingPrice", headers=h, json={
        "name": f"{name} fee", "priceType": "recurring", "lifecycleStatus": "Active",
        "price": {"unit": "EUR", "value": value}, "recurringChargePeriodType": "month",
        "recurringChargePeriodLength": 1, "billingTiming": "inArrears"})
    assert price.status_code == 201, price.text
    offering = client.post(f"{CAT}/productOffering", headers=h, json={
        "name": name, "lifecycleStatus": "Active",
        "productOfferingPrice": [{"id": price.json()["id"]}], **extra})
    assert offering.status_code == 201, offering.text
    return str(offering.json()["id"])


def _account(session: Any, tenant_id: str, name: str, **extra: Any) -> str:
    row = Account(tenant_id=tenant_id, kind="billingAccount", name=name, state="active",
                  currency="EUR", body={"billStructure": {"cycleSpecification": {
                      "frequency": "monthly", "anchorDay": 31, "alignment": "calendar",
                      "timeZone": "Europe/Berlin"}}, "paymentTerms": {"dueDays": 14}},
                  **extra)
    session.add(row)
    session.flush()
    return row.id


def _product(session: Any, tenant_id: str, account_id: str, changes: list[tuple]) -> str:
    row = Product(tenant_id=tenant_id, name="Mobile", status="active",
                  billing_account_id=account_id, last_update=FEB1, body={})
    session.add(row)
    session.flush()
    for seq, (at, change, after) in enumerate(changes, start=1):
        session.add(ProductHistory(tenant_id=tenant_id, product_id=row.id, seq=seq, at=at,
                                   change=change, status="active", after=after,
                                   actor="test"))
    return row.id


def _rated(tenant_id: str, account_id: str, product_id: str, usage_id: str, amount: str,
           *, generation: int = 1, current: bool = True, invoice_id: str | None = None,
           correction: bool = False, day: int = 5) -> RatedUsage:
    return RatedUsage(
        tenant_id=tenant_id, usage_id=usage_id, generation=generation, current=current,
        product_id=product_id, billing_account_id=account_id,
        usage_date=datetime(2026, 2, day, tzinfo=UTC), period_start=FEB1, period_end=MAR1,
        usage_type="voice", metric="seconds", quantity=Decimal(60), included=Decimal(0),
        charged=Decimal(60), amount=Decimal(amount), currency="EUR", price_id="p-voice",
        tax_category="standard", rated_at=FEB1, invoice_id=invoice_id, correction=correction)


def _setup(client: Any, tenant: Any, offerings: tuple[str, str] | None = None
           ) -> dict[str, str]:
    basic, premium = offerings or (
        _offering(client, tenant, "Basic", "10.00"),
        _offering(client, tenant, "Premium", "30.00", planChangePolicy="immediate"))
    with unit_of_work() as session:
        t = tenant.id
        parent = _account(session, t, "Parent GmbH")
        child = _account(session, t, "Child team", parent_id=parent, paid_by_parent=True)
        product = _product(session, t, parent, [
            (FEB1, "started", {"status": "active", "priceVersion": basic, "quantity": 1}),
            (FEB10, "plan_changed", {"priceVersion": premium}),
            (FEB10, "updated", {"name": "x"}),
            (FEB20, "suspended", {"status": "suspended"}),
        ])
        child_product = _product(session, t, child, [
            (FEB1, "started", {"priceVersion": basic, "quantity": 2})])
        session.add(ProductCharge(tenant_id=t, product_id=product, billing_account_id=parent,
                                  kind="earlyTerminationFee", amount=Decimal("50.00"),
                                  currency="EUR", at=FEB20, billed=False))
        session.add(ProductCharge(tenant_id=t, product_id=product, billing_account_id=parent,
                                  kind="earlyTerminationFee", amount=Decimal("99.00"),
                                  currency="EUR", at=FEB20, billed=True))
        session.add(BillingCharge(tenant_id=t, billing_account_id=parent, kind="credit",
                                  amount=Decimal("5.00"), currency="EUR", name="Goodwill",
                                  at=FEB20, created_by="test"))
        session.add_all([
            _rated(t, parent, product, "u1", "0.10"),
            _rated(t, parent, product, "u2", "0.25"),
            # u3: invoiced at 0.40, re-rated to 0.30 -> a correction of -0.10
            _rated(t, parent, product, "u3", "0.40", current=False, invoice_id="inv-1"),
            _rated(t, parent, product, "u3", "0.30", generation=2, correction=True),
            # used after the as-of date: not billed yet
            _rated(t, parent, product, "u4", "9.00", day=28),
            _rated(t, child, child_product, "c1", "1.00"),
        ])
    return {"parent": parent, "child": child, "product": product,
            "child_product": child_product, "basic": basic, "premium": premium}


def _inputs(tenant_id: str, ids: list[str], until: datetime) -> dict[str, Any]:
    with unit_of_work() as session:
        tenant = load_tenant(session, tenant_id)
        assert tenant is not None
        return junction.inputs_for(system_context(session, tenant), ids, until=until)


def test_the_stream_of_a_parent_with_a_child_paid_by_it(client: Any, tenant: Any) -> None:
    ids = _setup(client, tenant)
    inputs = _inputs(tenant.id, [ids["parent"], ids["child"]],
                     datetime(2026, 2, 25, tzinfo=UTC))
    assert list(inputs) == [ids["parent"]]  # the child gets no invoice of its own
    item = inputs[ids["parent"]]
    terms = item.terms
    assert (terms.currency, terms.due_days, terms.children) == ("EUR", 14, (ids["child"],))
    assert terms.cycle.frequency is Frequency.MONTHLY and terms.cycle.anchor_day == 31
    assert terms.tz == "Europe/Berlin" and terms.cycle.alignment is Alignment.CALENDAR

    subs = [e for e in item.events if isinstance(e, SubscriptionEvent)]
    mine = [(e.kind, e.price_version, e.quantity) for e in subs
            if e.product_id == ids["product"]]
    assert mine == [(ChangeKind.STARTED, ids["basic"], 1),
                    (ChangeKind.PLAN_CHANGED, ids["premium"], 1),
                    (ChangeKind.SUSPENDED, ids["premium"], 1)]  # "updated" is no event
    [child_start] = [e for e in subs if e.account_id == ids["child"]]
    assert (child_start.quantity, child_start.product_id) == (2, ids["child_product"])

    charges = {e.key.split(":")[0]: e for e in item.events if isinstance(e, ChargeEvent)}
    assert set(charges) == {"productCharge", "billingCharge"}  # the billed fee is left out
    assert charges["productCharge"].amount.amount == Decimal("50.00")
    assert charges["productCharge"].line_kind is LineKind.ONE_TIME
    assert charges["billingCharge"].amount.amount == Decimal("-5.00")
    assert charges["billingCharge"].line_kind is LineKind.ADJUSTMENT

    usage = {(u.account_id, u.correction): u for u in item.events
             if isinstance(u, UsageSummary)}
    plain = usage[(ids["parent"], False)]
    assert plain.amount.amount == Decimal("0.35") and plain.records == 2
    assert plain.key == (f"usage:{ids['product']}|p-voice|voice|seconds|"
                         f"2026-02-01T00:00:00Z|2026-03-01T00:00:00Z|r{min(plain.rated_ids)}")
    correction = usage[(ids["parent"], True)]
    assert correction.amount.amount == Decimal("-0.10")
    assert correction.quantity == Decimal(0)
    assert f"|correction|r{min(correction.rated_ids)}" in correction.key
    assert usage[(ids["child"], False)].amount.amount == Decimal("1.00")

    assert [e.sort_key for e in item.events] == sorted(e.sort_key for e in item.events)
    premium = item.plans[ids["premium"]]
    assert premium.downgrade_timing == "immediate" and premium.name == "Premium"
    assert premium.prices[0].billing_mode == "inArrears"
    assert premium.prices[0].spec.unit_price is not None
    assert premium.prices[0].spec.unit_price.amount == Decimal("30.00")
    assert item.plans[ids["basic"]].downgrade_timing is None


def test_plan_extensions_from_the_offering_and_its_prices() -> None:
    pop = {"id": "p1", "name": "fee", "priceType": "recurring",
           "price": {"unit": "EUR", "value": "30"}, "rank": 3}
    plan = junction.plan_of({"id": "o1", "name": "Premium", "rank": 2,
                             "minimumCommitment": {"unit": "EUR", "value": "25.00"},
                             "planChangePolicy": "endOfPeriod"}, [pop])
    assert plan.rank == 3  # the price's value wins over the offering's
    assert plan.minimum_commitment is not None
    assert plan.minimum_commitment.amount == Decimal("25.00")
    assert plan.downgrade_timing == "endOfTerm" and plan.prices[0].billing_mode == "inAdvance"
    try:
        junction.plan_of({"id": "o1", "rank": "high"}, [pop | {"rank": None}])
    except ValidationError as exc:
        assert exc.field == "productOffering[o1].rank"
    else:
        raise AssertionError("a bad rank is refused")


def test_the_usage_after_until_is_left_for_later(client: Any, tenant: Any) -> None:
    ids = _setup(client, tenant)
    item = _inputs(tenant.id, [ids["parent"]], MAR1)[ids["parent"]]
    plain = [u for u in item.events if isinstance(u, UsageSummary)
             and u.account_id == ids["parent"] and not u.correction]
    assert [u.amount.amount for u in plain] == [Decimal("9.35")]


def test_statements_do_not_grow_with_accounts(client: Any, tenant: Any,
                                              make_tenant: Any) -> None:
    def count(tenant_: Any, n: int) -> int:
        first = _setup(client, tenant_)
        for _ in range(n - 1):
            _setup(client, tenant_, (first["basic"], first["premium"]))
        with unit_of_work() as session:
            ids = [a.id for a in session.query(Account).filter_by(tenant_id=tenant_.id)]
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))

        engine = get_engine()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            found = _inputs(tenant_.id, ids, MAR1)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert len(found) == n
        return len([s for s in statements if "tenant" in s or "SELECT" in s.upper()])

    # the plans cost two statements per distinct price version, not per account
    assert count(make_tenant(), 1) == count(make_tenant(), 6)
