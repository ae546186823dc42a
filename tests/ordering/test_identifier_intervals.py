"""``in_force.identifier_intervals``: the set-based guiding table — every identifier held
by a product during a period, cut to the product's active and suspended intervals, equal
to what the per-record ``in_force(identifier=…)`` answers; a number that moved from one
customer to another belongs to each in turn; another tenant's claims never appear."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.ordering.test_inventory_changes import (
    INV,
    MERGE,
    T0,
    _account,
    _advance,
    _monthly,
    _product,
    context,
)

from openbss.ordering.in_force import identifier_intervals, in_force

NUMBER = "+4915112345678"


def _status(client, tenant, product_id: str, status: str) -> None:  # type: ignore[no-untyped-def]
    r = client.patch(f"{INV}/{product_id}", headers=tenant.headers(**MERGE),
                     json={"status": status})
    assert r.status_code == 200, r.text


def test_a_moved_number_belongs_to_each_holder_in_turn(client, make_tenant, other_tenant):  # type: ignore[no-untyped-def]
    sandbox = make_tenant(sandbox=True, clock_start=T0, region="DE")
    offering = _monthly(client, sandbox, "M", "20.00")
    first = _product(client, sandbox, _account(client, sandbox), offering,
                     productCharacteristic=[{"name": "MSISDN", "value": "0151 12345678"}])
    plain = _product(client, sandbox, _account(client, sandbox), offering)  # no identifier
    foreign = _product(client, other_tenant, _account(client, other_tenant),
                       _monthly(client, other_tenant, "X", "1.00"),
                       productCharacteristic=[{"name": "MSISDN", "value": NUMBER}])
    _advance(client, sandbox, days=2)
    _status(client, sandbox, first["id"], "suspended")
    _advance(client, sandbox, days=1)
    _status(client, sandbox, first["id"], "active")
    _advance(client, sandbox, days=2)
    _status(client, sandbox, first["id"], "terminated")
    _advance(client, sandbox, days=1)
    second = _product(client, sandbox, _account(client, sandbox), offering,
                      productCharacteristic=[{"name": "msisdn", "value": NUMBER}])
    day = timedelta(days=1)
    end = T0 + 10 * day
    with context(sandbox) as ctx:
        rows = identifier_intervals(ctx, start=T0, end=end)
        got = [(r.name, r.value, r.product_id, r.start, r.end, r.kind) for r in rows]
        assert got == [
            ("msisdn", NUMBER, first["id"], T0, T0 + 2 * day, "active"),
            ("msisdn", NUMBER, first["id"], T0 + 2 * day, T0 + 3 * day, "suspended"),
            ("msisdn", NUMBER, first["id"], T0 + 3 * day, T0 + 5 * day, "active"),
            ("msisdn", NUMBER, second["id"], T0 + 6 * day, end, "active"),
        ]
        assert {r.billing_account_id for r in rows} == {first["billingAccount"]["id"],
                                                        second["billingAccount"]["id"]}
        assert all(r.price_version == offering["id"] and r.quantity == 1 for r in rows)
        assert plain["id"] not in {r.product_id for r in rows}
        assert foreign["id"] not in {r.product_id for r in rows}
        # the per-record question gives the same intervals
        per_record = sorted((f.product_id, i.start, i.end, i.kind.value)
                            for f in in_force(ctx, start=T0, end=end, identifier=NUMBER)
                            for i in f.intervals)
        assert per_record == sorted((r.product_id, r.start, r.end, r.kind) for r in rows)
        # a window inside one interval, and a name filter
        inner = identifier_intervals(ctx, start=T0 + 4 * day, end=T0 + 4 * day + day,
                                     name="msisdn")
        assert [(r.product_id, r.start, r.end) for r in inner] == [
            (first["id"], T0 + 4 * day, T0 + 5 * day)]
        assert identifier_intervals(ctx, start=T0, end=end, name="imsi") == []
        assert identifier_intervals(ctx, start=datetime(2020, 1, 1, tzinfo=UTC),
                                    end=datetime(2020, 2, 1, tzinfo=UTC)) == []
