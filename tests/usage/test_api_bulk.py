"""``POST /api/v1/usage/bulk`` (a JSON array or NDJSON of TMF635 usages), the rejects
list and their reprocessing, through HTTP."""

from __future__ import annotations

import json

import pytest
from usage_helpers import MSISDN, T0, USAGE, _ok, call, line

BULK = "/api/v1/usage/bulk"
REJECTS = "/api/v1/usage/rejects"
NDJSON = {"Content-Type": "application/x-ndjson"}
OTHER = "+4915199999999"


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def test_a_json_array_answers_one_result_per_record_in_order(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    body = [call("b1"), call("b2", duration="2m10s"), call("b1"),
            call("b3", msisdn=OTHER), {**call("b4"), "colour": "red"}, ["not", "a", "usage"]]
    answer = _ok(client.post(BULK, json=body, headers=sandbox.headers("billing_ops")), 200)
    results = answer["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == ["accepted", "accepted", "duplicate", "rejected",
                                              "rejected", "rejected"]
    assert results[2]["id"] == results[0]["id"]  # the copy received first
    assert results[3]["reason"] == "unknown_identifier" and OTHER in results[3]["message"]
    assert results[4]["reason"] == "malformed" and "colour" in results[4]["message"]
    assert results[5]["reason"] == "malformed"
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 1, 3)
    assert answer["accepted"] + answer["duplicates"] + answer["rejected"] == len(body)
    stored = _ok(client.get(f"{USAGE}/{results[1]['id']}", headers=sandbox.headers()), 200)
    assert stored["status"] == "rated"
    assert stored["ratedProductUsage"][0]["ratedQuantity"]["amount"] == 130
    # everything sent again: all duplicates (rejects too: they are stored)
    again = _ok(client.post(BULK, json=body, headers=sandbox.headers()), 200)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 6
    assert [r["id"] for r in again["results"]] == [r["id"] for r in results]
    # nothing was dropped: every record is stored once
    total = client.get(USAGE, headers=sandbox.headers()).headers["X-Total-Count"]
    assert total == "5"


def test_ndjson_a_malformed_line_rejects_that_record_only(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    lines = [json.dumps(call("n1")), "", "{not json", json.dumps(call("n2")), "42", "\n"]
    answer = _ok(client.post(BULK, content="\n".join(lines).encode(),
                             headers=sandbox.headers(**NDJSON)), 200)
    assert [(r["index"], r["status"]) for r in answer["results"]] == [
        (0, "accepted"), (1, "rejected"), (2, "accepted"), (3, "rejected")]
    assert answer["results"][1]["reason"] == "malformed"
    assert "not JSON" in answer["results"][1]["message"]
    rejects = _ok(client.get(f"{REJECTS}?reason=malformed", headers=sandbox.headers()), 200)
    assert len(rejects) == 2 and {r["reason"] for r in rejects} == {"malformed"}


def test_the_source_parameter_and_the_bad_requests(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    answer = _ok(client.post(f"{BULK}?source=switch-1", json=[call("s1")],
                             headers=sandbox.headers()), 200)
    found = client.get(f"{USAGE}?source=switch-1", headers=sandbox.headers()).json()
    assert [u["id"] for u in found] == [answer["results"][0]["id"]]
    h = sandbox.headers()
    cases = [
        (client.post(f"{BULK}?source=bad name", json=[call("x")], headers=h), 422, "source"),
        (client.post(BULK, json={"usage": []}, headers=h), 422, "body"),
        (client.post(BULK, content=b"[{", headers=sandbox.headers(
            **{"Content-Type": "application/json"})), 400, "body"),
        (client.post(BULK, content=b"a,b\n", headers=sandbox.headers(
            **{"Content-Type": "text/csv"})), 415, "Content-Type"),
        (client.post(BULK, json=[{}] * 10_001, headers=h), 413, "body"),
        (client.post(BULK, content=b"{}\n" * 10_001, headers=sandbox.headers(**NDJSON)),
         413, "body"),
    ]
    for response, status, field in cases:
        assert response.status_code == status, response.text
        assert response.json()["field"] == field
        assert "10000" in response.text or status != 413
    assert client.post(BULK, json=[call("x")],
                       headers=sandbox.headers("read_only")).status_code == 403
    assert client.get(USAGE, headers=h).headers["X-Total-Count"] == "1"  # nothing stored


def test_rejects_are_listed_and_reprocessed_after_the_product_was_ordered(  # type: ignore[no-untyped-def]
        client, sandbox):
    line(client, sandbox)
    body = [call("r1", msisdn=OTHER), call("r2", msisdn=OTHER, date="2026-01-10T09:40:00Z"),
            call("r3", duration="forever")]
    _ok(client.post(BULK, json=body, headers=sandbox.headers()), 200)
    h = sandbox.headers("read_only")
    unknown = _ok(client.get(f"{REJECTS}?reason=unknown_identifier", headers=h), 200)
    assert [r["recordId"] for r in unknown] == ["r1", "r2"]
    assert unknown[0]["record"]["msisdn"] == OTHER and unknown[0]["source"] == "api"
    assert unknown[0]["usageDate"] == "2026-01-10T09:30:00Z"
    page = client.get(f"{REJECTS}?limit=1", headers=h)
    assert page.headers["X-Total-Count"] == "3" and len(page.json()) == 1
    r = client.get(f"{REJECTS}?reason=bogus", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "reason"
    r = client.post(f"{REJECTS}/reprocess", json={"reason": "bogus"}, headers=sandbox.headers())
    assert r.status_code == 422 and r.json()["field"] == "reason"
    assert client.post(f"{REJECTS}/reprocess", json={}, headers=h).status_code == 403

    # nothing changed yet: reprocessing finds them rejected again
    summary = _ok(client.post(f"{REJECTS}/reprocess", json={"reason": "unknown_identifier"},
                              headers=sandbox.headers()), 200)
    assert (summary["read"], summary["accepted"], summary["rejected"]) == (2, 0, 2)
    assert summary["rejectedByReason"] == {"unknown_identifier": 2}
    # the number's product is ordered (in force from 09:00: it was brought over)
    _ok(client.post("/tmf-api/productInventory/v4/product", headers=sandbox.headers(), json={
        "name": "Mobile M line", "status": "active", "startDate": "2026-01-10T09:00:00Z",
        "billingAccount": {"id": _account_of(client, sandbox)},
        "productOffering": {"id": _offering_of(client, sandbox)},
        "productCharacteristic": [{"name": "MSISDN", "value": OTHER}]}))
    summary = _ok(client.post(f"{REJECTS}/reprocess", json={"reason": "unknown_identifier"},
                              headers=sandbox.headers()), 200)
    assert (summary["accepted"], summary["rejected"], summary["rated"]) == (2, 0, 2)
    assert set(summary["amounts"]) == {"EUR"}
    left = _ok(client.get(REJECTS, headers=h), 200)
    assert [r["reason"] for r in left] == ["invalid_quantity"]
    rated = client.get(f"{USAGE}?status=rated", headers=h).json()
    assert {c["value"] for u in rated for c in u["usageCharacteristic"]
            if c["name"] == "recordId"} == {"r1", "r2"}


def _account_of(client, tenant) -> str:  # type: ignore[no-untyped-def]
    return client.get("/tmf-api/accountManagement/v4/billingAccount",  # type: ignore[no-any-return]
                      headers=tenant.headers()).json()[0]["id"]


def _offering_of(client, tenant) -> str:  # type: ignore[no-untyped-def]
    return client.get("/tmf-api/productCatalogManagement/v4/productOffering",  # type: ignore[no-any-return]
                      headers=tenant.headers()).json()[0]["id"]


def test_a_usage_sent_alone_and_in_bulk_is_one_record(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    single = _ok(client.post(USAGE, json=call("one"), headers=sandbox.headers()))
    answer = _ok(client.post(BULK, json=[call("one")], headers=sandbox.headers()), 200)
    assert answer["results"][0] == {"index": 0, "status": "duplicate", "id": single["id"]}
    assert MSISDN in {c["value"] for c in single["usageCharacteristic"]}


def test_bulk_and_single_records_are_stored_and_rendered_alike(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox, included_minutes=None)
    single = _ok(client.post(USAGE, json=call("alike-1"), headers=sandbox.headers()))
    answer = _ok(client.post(BULK, json=[call("alike-2")], headers=sandbox.headers()), 200)
    bulk = _ok(client.get(f"{USAGE}/{answer['results'][0]['id']}",
                          headers=sandbox.headers()), 200)
    tmf_schema("TMF635-UsageManagement-v4.0.0.swagger.json", "Usage", bulk)
    assert bulk["relatedParty"] == single["relatedParty"]
    assert [p["@referredType"] for p in bulk["relatedParty"]] == ["BillingAccount",
                                                                  "Individual"]
    keep = ("usageRatingTag", "taxExcludedRatingAmount", "productRef", "billingPeriod",
            "ratedQuantity", "allowanceConsumed")
    assert [{k: r[k] for k in keep} for r in bulk["ratedProductUsage"]] == \
        [{k: r[k] for k in keep} for r in single["ratedProductUsage"]]
    by_customer = client.get(f"{USAGE}?relatedParty.id={setup['person']['id']}",
                             headers=sandbox.headers()).json()
    assert {u["id"] for u in by_customer} == {single["id"], bulk["id"]}


def test_hostile_values_get_a_result_each_and_nothing_is_lost(client, sandbox):  # type: ignore[no-untyped-def]
    """NUL bytes, control characters, long and odd values in every attribute the
    pipeline stores as a column: each record answers accepted or rejected (never a
    500), and what was accepted reads back."""
    line(client, sandbox)
    body = [
        call("h\x00nul"),                                   # NUL in the record key
        call("h-long-" + "x" * 400),                        # beyond the column's 255
        call("h-ctl\r\n\t\"',;"),                           # CSV and quoting characters
        call("h-unicode-😀-ß"),
        call("h-dest", calledNumber="+49\x0030 123"),       # NUL in a number
        call("h-dur", duration="1" * 40),                   # an absurd quantity
        call("h-neg", duration=-5),
        call("h-float", duration=1.5),
        call("h-bool", duration=True),
        call("h-date", date="2026-01-10T09:30:00\x00Z"),
        {**call("h-extra"), "description": "d\x00" * 100},
        call(""),                                           # an empty key
    ]
    response = client.post(BULK, json=body, headers=sandbox.headers("billing_ops"))
    answer = _ok(response, 200)
    results = answer["results"]
    assert [r["index"] for r in results] == list(range(len(body)))
    assert all(r["status"] in ("accepted", "rejected") for r in results), results
    assert answer["accepted"] + answer["duplicates"] + answer["rejected"] == len(body)
    for r in results:
        if r["status"] == "accepted":
            stored = _ok(client.get(f"{USAGE}/{r['id']}", headers=sandbox.headers()), 200)
            assert stored["status"] == "rated"
    for index, field in ((0, "usageCharacteristic[0].value"),
                         (4, "usageCharacteristic[2].value"),
                         (9, "usageDate"), (10, "description")):
        assert results[index]["reason"] == "malformed", results[index]
        assert results[index]["message"].startswith(f"{field}: "), results[index]
        assert "NUL" in results[index]["message"]
    # the same body again: every record is a duplicate of the one stored
    again = _ok(client.post(BULK, json=body, headers=sandbox.headers()), 200)
    assert [r["status"] for r in again["results"]] == ["duplicate"] * len(body)
    assert [r["id"] for r in again["results"]] == [r["id"] for r in results]


def test_dates_at_the_ends_of_the_calendar_are_rejected_not_500(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    dates = ["9999-12-31T23:59:59Z", "9999-12-01T00:00:00Z", "0001-01-01T00:00:00+14:00",
             "0001-01-01T00:00:00Z"]
    body = [{**call(f"far{i}"), "usageDate": d} for i, d in enumerate(dates)]
    answer = _ok(client.post(BULK, json=body, headers=sandbox.headers()), 200)
    assert [(r["status"], r["reason"]) for r in answer["results"]] == [
        ("rejected", "malformed")] * len(dates)
    assert "outside the years" in answer["results"][0]["message"]
    single = _ok(client.post(USAGE, json={**call("far-one"), "usageDate": dates[0]},
                             headers=sandbox.headers()), 201)
    assert single["status"] == "rejected" and single["rejectReason"]["code"] == "malformed"
