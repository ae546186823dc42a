"""usage.batch end to end: a CDR file is normalised, deduplicated, guided, rated and
stored in chunks; re-importing it changes nothing; rejects are kept and reprocessed;
the bulk path answers per record in order. read = accepted + duplicates + rejected."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from usage_helpers import T0, USAGE, _ok, line

from openbss.usage import batch
from openbss.usage.mapping import load_mapping


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


HEADER = "recordId,usageDate,usageType,msisdn,calledNumber,duration,disposition\n"


def _csv(tmp_path: Path, lines: list[str], name: str = "cdr.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{x}\n" for x in lines), encoding="utf-8")
    return path


def _import(path: Path, tenant, mapping: str = "generic", chunk_rows: int = 2,
            source: str = "sw1") -> batch.Summary:  # type: ignore[no-untyped-def]
    return batch.import_file(path, mapping=load_mapping(mapping), source=source,
                             tenant=tenant.name, chunk_rows=chunk_rows)


def _check(summary: batch.Summary) -> None:
    assert summary.read == summary.accepted + summary.duplicates + summary.rejected
    assert sum(summary.rejected_by_reason.values()) == summary.rejected


def test_a_file_is_rated_and_importing_it_again_changes_nothing(client, sandbox, tmp_path):  # type: ignore[no-untyped-def]
    line(client, sandbox, included_minutes=None)  # 0.10 EUR per minute
    path = _csv(tmp_path, [
        "a1,2026-01-10 10:30:00,voice,0151 12345678,030 1234567,130,ANSWERED",
        "a2,2026-01-10T09:40:00Z,call,+4915112345678,1002,60,ANSWERED",
        "a1,2026-01-10 10:30:00,voice,0151 12345678,030 1234567,130,ANSWERED",  # again
        "a3,2026-01-10 10:50:00,voice,+4915199999999,1002,60,ANSWERED",  # nobody's
        "a4,tomorrow,voice,+4915112345678,1002,60,ANSWERED",
        "a5,2026-01-10 10:55:00,voice,+4915112345678,1002,-3,ANSWERED",
        "a6,2026-01-10 10:56:00,voice,+4915112345678,1002,0,NO ANSWER",
    ])
    summary = _import(path, sandbox)
    _check(summary)
    data = summary.to_json()
    amounts = data.pop("amounts")
    assert data == {
        "read": 7, "accepted": 3, "duplicates": 1, "rejected": 3,
        "rejectedByReason": {"invalid_quantity": 1, "malformed": 1,
                             "unknown_identifier": 1},
        "rated": 3}
    # 130 s + 60 s + 0 s at 0.10 EUR per minute, at full precision
    assert list(amounts) == ["EUR"]
    assert Decimal(amounts["EUR"]).quantize(Decimal("1e-12")) == Decimal("0.316666666667")
    again = _import(path, sandbox, chunk_rows=100)
    assert again.to_json() == {"read": 7, "accepted": 0, "duplicates": 7, "rejected": 0,
                               "rejectedByReason": {}, "rated": 0, "amounts": {}}
    listed = _ok(client.get(f"{USAGE}?status=rated", headers=sandbox.headers()), 200)
    assert len(listed) == 3
    by_id = {u["usageCharacteristic"][0]["value"]: u for u in listed}
    assert set(by_id) == {"a1", "a2", "a6"}
    [rated] = by_id["a1"]["ratedProductUsage"]
    # 10:30 in the source's zone (UTC by default) is 10:30Z
    assert by_id["a1"]["usageDate"] == "2026-01-10T10:30:00Z"
    assert Decimal(str(rated["ratedAmount"]["value"])).quantize(Decimal("1e-9")) == \
        Decimal("0.216666667")


def test_rejects_are_stored_and_reprocessed_once_the_product_exists(client, sandbox,  # type: ignore[no-untyped-def]
                                                                     tmp_path):
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work

    path = _csv(tmp_path, ["r1,2026-01-10T10:00:00Z,voice,+4915112345678,1002,60,x",
                           "r2,2026-01-10T10:00:00Z,voice,+4915112345678,1002,abc,x"])
    first = _import(path, sandbox)
    assert first.rejected_by_reason == {"unknown_identifier": 1, "invalid_quantity": 1}
    # the product is ordered with a start before the usage (the line starts at T0)
    line(client, sandbox, included_minutes=None)
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, sandbox.name))
        again = batch.reprocess(ctx, reason="unknown_identifier")
    assert (again.read, again.rated, again.rejected) == (1, 1, 0)
    assert Decimal(again.to_json()["amounts"]["EUR"]) == Decimal("0.1")
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, sandbox.name))
        rest = batch.reprocess(ctx)
    assert rest.rejected_by_reason == {"invalid_quantity": 1}
    listed = _ok(client.get(f"{USAGE}?status=rated", headers=sandbox.headers()), 200)
    assert [u["status"] for u in listed] == ["rated"]


def test_ingest_rows_answers_in_order_in_the_callers_transaction(client, sandbox):  # type: ignore[no-untyped-def]
    from openbss.core.auth import tenant_by_name
    from openbss.core.context import system_context
    from openbss.core.db import unit_of_work

    line(client, sandbox, included_minutes=1)
    rows = [
        {"usageDate": "2026-01-10T10:00:00Z", "usageType": "voice",
         "usageCharacteristic": [{"name": "recordId", "value": "b1"},
                                 {"name": "msisdn", "value": "+4915112345678"},
                                 {"name": "duration", "value": 90}]},
        {"recordId": "b2", "usageDate": "2026-01-10T10:05:00Z", "usageType": "voice",
         "msisdn": "+4915112345678", "duration": "60"},
        {"recordId": "b1", "usageDate": "2026-01-10T10:00:00Z", "usageType": "voice",
         "msisdn": "+4915112345678", "duration": "90"},
        "{not json",
        {"recordId": "b3", "usageType": "voice", "msisdn": "+4915112345678"},
    ]
    with unit_of_work() as session:
        ctx = system_context(session, tenant_by_name(session, sandbox.name))
        results = batch.ingest_rows(ctx, rows)
    assert [(r.index, r.status, r.reason) for r in results] == [
        (0, "accepted", None), (1, "accepted", None), (2, "duplicate", None),
        (3, "rejected", "malformed"), (4, "rejected", "malformed")]
    assert results[2].id == results[0].id
    first = _ok(client.get(f"{USAGE}/{results[0].id}", headers=sandbox.headers()), 200)
    second = _ok(client.get(f"{USAGE}/{results[1].id}", headers=sandbox.headers()), 200)
    # 60 of the 90 s fall in the one included minute; b2 is charged fully
    assert Decimal(str(first["ratedProductUsage"][0]["allowanceConsumed"]["amount"])) == 60
    assert Decimal(str(second["ratedProductUsage"][0]["ratedAmount"]["value"])) == \
        Decimal("0.1")
    # the TMF document given is the stored body: its characteristics render back
    names = {c["name"] for c in first["usageCharacteristic"]}
    assert {"recordId", "msisdn", "duration"} <= names


def test_asterisk_master_csv(client, make_tenant, tmp_path):  # type: ignore[no-untyped-def]
    tenant = make_tenant(sandbox=True, clock_start=T0, region="US")
    sample = Path(__file__).resolve().parents[2] / "specs/cdr/asterisk/" \
        "Master.sample.csv"
    summary = _import(sample, tenant, mapping="asterisk", source="pbx")
    _check(summary)
    # three calls of accounts acct-1001/acct-1002 that no product holds (yet)
    assert (summary.read, summary.rejected_by_reason) == (3, {"unknown_identifier": 3})


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["x1", "x2", "x3", "x4", "x5"]),
                          st.sampled_from(["2026-01-10T10:00:00Z", "bad", "2025-12-31"]),
                          st.sampled_from(["+4915112345678", "+4915199999999", ""]),
                          st.sampled_from(["60", "-1", "0"])), min_size=1, max_size=12),
       st.integers(1, 5))
def test_read_is_accepted_plus_duplicates_plus_rejected(make_tenant, tmp_path_factory,  # type: ignore[no-untyped-def]
                                                        rows, chunk):
    tenant = make_tenant(sandbox=True, clock_start=T0, region="DE")
    path = _csv(tmp_path_factory.mktemp("cdr"),
                [f"{r},{d},voice,{m},1002,{q},x" for r, d, m, q in rows])
    for _ in range(2):
        summary = _import(path, tenant, chunk_rows=chunk)
        _check(summary)
        assert summary.read == len(rows)
