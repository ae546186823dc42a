"""The database layer: exact decimals, aware datetimes, SQLite pragmas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

from openbss.core.db import ExactDecimal, UTCDateTime, get_engine


@pytest.fixture(scope="module")
def scratch(database_url):
    engine = get_engine(database_url)
    table = Table(f"scratch_{uuid.uuid4().hex[:8]}", MetaData(),
                  Column("id", Integer, primary_key=True),
                  Column("amount", ExactDecimal), Column("at", UTCDateTime))
    table.create(engine)
    yield engine, table
    table.drop(engine)


EXACT = [Decimal("0.1"), Decimal("12345678901234567890.123456789012"), Decimal("-0.00000001"),
         Decimal("5.12345678"), Decimal("0"), Decimal("1E-20"), Decimal("99999999999999.9999")]


def test_decimals_round_trip_exactly(scratch):
    engine, table = scratch
    with engine.begin() as conn:
        for value in EXACT:
            row_id = conn.execute(insert(table).values(amount=value)).inserted_primary_key[0]
            stored = conn.execute(select(table.c.amount).where(table.c.id == row_id)).scalar()
            assert stored == value and isinstance(stored, Decimal)


@settings(max_examples=50, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=12,
                   min_value=Decimal("-1e15"), max_value=Decimal("1e15")))
def test_any_decimal_round_trips(scratch, value):
    engine, table = scratch
    with engine.begin() as conn:
        row_id = conn.execute(insert(table).values(amount=value)).inserted_primary_key[0]
        assert conn.execute(select(table.c.amount).where(table.c.id == row_id)).scalar() == value


def test_floats_and_naive_datetimes_are_refused(scratch):
    engine, table = scratch
    with pytest.raises(StatementError, match="floats"), engine.begin() as conn:
        conn.execute(insert(table).values(amount=0.1))
    with pytest.raises(StatementError, match="timezone-aware"), engine.begin() as conn:
        conn.execute(insert(table).values(at=datetime(2026, 1, 1)))


def test_datetimes_come_back_aware_utc(scratch):
    engine, table = scratch
    local = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        row_id = conn.execute(insert(table).values(at=local)).inserted_primary_key[0]
        stored = conn.execute(select(table.c.at).where(table.c.id == row_id)).scalar()
    assert stored == local and stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0) and stored == local.astimezone(UTC)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(database_url):
    engine = get_engine(database_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_durability_follows_the_setting(tmp_path, monkeypatch, setting, pragma):
    """OPENBSS_SQLITE_SYNCHRONOUS=FULL makes every commit fsync the WAL (PRAGMA 2)."""
    from openbss.core.config import get_settings
    from openbss.core.db import make_engine

    monkeypatch.setenv("OPENBSS_SQLITE_SYNCHRONOUS", setting)
    get_settings.cache_clear()
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
        engine.dispose()
    finally:
        monkeypatch.delenv("OPENBSS_SQLITE_SYNCHRONOUS")
        get_settings.cache_clear()


def test_new_ids_are_uuid4_hex_and_unique() -> None:
    from openbss.core.db import new_id

    ids = [new_id() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:2000]:
        parsed = uuid.UUID(value)
        assert parsed.hex == value and len(value) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_refresh_statistics_lets_sqlite_read_a_batch_by_primary_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without statistics SQLite reads ``tenant_id = ? AND id IN (…)`` through the tenant
    index (every row of the tenant); after refresh_statistics, through the primary key."""
    from sqlalchemy.orm import Session

    from openbss.core.db import refresh_statistics

    engine = get_engine(f"sqlite:///{tmp_path}/s.db")
    meta = MetaData()
    table = Table("thing", meta, Column("id", Integer, primary_key=True),
                  Column("tenant_id", Integer, index=True))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "tenant_id": 1} for i in range(5000)])
    query = text("EXPLAIN QUERY PLAN SELECT id FROM thing WHERE tenant_id = 1 "
                 "AND id IN (7, 8, 9)")
    with Session(engine) as session:
        assert "ix_thing_tenant_id" in str(session.execute(query).all())
        refresh_statistics(session, ["thing"])
        session.commit()
    with Session(engine) as session:
        plan = str(session.execute(query).all())
        assert "ix_thing_tenant_id" not in plan and "PRIMARY KEY" in plan, plan
        with pytest.raises(ValueError):
            refresh_statistics(session, ["thing; DROP TABLE thing"])


def test_bulk_insert_writes_exact_values_through_the_column_types(database_url) -> None:  # type: ignore[no-untyped-def]
    """bulk_insert (COPY on PostgreSQL, executemany elsewhere) stores what an INSERT
    stores: exact decimals, aware datetimes as UTC, JSON with exact numbers, NULLs; rows
    that leave out a column with a Python default are refused."""
    from sqlalchemy import String
    from sqlalchemy.orm import Session

    from openbss.core.db import JSONType, bulk_insert

    engine = get_engine(database_url)
    table = Table(f"bulk_{uuid.uuid4().hex[:8]}", MetaData(),
                  Column("id", Integer, primary_key=True), Column("name", String(40)),
                  Column("amount", ExactDecimal), Column("at", UTCDateTime),
                  Column("body", JSONType), Column("flag", Integer, default=7))
    table.create(engine)
    berlin = timezone(timedelta(hours=1))
    rows = [{"id": i, "name": f"n\t{i}\\x" if i % 2 else None,
             "amount": EXACT[i % len(EXACT)],
             "at": datetime(2026, 3, 1, 0, 30, tzinfo=berlin) + timedelta(seconds=i),
             "body": {"v": Decimal("0.10"), "list": [1, "ü"], "i": i} if i % 3 else None,
             "flag": i} for i in range(50)]
    try:
        with Session(engine) as session:
            bulk_insert(session, table, rows)
            session.commit()
        with engine.connect() as conn:
            stored = conn.execute(select(table).order_by(table.c.id)).all()
        assert [r.id for r in stored] == list(range(50))
        for row, got in zip(rows, stored, strict=True):
            assert got.name == row["name"] and got.amount == row["amount"]
            assert got.at == row["at"] and got.at.utcoffset() == timedelta(0)
            assert got.body == row["body"] and got.flag == row["flag"]
        with Session(engine) as session, pytest.raises(ValueError, match="flag"):
            bulk_insert(session, table, [{"id": 99, "name": "x", "amount": Decimal(1),
                                          "at": datetime(2026, 1, 1, tzinfo=UTC),
                                          "body": {}}])
    finally:
        table.drop(engine)
