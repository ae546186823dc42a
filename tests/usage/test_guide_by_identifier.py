"""Set-based guiding reads only the identifiers a file holds: ``identifier_intervals``
for some values equals the whole table cut to them; a run's ``batch.Guide`` reads each
identifier once (a later chunk only the new ones), or every claim of the month when
the file holds most of them, and either way guides every record as the per-record
``guiding.guide`` does — a number that moved, a suspension, a plan and a quantity
change, a termination, months apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from tests.ordering.test_inventory_changes import (
    INV,
    MERGE,
    _account,
    _advance,
    _monthly,
    _product,
    context,
)

from openbss.ordering import in_force, inventory
from openbss.ordering.in_force import identifier_interval_columns, identifier_intervals
from openbss.usage import batch
from openbss.usage.guiding import Guided, guide

T0 = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
FIRST, SECOND, OTHER = "+4915111111111", "+4915122222222", "+4915133333333"
NOBODY = "+4915199999999"
DAY = timedelta(days=1)


def _status(client, tenant, product_id: str, **patch: Any) -> None:  # type: ignore[no-untyped-def]
    r = client.patch(f"{INV}/{product_id}", headers=tenant.headers(**MERGE), json=patch)
    assert r.status_code == 200, r.text


@pytest.fixture
def world(client, make_tenant):  # type: ignore[no-untyped-def]
    """FIRST on a line suspended and resumed that then takes the number OTHER (and is
    terminated later), then FIRST on another customer's line; SECOND on a line that
    changes plan and quantity; across January and February."""
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    small, large = _monthly(client, tenant, "S", "10.00"), _monthly(client, tenant, "L", "20.00")
    first = _product(client, tenant, _account(client, tenant), small,
                     productCharacteristic=[{"name": "MSISDN", "value": "0151 11111111"}])
    second = _product(client, tenant, _account(client, tenant), small,
                      productCharacteristic=[{"name": "MSISDN", "value": SECOND}])
    _advance(client, tenant, days=3)
    _status(client, tenant, first["id"], status="suspended")
    _status(client, tenant, second["id"], quantity=2)
    _advance(client, tenant, days=4)
    _status(client, tenant, first["id"], status="active")
    with context(tenant) as ctx:
        inventory.update_product(ctx, product_id=second["id"],
                                 patch={"productOffering": {"id": large["id"]}},
                                 order_id="order-1", order_item_id="1")
    _advance(client, tenant, days=8)  # into February: FIRST's line takes another number
    _status(client, tenant, first["id"],
            productCharacteristic=[{"name": "MSISDN", "value": OTHER}])
    _advance(client, tenant, hours=5)
    third = _product(client, tenant, _account(client, tenant), large,
                     productCharacteristic=[{"name": "MSISDN", "value": FIRST}])
    _advance(client, tenant, days=2)
    _status(client, tenant, first["id"], status="terminated")
    _advance(client, tenant, days=1)
    return tenant, (first["id"], second["id"], third["id"])


def _normal(rows: list[tuple[str, datetime]], offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame({
        "row": list(range(offset, offset + len(rows))), "source": ["sw"] * len(rows),
        "record_id": [f"r{offset + i}" for i in range(len(rows))],
        "dedup_key": [f"k{offset + i}" for i in range(len(rows))],
        "usage_date": [at for _, at in rows], "usage_type": ["voice"] * len(rows),
        "metric": ["duration"] * len(rows), "quantity": [None] * len(rows),
        "unit": ["s"] * len(rows), "identifier_name": ["msisdn"] * len(rows),
        "identifier_value": [value for value, _ in rows],
        "destination": ["+4930123456"] * len(rows)}, schema=batch.NORMAL_SCHEMA)


def _instants(ctx: Any) -> list[datetime]:
    """Every boundary of every interval, a microsecond either side, and between."""
    found = {T0 - DAY, T0 + 40 * DAY}
    for row in identifier_intervals(ctx, start=T0 - 5 * DAY, end=T0 + 40 * DAY):
        for at in (row.start, row.end):
            found |= {at - timedelta(microseconds=1), at, at + timedelta(seconds=1)}
        found.add(row.start + (row.end - row.start) / 2)
    return sorted(a for a in found if T0 - 5 * DAY <= a < T0 + 40 * DAY)


def _expected(ctx: Any, value: str, at: datetime) -> tuple[Any, ...]:
    found = guide(ctx, identifier_name="msisdn", identifier_value=value, at=at)
    if isinstance(found, Guided):
        return (None, found.product_id, found.billing_account_id, found.price_version)
    return (found.reason, None, None, None)


def _got(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return list(frame.sort("row").select("_guide", "product_id", "billing_account_id",
                                         "price_version").iter_rows())


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[datetime, Any]]]:
    """The (month, values) of every read of the identifier intervals."""
    calls: list[tuple[datetime, Any]] = []
    real = in_force.identifier_interval_columns

    def spy(ctx: Any, *, start: datetime, end: datetime, name: str | None = None,
            values: Any = None) -> dict[str, list[Any]]:
        calls.append((start, None if values is None else sorted(values)))
        return real(ctx, start=start, end=end, name=name, values=values)

    monkeypatch.setattr(in_force, "identifier_interval_columns", spy)
    yield calls


def test_intervals_of_some_values_are_the_whole_table_cut_to_them(world) -> None:  # type: ignore[no-untyped-def]
    tenant, (first, second, third) = world
    start, end = T0 - DAY, T0 + 40 * DAY
    with context(tenant) as ctx:
        everything = identifier_intervals(ctx, start=start, end=end)
        assert {r.product_id for r in everything} == {first, second, third}
        assert {(r.price_version, r.quantity) for r in everything
                if r.product_id == second} == {(everything[0].price_version, 1),
                                               (everything[0].price_version, 2),
                                               (next(r.price_version for r in everything
                                                     if r.product_id == third), 2)}
        assert {r.kind for r in everything if r.product_id == first} == {"active",
                                                                          "suspended"}
        for values in ([FIRST], [SECOND], [OTHER], [FIRST, SECOND, NOBODY], [NOBODY]):
            assert identifier_intervals(ctx, start=start, end=end, name="msisdn",
                                        values=values) == \
                [r for r in everything if r.value in values]
        assert identifier_intervals(ctx, start=start, end=end, name="imsi",
                                    values=[FIRST]) == []
        columns = identifier_interval_columns(ctx, start=start, end=end)
        assert sorted(zip(*columns.values(), strict=True)) == sorted(
            (r.name, r.value, r.product_id, r.billing_account_id, r.parent_id, r.start,
             r.end, r.kind, r.price_version, r.quantity) for r in everything)
        # what in_force answers per identifier
        for value in (FIRST, SECOND, OTHER):
            per_record = sorted((f.product_id, i.start, i.end, i.kind.value,
                                 i.price_version, i.quantity)
                                for f in in_force.in_force(ctx, start=start, end=end,
                                                           identifier=value)
                                for i in f.intervals)
            assert per_record == sorted((r.product_id, r.start, r.end, r.kind,
                                         r.price_version, r.quantity)
                                        for r in everything if r.value == value)


def _guide_two_chunks(ctx: Any, asked: list[Any]) -> tuple[Any, ...]:
    """Guide two chunks with one Guide (the first holds FIRST only, the second every
    identifier), each checked against per-record guiding; ``asked`` is cleared first.
    Returns the instants, the chunks, what each record guides to and the Guide."""
    instants = _instants(ctx)
    chunks = [[(FIRST, at) for at in instants],
              [(value, at) for value in (FIRST, SECOND, OTHER, NOBODY) for at in instants]]
    expected = [[_expected(ctx, value, at) for value, at in chunk] for chunk in chunks]
    asked.clear()
    guide_ = batch.Guide()
    offset = 0
    for chunk, wanted in zip(chunks, expected, strict=True):
        assert _got(batch.guide_frame(ctx, _normal(chunk, offset), guide_)) == wanted
        offset += len(chunk)
    return instants, chunks, expected, guide_


def test_a_run_reads_each_identifier_once_and_guides_as_one_record_does(world, asked) -> None:  # type: ignore[no-untyped-def]
    tenant, _ = world
    with context(tenant) as ctx:
        instants, _, expected, _ = _guide_two_chunks(ctx, asked)
        months = sorted({batch._month(at) for at in instants})
        assert len(months) == 3
        # by identifier, the second chunk only the identifiers new to the run
        assert asked == [(m, [FIRST]) for m in months] + \
            [(m, [SECOND, OTHER, NOBODY]) for m in months]
        assert {reason for chunk in expected for reason, *_ in chunk} == {
            None, "unknown_identifier", "product_inactive"}


def test_most_of_the_claims_are_read_at_once(world, asked, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tenant, _ = world
    monkeypatch.setattr(batch, "BY_IDENTIFIER_SHARE", 0.0)
    monkeypatch.setattr("openbss.ordering.queries.IN_CHUNK", 0)  # no small sets
    with context(tenant) as ctx:
        instants, chunks, expected, guide_ = _guide_two_chunks(ctx, asked)
        # every identifier of each month, once for the run
        assert asked == [(month, None) for month in sorted({batch._month(at)
                                                            for at in instants})]
        # the bulk API's values, and rerating's every identifier, guide alike
        chunk = chunks[1]
        assert _got(batch.guide_frame(ctx, _normal(chunk), batch.Guide(),
                                      values=[FIRST, SECOND, OTHER, NOBODY])) == expected[1]
        every = batch.Guide().intervals(ctx, T0 - 5 * DAY, T0 + 39 * DAY)
        assert every.height > 0 and every.sort(every.columns).equals(guide_.intervals(
            ctx, T0 - 5 * DAY, T0 + 39 * DAY).sort(every.columns))
