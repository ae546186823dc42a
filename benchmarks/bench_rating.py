"""Benchmark: CDR files rated end to end (read → normalise → dedupe → guide → rate → write).

The data set (created set-based, in a fresh database: a temporary SQLite file, or a new
PostgreSQL database on the server of ``--database-url`` / ``--postgres``):

- ``--subscribers`` (100,000) mobile lines: products with an MSISDN claim and their
  ``started`` history, on two offerings — half of them with 100 included minutes per
  month (allowance), half without — with ``--accounts`` billing account ids;
- a telecom tariff imported from a generated CGRateS folder: ``--prefixes`` (2,000)
  destination prefixes, 3 time bands (off-peak ``*any``, weekday peak from 08:00, weekend),
  per-minute rates with 60/1 increments and a connect fee on some destinations;
- ``--n`` CDRs (10,000,000) written as CSV (the generic mapping: recordId, usageDate in
  the source's local time, usageType, msisdn, calledNumber, duration), January 2026,
  0.5 % of them repeated (duplicates) and 0.2 % from numbers nobody holds.

Then, each phase in a child process of its own (so its peak RSS is its own):

- ``floor``: the plain ``polars.scan_csv(...).collect()`` of the same file;
- ``parquet``: the file pipeline of ``usage.batch`` (``mapping.read_csv`` chunks →
  ``batch.normalize_frame`` → dedupe against every key seen so far → ``batch.guide_frame``
  → ``rating.vector.rate_frame`` with the book of ``rating.service.book_for`` and the
  allowance grants of the period → rated rows written as Parquet partitioned by billing
  period (``period=2026-01-01/part-00001.parquet``));
- ``database``: ``usage.batch.import_file`` — the product path, into the database itself
  (usage records and rated usage; ``COPY`` on PostgreSQL), one transaction per chunk.
  On SQLite it runs only with ``--sqlite-database`` (it is not the 300k/s target).

Prints ONE JSON line: records/s per phase, peak RSS per phase, the floor and the ratio
(parquet time / floor time), the counts (read/accepted/duplicates/rejected/rated), the
machine and the targets (≥ 1,000,000 CDR/s into Parquet within 3x the floor; ≥ 300,000
CDR/s into PostgreSQL; RSS < 2 GB) with met true/false.

    .venv/bin/python benchmarks/bench_rating.py [--n 10000000]
    .venv/bin/python benchmarks/bench_rating.py --postgres   # OPENBSS_DATABASE_URL
    .venv/bin/python benchmarks/bench_rating.py --smoke      # N = 20,000, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("OPENBSS_SECRET_KEY", "bench-secret-key-not-for-production-use-0123")
os.environ.setdefault("OPENBSS_LOG_LEVEL", "WARNING")

START = datetime(2025, 12, 1, tzinfo=UTC)
MONTH = datetime(2026, 1, 1, tzinfo=UTC)
MONTH_SECONDS = 31 * 86400
TENANT = "bench"
SOURCE = "switch"


def machine() -> str:
    model = platform.processor() or ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return ", ".join([platform.platform(), f"Python {platform.python_version()}",
                      *([model] if model else []), f"{os.cpu_count()} CPUs"])


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- the data set --------------------------------------------------------------------------

def msisdn(i: int) -> str:
    return f"+49151{i:08d}"


def prefixes(count: int) -> list[str]:
    """``count`` distinct E.164 prefixes: German landline areas, mobile blocks, abroad."""
    found: list[str] = []
    for base in ("+4930", "+4940", "+4989", "+49152", "+49160", "+49170", "+331", "+4420",
                 "+39", "+34", "+1212", "+1415", "+4121", "+4318", "+3120", "+4570"):
        for k in range(1000):
            found.append(f"{base}{k:03d}")
    return found[:count]


def write_tariff(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    dests = prefixes(count)
    (folder / "Destinations.csv").write_text(
        "#Id,Prefix\n" + "".join(f"DST_{i},{p}\n" for i, p in enumerate(dests)))
    rates = ["#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart"]
    for band, factor in (("OFF", 1), ("PEAK", 2), ("WE", 1)):
        for tier in range(10):
            fee = "0.05" if tier % 3 == 0 else "0"
            rate = Decimal("0.01") * (tier + 1) * factor
            rates.append(f"RT_{band}_{tier},{fee},{rate},60s,1s,0s")
    (folder / "Rates.csv").write_text("\n".join(rates) + "\n")
    drs = ["#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,"
           "MaxCostStrategy"]
    for band in ("OFF", "PEAK", "WE"):
        drs.extend(f"DR_{band},DST_{i},RT_{band}_{i % 10},*up,4,0," for i in range(count))
    (folder / "DestinationRates.csv").write_text("\n".join(drs) + "\n")
    (folder / "Timings.csv").write_text(
        "#Id,Years,Months,MonthDays,WeekDays,Time\n"
        "T_PEAK,*any,*any,*any,1;2;3;4;5,08:00:00\n"
        "T_WEEKEND,*any,*any,*any,6;7,00:00:00\n")
    (folder / "RatingPlans.csv").write_text(
        "#Id,DestinationRatesId,TimingTag,Weight\n"
        "RP_MOBILE,DR_OFF,*any,10\nRP_MOBILE,DR_PEAK,T_PEAK,20\n"
        "RP_MOBILE,DR_WE,T_WEEKEND,30\n")
    (folder / "RatingProfiles.csv").write_text(
        "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
        "bench,call,*any,2020-01-01T00:00:00Z,RP_MOBILE,\n")


CATALOG = """format: openbss-catalog/1
productOffering:
  - key: bench-s
    name: Bench Mobile S
    lifecycleStatus: Active
    productOfferingPrice:
      - {key: bench-s-voice, name: Voice, priceType: usage, usageType: voice,
         ratingPlan: RP_MOBILE, unitOfMeasure: {amount: 1, units: minute},
         price: {unit: EUR, value: "0"}}
  - key: bench-m
    name: Bench Mobile M
    lifecycleStatus: Active
    productOfferingPrice:
      - {key: bench-m-voice, name: Voice with 100 minutes, priceType: usage,
         usageType: voice, ratingPlan: RP_MOBILE,
         unitOfMeasure: {amount: 1, units: minute}, price: {unit: EUR, value: "0"},
         includedQuantity: {amount: 100, units: minute}}
"""


def setup(url: str, work: Path, subscribers: int, accounts: int, count: int) -> dict[str, Any]:
    """A tenant with the tariff, the two offerings and the subscribers (set-based)."""
    import sqlalchemy as sa

    from openbss.catalog import importer
    from openbss.catalog.models import ProductOffering
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.core.migrate import upgrade
    from openbss.core.service import create_tenant
    from openbss.ordering.models import Product, ProductHistory, ProductIdentifier
    from openbss.rating import service as rating

    upgrade(url)
    write_tariff(work / "tariff", count)
    with unit_of_work(url) as session:
        tenant = create_tenant(session, name=TENANT, default_region="DE")
        session.flush()
        ctx = system_context(session, tenant, actor="bench")
        rating.import_cgrates(ctx, directory=work / "tariff", name="bench", currency="EUR")
        importer.import_catalog(ctx, data=importer.parse(CATALOG))
        session.flush()
        offerings = dict(session.execute(
            sa.select(ProductOffering.name, ProductOffering.id)
            .where(ProductOffering.tenant_id == tenant.id)).all())
        small, medium = offerings["Bench Mobile S"], offerings["Bench Mobile M"]
        tenant_id = tenant.id
    started = time.perf_counter()
    with unit_of_work(url) as session:
        conn = session.connection()
        for lo in range(0, subscribers, 20_000):
            ids = [uuid.uuid4().hex for _ in range(lo, min(lo + 20_000, subscribers))]
            offering = [medium if (lo + k) % 2 else small for k in range(len(ids))]
            conn.execute(sa.insert(Product), [
                {"id": pid, "tenant_id": tenant_id, "name": "Mobile line",
                 "status": "active", "billing_account_id": f"acct-{(lo + k) % accounts}",
                 "offering_id": off, "offering_version": "1.0", "parent_id": None,
                 "start_date": START, "last_update": START, "row_version": 1,
                 "body": {"name": "Mobile line"}}
                for k, (pid, off) in enumerate(zip(ids, offering, strict=True))])
            conn.execute(sa.insert(ProductIdentifier), [
                {"tenant_id": tenant_id, "name": "msisdn", "value": msisdn(lo + k),
                 "product_id": pid, "valid_from": START, "valid_to": None}
                for k, pid in enumerate(ids)])
            conn.execute(sa.insert(ProductHistory), [
                {"tenant_id": tenant_id, "product_id": pid, "seq": 1, "at": START,
                 "change": "started", "status": "active", "before": None,
                 "after": {"priceVersion": off, "quantity": 1}, "order_id": None,
                 "order_item_id": None, "actor": "bench"}
                for pid, off in zip(ids, offering, strict=True)])
    return {"tenant_id": tenant_id, "offerings": [small, medium],
            "subscribers_seconds": round(time.perf_counter() - started, 2)}


def write_cdrs(path: Path, n: int, subscribers: int, count: int) -> None:
    """``n`` CDRs as CSV, generated with Polars expressions (hash-based pseudo-random)."""
    import polars as pl

    dests = pl.Series("prefix", prefixes(count))
    first = True
    with path.open("wb") as handle:
        for lo in range(0, n, 1_000_000):
            hi = min(lo + 1_000_000, n)
            i = pl.int_range(lo, hi, eager=True, dtype=pl.Int64).alias("i")
            frame = pl.DataFrame(i).with_columns(
                h1=pl.col("i").hash(1), h2=pl.col("i").hash(2), h3=pl.col("i").hash(3))
            # 0.5 % repeat an earlier record (duplicates), 0.2 % from unknown numbers
            rid = pl.when((pl.col("h3") % 200 == 0) & (pl.col("i") > 0)) \
                .then(pl.col("i") // 2).otherwise(pl.col("i"))
            sub = pl.when(pl.col("h3") % 500 == 1).then(subscribers + pl.col("h1") % 1000) \
                .otherwise(pl.col("h1") % subscribers)
            frame = frame.with_columns(
                rid=rid, sub=sub, dest=(pl.col("h2") % count).cast(pl.Int64),
                sec=(pl.col("h1") // 7 % MONTH_SECONDS).cast(pl.Int64),
                dur=(pl.col("h2") // 11 % 600).cast(pl.Int64),
                tail=(pl.col("h3") // 13 % 10000).cast(pl.Int64))
            # a repeated record repeats its original's fields too
            orig = frame.select("i", "sub", "dest", "sec", "dur", "tail")
            frame = frame.join(orig.rename({"i": "rid", "sub": "osub", "dest": "odest",
                                            "sec": "osec", "dur": "odur", "tail": "otail"}),
                               on="rid", how="left", maintain_order="left")
            pick = pl.col("rid") != pl.col("i")
            frame = frame.with_columns([
                pl.when(pick & pl.col(f"o{c}").is_not_null()).then(pl.col(f"o{c}"))
                .otherwise(pl.col(c)).alias(c) for c in ("sub", "dest", "sec", "dur", "tail")])
            frame = frame.with_columns(prefix=dests.gather(frame.get_column("dest")))
            out = frame.select(
                pl.format("c{}", pl.col("rid")).alias("recordId"),
                (pl.lit(MONTH.replace(tzinfo=None)) + pl.duration(seconds=pl.col("sec")))
                .dt.strftime("%Y-%m-%d %H:%M:%S").alias("usageDate"),
                pl.lit("voice").alias("usageType"),
                pl.format("+49151{}", pl.col("sub").cast(pl.String).str.zfill(8))
                .alias("msisdn"),
                pl.concat_str([pl.col("prefix"),
                               pl.col("tail").cast(pl.String).str.zfill(4)])
                .alias("calledNumber"),
                pl.col("dur").alias("duration"))
            out.write_csv(handle, include_header=first)
            first = False


# -- the phases (each in its own process) --------------------------------------------------

def phase_floor(csv: Path) -> dict[str, Any]:
    import polars as pl

    started = time.perf_counter()
    rows = pl.scan_csv(csv, infer_schema=False).collect().height
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": round(seconds, 3),
            "records_per_s": round(rows / seconds), "peak_rss_mb": peak_rss_mb()}


def phase_parquet(url: str, csv: Path, out: Path) -> dict[str, Any]:
    import polars as pl

    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work
    from openbss.rating import service as rating
    from openbss.rating import vector
    from openbss.rating.book import AllowanceKey, Allowances
    from openbss.usage import batch
    from openbss.usage.mapping import load_mapping, read_csv
    from openbss.usage.settings import read as read_settings

    started = time.perf_counter()
    counts = {"read": 0, "accepted": 0, "duplicates": 0, "rejected": 0, "rated": 0}
    stages = dict.fromkeys(("read", "normalise", "dedupe", "guide", "rate", "write"), 0.0)
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        stages[stage] += now - clock[0]
        clock[0] = now

    amount = Decimal(0)
    mapping = load_mapping("generic")
    # every key seen so far, as 16 bytes of its SHA-256 (160 MB for 10M records)
    seen = pl.DataFrame(schema={"_k": pl.Binary})
    with unit_of_work(url) as session:
        ctx = system_context(session, tenant_by_name(session, TENANT), actor="bench")
        reading = batch.reading_for(ctx, read_settings(ctx), SOURCE, mapping)
        guide = batch.Guide()
        books: dict[frozenset[str], Any] = {}
        allowances = Allowances()
        granted: set[tuple[str, str, datetime]] = set()
        offset = 0
        for part, chunk in enumerate(read_csv(csv, mapping,
                                              chunk_size=batch.CHUNK_ROWS * 5), start=1):
            lap("read")
            normal, rejects = batch.normalize_frame(chunk, reading, offset=offset)
            lap("normalise")
            offset += chunk.height
            counts["read"] += chunk.height
            counts["rejected"] += len(rejects)
            # dedupe: within the chunk and against every key seen before
            fresh = normal.with_columns(
                pl.col("dedup_key").str.slice(0, 32).str.decode("hex").alias("_k")) \
                .unique("_k", keep="first", maintain_order=True) \
                .join(seen, on="_k", how="anti")
            counts["duplicates"] += normal.height - fresh.height
            seen = pl.concat([seen, fresh.select("_k")])
            fresh = fresh.drop("_k")
            lap("dedupe")
            guided = batch.guide_frame(ctx, fresh, guide)
            ok = guided.filter(pl.col("_guide").is_null())
            counts["rejected"] += guided.height - ok.height
            events = ok.with_columns(
                pl.col("dedup_key").alias("key"),
                pl.col("usage_date").dt.truncate("1mo").alias("period_start"),
                pl.col("usage_date").dt.truncate("1mo").dt.offset_by("1mo")
                .alias("period_end"))
            versions = frozenset(events.get_column("price_version").unique().to_list())
            book = books.get(versions) or rating.book_for(ctx, versions)
            books[versions] = book
            lap("guide")
            _grant(book, events, allowances, granted, AllowanceKey)
            result = vector.rate_frame(events, book, allowances)
            lap("rate")
            rated = result.filter(pl.col("status") == "rated")
            counts["rated"] += rated.height
            counts["accepted"] += rated.height
            counts["rejected"] += result.height - rated.height
            total = rated.get_column("amount").sum()
            amount += Decimal(total) if total is not None else Decimal(0)
            for (period,), frame in rated.partition_by("period_start", as_dict=True).items():
                folder = out / f"period={period:%Y-%m-%d}"
                folder.mkdir(parents=True, exist_ok=True)
                frame.write_parquet(folder / f"part-{part:05d}.parquet")
            lap("write")
    seconds = time.perf_counter() - started
    assert counts["read"] == counts["accepted"] + counts["duplicates"] + counts["rejected"]
    return {**counts, "amount_eur": str(amount), "seconds": round(seconds, 3),
            "stages_s": {k: round(v, 3) for k, v in stages.items()},
            "records_per_s": round(counts["read"] / seconds), "peak_rss_mb": peak_rss_mb()}


def _grant(book: Any, events: Any, allowances: Any, granted: set[Any], key_type: Any) -> None:
    """The allowance grants of the buckets this chunk touches (what the service's counters
    hold: included units per product and period), once per bucket."""
    import polars as pl

    for offering_id, prices in book.prices.items():
        for price in prices:
            if price.included <= 0:
                continue
            holders = events.filter(pl.col("price_version") == offering_id).select(
                "product_id", "period_start").unique()
            for product_id, period_start in holders.iter_rows():
                marker = (product_id, price.price_id, period_start)
                if marker not in granted:
                    granted.add(marker)
                    allowances.granted[key_type("product", product_id, price.price_id,
                                                period_start)] = price.included


def phase_database(url: str, csv: Path) -> dict[str, Any]:
    from openbss.usage import batch
    from openbss.usage.mapping import load_mapping

    started = time.perf_counter()
    summary = batch.import_file(csv, mapping=load_mapping("generic"), source=SOURCE,
                                tenant=TENANT, url=url)
    seconds = time.perf_counter() - started
    data = summary.to_json()
    return {**{k: data[k] for k in ("read", "accepted", "duplicates", "rejected", "rated")},
            "amount_eur": data["amounts"].get("EUR", "0"), "seconds": round(seconds, 3),
            "records_per_s": round(summary.read / seconds), "peak_rss_mb": peak_rss_mb()}


def run_phase(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"phase {args[1]} failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- main ----------------------------------------------------------------------------------

def _pg_database(server_url: str) -> tuple[str, Any]:
    import sqlalchemy as sa

    name = f"openbss_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from openbss.core.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return str(sa.make_url(server_url).set(database=name)), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--prefixes", type=int, default=2_000)
    parser.add_argument("--smoke", action="store_true", help="N = 20,000 (CI)")
    parser.add_argument("--postgres", action="store_true",
                        help="the PostgreSQL server of OPENBSS_DATABASE_URL")
    parser.add_argument("--database-url", help="a PostgreSQL server URL")
    parser.add_argument("--sqlite-database", action="store_true",
                        help="also run the database phase on SQLite")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = {"floor": lambda: phase_floor(Path(args.csv)),
                  "parquet": lambda: phase_parquet(args.url, Path(args.csv), Path(args.out)),
                  "database": lambda: phase_database(args.url, Path(args.csv))}[args.phase]()
        print(json.dumps(result))
        return
    if args.smoke:
        args.n = 20_000
    server = args.database_url or (os.environ.get("OPENBSS_DATABASE_URL")
                                   if args.postgres else None)
    work = Path(tempfile.mkdtemp(prefix="openbss-bench-rating-"))
    drop = None
    try:
        if server:
            url, drop = _pg_database(server)
        else:
            url = f"sqlite:///{work / 'bench.db'}"
        os.environ["OPENBSS_DATABASE_URL"] = url
        made = setup(url, work, args.subscribers, args.accounts, args.prefixes)
        csv = work / "cdrs.csv"
        started = time.perf_counter()
        write_cdrs(csv, args.n, args.subscribers, args.prefixes)
        generated = time.perf_counter() - started
        floor = run_phase(["--phase", "floor", "--csv", str(csv)])
        parquet = run_phase(["--phase", "parquet", "--url", url, "--csv", str(csv),
                             "--out", str(work / "rated")])
        database = None
        if server or args.sqlite_database or args.smoke:
            database = run_phase(["--phase", "database", "--url", url, "--csv", str(csv)])
        ratio = round(parquet["seconds"] / floor["seconds"], 2)
        targets = {
            "parquet_records_per_s >= 1000000": parquet["records_per_s"] >= 1_000_000,
            "parquet within 3x floor": ratio <= 3,
            "peak_rss_mb < 2048": max(p["peak_rss_mb"] for p in (parquet, database)
                                      if p) < 2048,
        }
        if server and database:
            targets["postgresql_records_per_s >= 300000"] = \
                database["records_per_s"] >= 300_000
        print(json.dumps({
            "benchmark": "bench_rating", "n": args.n, "subscribers": args.subscribers,
            "prefixes": args.prefixes, "database": "postgresql" if server else "sqlite",
            "csv_mb": round(csv.stat().st_size / 2**20, 1),
            "setup_subscribers_s": made["subscribers_seconds"],
            "generate_s": round(generated, 2), "floor": floor, "parquet": parquet,
            "ratio_to_floor": ratio, "database_import": database, "machine": machine(),
            "targets": targets}))
    finally:
        if drop is not None:
            drop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
