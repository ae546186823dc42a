"""Database engine, session (unit of work) and the shared column types.

The request or job owns the transaction: :func:`unit_of_work` opens a session, and
commits once at the end (or rolls back on error). Services never commit.

Column types that behave identically on SQLite and PostgreSQL:

- :class:`ExactDecimal` stores a ``Decimal`` without loss: ``NUMERIC`` (unconstrained)
  on PostgreSQL, canonical text on SQLite (which has no exact numeric type).
- :class:`UTCDateTime` stores timezone-aware UTC instants and refuses naive ones.
- JSON columns are written and read with :mod:`openbss.core.jsonx`, so a ``Decimal``
  inside a document is stored as an exact number and read back as a ``Decimal``.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, MetaData, Numeric, String, create_engine, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine
from starlette.concurrency import run_in_threadpool

from openbss.core import clock, jsonx

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    """A new opaque resource id (UUID4 as 32 hex characters): 16 random bytes with the
    version and variant bits of RFC 9562 set, as ``uuid.uuid4().hex`` gives them, without
    building a UUID object (ids are made by the thousand in a bill run)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored exactly on every backend."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("floats are not accepted for exact decimal columns")
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if not dec.is_finite():
            raise ValueError("decimal column values must be finite")
        if dialect.name == "postgresql":
            return dec
        return format(dec, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("datetimes stored by openbss must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


# Set for a unit of work that will write. On SQLite its transaction starts with
# BEGIN IMMEDIATE (the write lock up front): a deferred transaction that read first
# would fail with SQLITE_BUSY when another writer committed in between.
WRITE_INTENT: ContextVar[bool] = ContextVar("openbss_write_intent", default=False)


# Set while a unit of work tries to take SQLite's write lock without waiting (on the event
# loop): BEGIN IMMEDIATE with the busy handler off answers SQLITE_BUSY at once instead of
# sleeping, and the caller waits for the lock in a thread instead (see begin_write).
NO_WAIT: ContextVar[bool] = ContextVar("openbss_no_wait", default=False)
BUSY_TIMEOUT_MS = 30000


def _sqlite_begin(conn: Any) -> None:
    if not WRITE_INTENT.get():
        conn.exec_driver_sql("BEGIN")
    elif NO_WAIT.get():
        # the busy handler off for this one statement (straight on the driver's
        # connection: a pragma needs none of SQLAlchemy's statement machinery)
        driver = conn.connection.driver_connection
        driver.execute("PRAGMA busy_timeout=0")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "the database is locked" (another writer holds it)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def try_begin_write(session: Session) -> bool:
    """Start ``session``'s SQLite write transaction if the write lock is free right now
    (no waiting: safe on the event loop); False if another connection holds it — the
    session is then as before, and the caller begins it where waiting is allowed."""
    from sqlalchemy.exc import OperationalError

    token = NO_WAIT.set(True)
    try:
        session.connection()
        return True
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        session.rollback()
        return False
    finally:
        NO_WAIT.reset(token)


# Durability on SQLite: WAL with synchronous=NORMAL. A commit appends to the WAL without
# an fsync; the WAL is fsynced at each checkpoint. A committed transaction survives a
# crash of the process (the WAL is in the OS's page cache); a power loss or kernel crash
# may lose the last transactions committed since the last checkpoint, never corrupt the
# database. ``OPENBSS_SQLITE_SYNCHRONOUS=FULL`` fsyncs the WAL at every commit instead, so
# nothing committed is lost even then (each write then waits for the disk). Checkpoints —
# copying the WAL back into the database, with its fsyncs — run in the server's background thread
# (start_checkpointer) every second, not inside a request's commit; a connection still
# checkpoints by itself when the WAL passes WAL_AUTOCHECKPOINT_PAGES (a safety net, and
# what the CLI and other processes rely on).
WAL_AUTOCHECKPOINT_PAGES = 10000  # 4 KiB pages: ~40 MB
CHECKPOINT_SECONDS = 1.0


def _sqlite_pragmas(synchronous: str) -> Any:
    def apply(dbapi_conn: Any, _record: Any) -> None:
        # openbss emits BEGIN itself (see _sqlite_begin); the driver must not.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()
    return apply


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and its directory created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # as many pooled connections as requests that run at once: a connection opened
        # per request pays the pragmas and SQLite's schema parse each time
        pool: dict[str, Any] = {"pool_size": 32, "max_overflow": 32} \
            if parsed.database and parsed.database != ":memory:" else {}
        engine = create_engine(
            url,
            **pool,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=jsonx.dumps,
            json_deserializer=jsonx.loads,
        )
        from openbss.core.config import get_settings

        event.listen(engine, "connect", _sqlite_pragmas(get_settings().sqlite_synchronous))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        json_serializer=jsonx.dumps,
        json_deserializer=jsonx.loads,
    )


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def get_engine(url: str | None = None) -> Engine:
    from openbss.core.config import get_settings

    url = url or get_settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
        _factories[url] = sessionmaker(bind=_engines[url], expire_on_commit=False)
    return _engines[url]


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    from openbss.core.config import get_settings

    url = url or get_settings().database_url
    get_engine(url)
    return _factories[url]


def is_sqlite(url: str | None = None) -> bool:
    from openbss.core.config import get_settings

    return (url or get_settings().database_url).startswith("sqlite")


async def run_local(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` from the event loop: inline on SQLite (a local file; the
    writers are queued by :func:`write_gate`, so no statement waits for a lock there), in
    the thread pool on PostgreSQL (a statement waits on the network)."""
    if is_sqlite():
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)


_write_gates: dict[str, tuple[Any, asyncio.Lock]] = {}


def write_gate(url: str | None = None) -> asyncio.Lock | None:
    """The in-process queue of SQLite writers (None on PostgreSQL).

    SQLite has one writer at a time; a writer that finds the lock taken sleeps in its
    busy handler (1, 2, 5 … 100 ms naps) in a worker thread, which makes the tail latency
    of concurrent writes seconds long and can starve the thread pool. Requests that will
    write wait their turn here instead, on the event loop, in arrival order, and start
    ``BEGIN IMMEDIATE`` when the lock is free. (Other processes — the CLI, a separate
    worker — still meet SQLite's own lock and busy timeout.)
    """
    from openbss.core.config import get_settings

    url = url or get_settings().database_url
    if not url.startswith("sqlite"):
        return None
    loop = asyncio.get_running_loop()
    entry = _write_gates.get(url)
    if entry is None or entry[0] is not loop:
        entry = (loop, asyncio.Lock())
        _write_gates[url] = entry
    return entry[1]


def sqlite_path(url: str | None = None) -> str | None:
    """The file of a SQLite database URL (None for PostgreSQL and in-memory SQLite)."""
    from openbss.core.config import get_settings

    parsed = make_url(url or get_settings().database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database \
            or parsed.database == ":memory:":
        return None
    return parsed.database


def checkpoint(path: str) -> tuple[int, int, int]:
    """One passive WAL checkpoint of the SQLite file ``path`` (never waits for readers or
    writers): ``(busy, wal frames, frames checkpointed)``."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1]), int(row[2])


def start_checkpointer(url: str | None = None, interval: float = CHECKPOINT_SECONDS
                       ) -> tuple[threading.Thread, threading.Event] | None:
    """On SQLite, a daemon thread that checkpoints the WAL every ``interval`` seconds
    (SQLite releases the GIL meanwhile), so requests' commits do not; None otherwise.
    Set the event to stop it."""
    path = sqlite_path(url)
    if path is None:
        return None
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            try:
                checkpoint(path)
            except sqlite3.Error:  # a locked or missing file: the next round retries
                continue

    thread = threading.Thread(target=run, name="openbss-wal-checkpoint", daemon=True)
    thread.start()
    return thread, stop


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()


@contextmanager
def unit_of_work(url: str | None = None) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on any exception."""
    token = WRITE_INTENT.set(True)
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        WRITE_INTENT.reset(token)


def bulk_insert(session: Session, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys) in the caller's transaction, through the
    columns' own types (exact decimals, UTC datetimes, JSON as :mod:`jsonx` writes it):
    PostgreSQL ``COPY … FROM STDIN``; elsewhere one executemany. Batch work (a bill run's
    invoice lines) writes thousands of rows at once."""
    if not rows:
        return
    names = list(rows[0])
    unnamed = [c.name for c in table.c if c.default is not None and c.name not in rows[0]]
    if unnamed:  # COPY applies no Python-side default: the rows must name those columns
        raise ValueError(f"bulk_insert into {table.name}: no value for {unnamed}")
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = [table.c[name] for name in names]
    processors = [c.type._cached_bind_processor(conn.dialect) for c in columns]
    json_columns = {i for i, c in enumerate(columns) if isinstance(c.type, JSON)}
    statement = (f"COPY {conn.dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(conn.dialect.identifier_preparer.quote(n) for n in names)}) "
                 "FROM STDIN")
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    with cursor.copy(statement) as copy:
        for row in rows:
            values = []
            for i, name in enumerate(names):
                value = row[name]
                if value is not None:
                    if i in json_columns:
                        value = jsonx.dumps(value)
                    elif processors[i] is not None:
                        value = processors[i](value)
                values.append(value)
            copy.write_row(values)


def insert_frame(session: Session, table: Any, frame: Any, *,
                 skip_conflicts: Sequence[str] | None = None) -> int:
    """Insert a Polars frame (its columns named as ``table``'s) in the caller's
    transaction, with no Python type processing per value: the values are put in the
    columns' stored forms by Polars, then one ``executemany`` of the SQLite driver, or
    the frame written as CSV into ``COPY … FROM STDIN`` on PostgreSQL. Forms: datetimes
    as UTC (SQLite: SQLAlchemy's text ``YYYY-MM-DD HH:MM:SS.ffffff``), decimals as exact
    text, booleans, structs as JSON; a string column for a JSON column is JSON text
    already (``jsonx.dumps``); a null is SQL NULL. ``skip_conflicts``: the columns of a
    unique constraint — a row whose key is stored already is skipped (``ON CONFLICT DO
    NOTHING``; on PostgreSQL through a temporary table). Returns the rows inserted."""
    import polars as pl

    if frame.height == 0:
        return 0
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    names = list(frame.columns)
    columns = ", ".join(quote(n) for n in names)
    target = conn.dialect.identifier_preparer.format_table(table)
    conflict = (f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts)}) DO NOTHING"
                if skip_conflicts else "")
    postgres = conn.dialect.name == "postgresql"
    stored = []
    for name in names:
        column, dtype = pl.col(name), frame.schema[name]
        if name not in table.c:
            raise ValueError(f"insert_frame into {table.name}: no column {name!r}")
        if isinstance(dtype, pl.Datetime):
            column = column.dt.convert_time_zone("UTC").dt.strftime(
                "%Y-%m-%dT%H:%M:%S%.6f+00:00" if postgres else "%Y-%m-%d %H:%M:%S%.6f")
        elif isinstance(dtype, pl.Decimal):
            column = column.cast(pl.Utf8)
        elif dtype == pl.Boolean and not postgres:
            column = column.cast(pl.Int8)
        elif isinstance(dtype, pl.Struct):
            column = column.struct.json_encode()
        stored.append(column.alias(name))
    values = frame.select(stored)
    driver: Any = conn.connection.driver_connection
    if not postgres:
        # names are the table's own columns (checked above); values are bound parameters
        sql = (f"INSERT INTO {target} ({columns}) "  # noqa: S608
               f"VALUES ({', '.join('?' for _ in names)}){conflict}")
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, values.iter_rows())
            return int(cursor.rowcount)
        finally:
            cursor.close()
    data = values.write_csv(include_header=False, null_value="")
    with driver.cursor() as cursor:
        if not skip_conflicts:
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(data)
            return int(frame.height)
        scratch = quote(f"{table.name}_import")
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} "
                       f"(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {scratch}")
        with cursor.copy(f"COPY {scratch} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(data)
        cursor.execute(f"INSERT INTO {target} ({columns}) "  # noqa: S608
                       f"SELECT {columns} FROM {scratch}{conflict}")
        inserted = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {scratch}")
        return inserted


#: Rows SQLite's ANALYZE samples per index (approximate statistics in milliseconds).
ANALYSIS_LIMIT = 2000


def refresh_statistics(session: Session, tables: Iterable[str]) -> None:
    """Refresh the query planner's statistics of ``tables`` in the caller's transaction,
    before a batch job reads them many times (a bill run). Without statistics — a new
    database, or tables that grew since — SQLite's planner picks the tenant index for
    ``tenant_id = ? AND id IN (…)`` and reads every row of the tenant for each batch;
    with them it takes the primary key. SQLite: a sampling ``ANALYZE`` per table
    (``analysis_limit``); PostgreSQL: ``ANALYZE`` (sampled too)."""
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    for table in tables:
        if not table.isidentifier():
            raise ValueError(f"not a table name: {table!r}")
        conn.exec_driver_sql(f"ANALYZE {table}")


def utcnow_column_default() -> datetime:
    """Insert-time default for bookkeeping columns (not for business time)."""
    return clock.utcnow()
