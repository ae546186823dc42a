"""The rating use cases the usage context calls: the rating book from the catalog's usage
prices, billing periods from the account's bill cycle, rating guided records with
allowance counters that persist across calls, rated rows for TMF635 and billing, and
re-rating (generations, corrections, differences)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from tests.ordering.test_inventory_changes import BERLIN_MONTHLY, CAT, _account, _product, context

from openbss.rating import service
from openbss.rating.book import RatedUsage as Rated
from openbss.rating.book import Unrated
from openbss.rating.models import AllowanceCounter, RatedUsage
from openbss.rating.service import GuidedUsage

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
GB = 10**9


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def _pop(client, tenant, **body: Any) -> str:  # type: ignore[no-untyped-def]
    r = client.post(f"{CAT}/productOfferingPrice", json={
        "name": body.pop("name", "usage"), "priceType": "usage", "lifecycleStatus": "Active",
        **body}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def _offering(client, tenant, prices: list[str]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(f"{CAT}/productOffering", json={
        "name": "Data M", "lifecycleStatus": "Active",
        "productOfferingPrice": [{"id": p} for p in prices]}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


class Line:
    """A product on a Berlin-monthly account with 1 GB included at 2 EUR/GB beyond, and
    API calls priced graduated (first 100 free, then 0.01 each)."""

    def __init__(self, client, tenant) -> None:  # type: ignore[no-untyped-def]
        self.data_price = _pop(client, tenant, name="data", price={"unit": "EUR", "value": "2"},
                               unitOfMeasure={"amount": 1, "units": "GB"},
                               includedQuantity={"amount": 1, "units": "GB"})
        self.api_price = _pop(client, tenant, name="api", usageType="event",
                              metric="apiCalls", unitOfMeasure={"amount": 1, "units": "call"},
                              price={"unit": "EUR", "value": "0"}, chargeModel={
                                  "type": "graduated", "tiers": [
                                      {"upTo": "100", "unitPrice": "0"},
                                      {"upTo": None, "unitPrice": "0.01"}]})
        self.offering = _offering(client, tenant, [self.data_price, self.api_price])
        self.account = _account(client, tenant, **BERLIN_MONTHLY)
        self.product = _product(client, tenant, self.account, self.offering)

    def usage(self, key: str, at: datetime, quantity: int, usage_type: str = "data",
              metric: str | None = None) -> GuidedUsage:
        return GuidedUsage(key=key, usage_date=at, usage_type=usage_type, metric=metric,
                           quantity=Decimal(quantity), destination=None,
                           product_id=self.product["id"],
                           billing_account_id=self.account["id"],
                           price_version=self.offering["id"])


def test_book_for_reads_the_usage_prices(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    with context(sandbox) as ctx:
        book = service.book_for(ctx, [line.offering["id"], "no-such-offering"])
        data, api = book.prices[line.offering["id"]]
        assert (data.usage_type, data.metric, data.unit, data.scale) == ("data", None, "GB", GB)
        assert data.included == GB and data.allowance_scope == "product"
        assert data.currency == "EUR" and data.rating_plan is None
        assert data.charge_model is not None and data.charge_model.type == "standard"
        assert (api.usage_type, api.metric, api.included) == ("event", "apiCalls", 0)
        assert api.charge_model is not None and api.charge_model.type == "graduated"
        assert book.prices["no-such-offering"] == ()
        assert book.tariffs is None


@pytest.mark.parametrize(("unit", "expected"), [
    ("minute", ("voice", None)), ("s", ("voice", None)), ("MB", ("data", None)),
    ("GiB", ("data", None)), ("sms", ("sms", None)), ("message", ("sms", None)),
    ("seat", ("event", "seat")), (None, ("event", "event"))])
def test_usage_type_inferred_from_the_unit(unit, expected):  # type: ignore[no-untyped-def]
    assert service.usage_type_of_unit(unit) == expected


def test_period_of_follows_the_account_cycle(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    plain = _account(client, sandbox)
    with context(sandbox) as ctx:
        # Berlin months end at local midnight: 23:00 UTC in winter, 22:00 in summer
        assert service.period_of(ctx, line.account["id"], T0) == (
            datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC))
        assert service.period_of(ctx, plain["id"], T0) == (
            datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        assert service.period_of(ctx, None, T0) == (
            datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def test_allowance_then_overage_across_calls(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    hour = timedelta(hours=1)
    with context(sandbox) as ctx:
        results = service.rate_events(ctx, [
            line.usage("u2", T0 + hour, 700_000_000),  # given first, consumed second
            line.usage("u1", T0, 600_000_000),
        ])
    by_key = {r.key: r for r in results}
    assert [r.key for r in results] == ["u2", "u1"]
    u1, u2 = by_key["u1"], by_key["u2"]
    assert isinstance(u1, Rated) and isinstance(u2, Rated)
    assert (u1.included, u1.charged, u1.amount) == (600_000_000, 0, 0)
    assert (u2.included, u2.charged) == (400_000_000, 300_000_000)
    assert u2.amount == Decimal("0.6")
    with context(sandbox) as ctx:  # another unit of work: the counter was stored
        (u3,) = service.rate_events(ctx, [line.usage("u3", T0 + 2 * hour, GB // 2)])
        assert isinstance(u3, Rated) and (u3.included, u3.amount) == (0, Decimal("1.0"))
        # next month: a fresh allowance
        (u4,) = service.rate_events(ctx, [line.usage("u4", datetime(2026, 4, 2, tzinfo=UTC),
                                                     GB // 2)])
        assert isinstance(u4, Rated) and u4.included == GB // 2 and u4.amount == 0
        rows = service.rated_for(ctx, ["u1", "u2", "u3", "u4", "nothing"])
        assert rows["nothing"] == []
        row = rows["u2"][0]
        assert (row.generation, row.current, row.correction) == (1, True, False)
        assert row.amount == Decimal("0.6") and row.currency == "EUR"
        assert row.price_id == line.data_price and row.tariff == "standard"
        assert row.period_start == datetime(2026, 2, 28, 23, tzinfo=UTC)
        assert row.detail == {"allowance": {"scope": "product", "holder": line.product["id"],
                                            "priceId": line.data_price,
                                            "periodStart": "2026-02-28T23:00:00Z"}}
        march = service.rated_usage(ctx, billing_account_id=line.account["id"],
                                    start=datetime(2026, 3, 1, tzinfo=UTC),
                                    end=datetime(2026, 4, 1, tzinfo=UTC))
        assert [r.usage_id for r in march] == ["u1", "u2", "u3"]


def test_metered_tiers_continue_across_calls(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    with context(sandbox) as ctx:
        (a,) = service.rate_events(ctx, [line.usage("a", T0, 80, "event", "apiCalls")])
    with context(sandbox) as ctx:
        (b,) = service.rate_events(ctx, [line.usage("b", T0 + timedelta(minutes=1), 50,
                                                    "event", "apiCalls")])
        (c,) = service.rate_events(ctx, [line.usage("c", T0, 5, "event", "nope")])
    assert isinstance(a, Rated) and a.amount == 0
    # 80 before: 20 more free, 30 at 0.01
    assert isinstance(b, Rated) and b.amount == Decimal("0.30")
    assert isinstance(c, Unrated) and c.reason == "unrated_destination"


def test_rerate_writes_a_generation_and_flags_invoiced_rows(client, sandbox):  # type: ignore[no-untyped-def]
    line = Line(client, sandbox)
    hour = timedelta(hours=1)
    records = [line.usage("r1", T0, 800_000_000), line.usage("r2", T0 + hour, 700_000_000),
               line.usage("r3", T0 + 2 * hour, 100, "event", "apiCalls")]
    with context(sandbox) as ctx:
        service.rate_events(ctx, records)
        # billing invoiced r1 (its amount is 0, but it was on an invoice)
        ctx.session.execute(update(RatedUsage).where(RatedUsage.usage_id == "r1",
                                                     RatedUsage.tenant_id == ctx.tenant_id)
                            .values(invoice_id="INV-1"))
    with context(sandbox) as ctx:
        before = {r.usage_id: r.amount for r in service.rated_usage(
            ctx, billing_account_id=line.account["id"], start=T0, end=T0 + 3 * hour)}
        assert before == {"r1": 0, "r2": Decimal("1.0"), "r3": 0}
        # the same records, re-rated: counters recomputed from zero, same amounts
        report = service.rerate(ctx, records)
        assert (report.records, report.rated, report.unrated, report.corrections) == (3, 3, 0, 1)
        assert report.before == report.after == {"EUR": Decimal("1.0")}
        assert report.difference == {"EUR": Decimal(0)}
        counter = ctx.session.query(AllowanceCounter).filter_by(
            tenant_id=ctx.tenant_id, holder=line.product["id"], scope="product").one()
        assert counter.used == GB  # not 2 GB: recomputed, not added
        rows = ctx.session.query(RatedUsage).filter_by(tenant_id=ctx.tenant_id) \
            .order_by(RatedUsage.usage_id, RatedUsage.generation).all()
        assert [(r.usage_id, r.generation, r.current, r.correction) for r in rows] == [
            ("r1", 1, False, False), ("r1", 2, True, True),
            ("r2", 1, False, False), ("r2", 2, True, False),
            ("r3", 1, False, False), ("r3", 2, True, False)]
        assert report.to_json()["difference"] == {"EUR": "0"}


def test_rerate_after_a_tariff_correction(client, sandbox):  # type: ignore[no-untyped-def]
    """Voice on a rating plan with 1 minute included: after the rate is corrected, the
    re-rate changes the amounts, keeps the history, flags the invoiced row, and leaves
    another line's rating alone."""
    from tests.rating.test_api_tariffs import DOC

    assert client.put("/api/v1/rating/tariffs/voice", json=DOC,
                      headers=sandbox.headers()).status_code == 201
    voice = _pop(client, sandbox, name="voice", usageType="voice", ratingPlan="RP_DE",
                 price={"unit": "EUR", "value": "0"},
                 unitOfMeasure={"amount": 1, "units": "minute"},
                 includedQuantity={"amount": 1, "units": "minute"})
    offering = _offering(client, sandbox, [voice])
    account = _account(client, sandbox)
    mine, other = (_product(client, sandbox, account, offering) for _ in range(2))

    def call(key: str, product: dict[str, Any], at: datetime, seconds: int) -> GuidedUsage:
        return GuidedUsage(key=key, usage_date=at, usage_type="voice", metric=None,
                           quantity=Decimal(seconds), destination="4930123",
                           product_id=product["id"], billing_account_id=account["id"],
                           price_version=offering["id"])

    records = [call("v1", mine, T0, 50), call("v2", mine, T0 + timedelta(hours=1), 130)]
    with context(sandbox) as ctx:
        first = service.rate_events(ctx, [*records, call("x1", other, T0, 200)])
        assert [(r.included, r.amount) for r in first if isinstance(r, Rated)] == [
            (50, 0), (10, Decimal("0.4")), (60, Decimal("0.6"))]  # 140 s: 3 increments
        ctx.session.execute(update(RatedUsage).where(
            RatedUsage.usage_id == "v2", RatedUsage.tenant_id == ctx.tenant_id)
            .values(invoice_id="INV-7"))
    corrected = {**DOC, "rates": {"RT_1": [{**DOC["rates"]["RT_1"][0], "rate": "0.4"}]}}
    assert client.put("/api/v1/rating/tariffs/voice", json=corrected,
                      headers=sandbox.headers()).status_code == 200
    with context(sandbox) as ctx:
        report = service.rerate(ctx, records)
        assert (report.rated, report.corrections) == (2, 1)
        assert report.before == {"EUR": Decimal("0.4")}
        assert report.after == {"EUR": Decimal("0.8")}
        assert report.to_json()["difference"] == {"EUR": "0.4"}
        rows = {(r.usage_id, r.generation): r for r in
                ctx.session.query(RatedUsage).filter_by(tenant_id=ctx.tenant_id)}
        assert rows["v2", 1].amount == Decimal("0.4") and not rows["v2", 1].current
        assert rows["v2", 1].invoice_id == "INV-7"  # the invoiced row itself is untouched
        assert rows["v2", 2].amount == Decimal("0.8") and rows["v2", 2].correction
        assert rows["v1", 2].amount == 0 and not rows["v1", 2].correction
        # the other line: not re-rated, still its first generation
        assert ("x1", 2) not in rows and rows["x1", 1].current
        assert rows["x1", 1].amount == Decimal("0.6")


def test_rate_frame_equals_rate_events_and_stores_the_same(client, sandbox):  # type: ignore[no-untyped-def]
    """The vectorized path on a frame and the per-record path on the same records of a
    twin line: the same results, the same stored rows and counters; periods computed per
    account (the Berlin month), results in input order."""
    import polars as pl

    one, twin = Line(client, sandbox), Line(client, sandbox)
    hour = timedelta(hours=1)
    plan = [("a", T0 + 3 * hour, 700_000_000, "data", None),
            ("b", T0, 600_000_000, "data", None),
            ("c", T0 + hour, 150, "event", "apiCalls"),
            ("d", datetime(2026, 3, 31, 22, 30, tzinfo=UTC), GB, "data", None),  # April
            ("e", T0 + 2 * hour, 5, "sms", None)]  # no sms price: unrated
    with context(sandbox) as ctx:
        per_record = service.rate_events(
            ctx, [one.usage(f"1{k}", at, q, t, m) for k, at, q, t, m in plan])
    frame = pl.DataFrame({
        "key": [f"2{k}" for k, *_ in plan], "usage_date": [p[1] for p in plan],
        "usage_type": [p[3] for p in plan], "metric": [p[4] for p in plan],
        "quantity": [Decimal(p[2]) for p in plan], "destination": [None] * len(plan),
        "product_id": [twin.product["id"]] * len(plan),
        "billing_account_id": [twin.account["id"]] * len(plan),
        "price_version": [twin.offering["id"]] * len(plan)},
        schema_overrides={"destination": pl.Utf8, "metric": pl.Utf8})
    with context(sandbox) as ctx:
        result = service.rate_frame(ctx, frame)
    assert result.get_column("key").to_list() == [f"2{k}" for k, *_ in plan]
    assert result.get_column("status").to_list() == ["rated"] * 4 + ["rejected"]
    vector_amounts = result.get_column("amount").to_list()
    record_amounts = [r.amount if isinstance(r, Rated) else None for r in per_record]
    assert vector_amounts == record_amounts
    assert result.get_column("period_start").to_list()[3] == datetime(2026, 3, 31, 22,
                                                                      tzinfo=UTC)
    with context(sandbox) as ctx:
        def stored(prefix: str) -> list[tuple[Any, ...]]:
            rows = ctx.session.query(RatedUsage).filter(
                RatedUsage.tenant_id == ctx.tenant_id,
                RatedUsage.usage_id.like(f"{prefix}%")).order_by(RatedUsage.usage_id)
            return [(r.usage_id[1:], r.quantity, r.included, r.charged, r.amount,
                     r.usage_date, r.period_start, r.period_end, r.rated_at, r.current,
                     r.correction, r.generation, r.invoice_id, r.currency, r.usage_type,
                     r.metric, r.tax_category,
                     r.price_id in (one.data_price, twin.data_price),
                     r.tariff, (r.detail or {}).get("allowance", {}).get("scope"))
                    for r in rows]
        assert stored("1") == stored("2")
        counters = {(c.holder, c.price_id, c.period_start): (c.scope, c.used) for c in
                    ctx.session.query(AllowanceCounter).filter_by(tenant_id=ctx.tenant_id)}
        mine = sorted(v for (h, _p, _s), v in counters.items() if h == one.product["id"])
        theirs = sorted(v for (h, _p, _s), v in counters.items() if h == twin.product["id"])
        assert mine == theirs and ("product", GB) in mine and ("metered", 150) in mine


def test_an_account_allowance_is_shared_by_its_lines(client, sandbox):  # type: ignore[no-untyped-def]
    """allowanceScope account: granted = included × the account's lines carrying the price;
    every line consumes the one bucket; a re-rate recomputes the grant (a line added)."""
    shared = _pop(client, sandbox, name="shared", price={"unit": "EUR", "value": "2"},
                  unitOfMeasure={"amount": 1, "units": "GB"},
                  includedQuantity={"amount": 1, "units": "GB"}, allowanceScope="account")
    offering = _offering(client, sandbox, [shared])
    account = _account(client, sandbox)
    lines = [_product(client, sandbox, account, offering) for _ in range(2)]

    def use(key: str, product: dict[str, Any], at: datetime, quantity: int) -> GuidedUsage:
        return GuidedUsage(key=key, usage_date=at, usage_type="data", metric=None,
                           quantity=Decimal(quantity), destination=None,
                           product_id=product["id"], billing_account_id=account["id"],
                           price_version=offering["id"])

    records = [use("s1", lines[0], T0, 1_500_000_000),
               use("s2", lines[1], T0 + timedelta(hours=1), 1_000_000_000)]
    with context(sandbox) as ctx:
        s1, s2 = service.rate_events(ctx, records)
    assert isinstance(s1, Rated) and isinstance(s2, Rated)
    assert (s1.included, s2.included) == (1_500_000_000, 500_000_000)  # 2 GB shared
    assert s2.amount == Decimal("1.0") and s1.allowance == s2.allowance
    assert s1.allowance is not None and s1.allowance.holder == account["id"]
    _product(client, sandbox, account, offering)  # a third line, same period
    with context(sandbox) as ctx:
        report = service.rerate(ctx, records)
        counter = ctx.session.query(AllowanceCounter).filter_by(
            tenant_id=ctx.tenant_id, holder=account["id"]).one()
        assert (counter.scope, counter.granted, counter.used) == ("account", 3 * GB,
                                                                  2_500_000_000)
    assert report.to_json()["difference"] == {"EUR": "-1"}
