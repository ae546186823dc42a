"""TMF635 usage through HTTP: one record at a time (accepted, rejected, duplicate),
the rendered usage against the swagger, filters, corrections and deletion, the usage
specifications, and the tenant boundary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from usage_helpers import MERGE, MSISDN, SWAGGER, T0, USAGE, _ok, call, line


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def test_a_call_is_guided_rated_and_rendered_as_tmf635(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox, included_minutes=None)
    usage = _ok(client.post(USAGE, json=call("c-1"), headers=sandbox.headers("billing_ops")))
    tmf_schema(SWAGGER, "Usage", usage)
    assert usage["status"] == "rated", usage.get("rejectReason")
    assert usage["usageDate"] == "2026-01-10T09:30:00Z" and usage["usageType"] == "voice"
    parties = {p["role"]: p for p in usage["relatedParty"]}
    assert parties["billingAccount"]["id"] == setup["account"]["id"]
    assert parties["customer"]["id"] == setup["person"]["id"]
    assert parties["customer"]["@referredType"] == "Individual"
    [rated] = usage["ratedProductUsage"]
    assert rated["productRef"]["id"] == setup["product"]["id"]
    assert rated["usageRatingTag"] == "usage" and rated["isBilled"] is False
    # 130 s at 0.10 EUR per minute, at full precision (not rounded to cents)
    amount = Decimal(str(rated["taxExcludedRatingAmount"]["value"]))
    assert round(amount, 12) == Decimal("0.216666666667")
    assert rated["taxExcludedRatingAmount"]["unit"] == "EUR"
    assert rated["billingPeriod"] == {"startDateTime": "2026-01-01T00:00:00Z",
                                      "endDateTime": "2026-02-01T00:00:00Z"}
    got = _ok(client.get(f"{USAGE}/{usage['id']}", headers=sandbox.headers("read_only")), 200)
    assert got == usage


def test_included_minutes_are_consumed_first_and_a_crossing_call_is_split(  # type: ignore[no-untyped-def]
        client, sandbox, tmf_schema):
    line(client, sandbox, included_minutes=2)
    first = _ok(client.post(USAGE, json=call("a", duration=90), headers=sandbox.headers()))
    [rated] = first["ratedProductUsage"]
    assert rated["usageRatingTag"] == "included usage"
    assert Decimal(str(rated["taxExcludedRatingAmount"]["value"])) == 0
    assert Decimal(str(rated["allowanceConsumed"]["amount"])) == 90
    second = _ok(client.post(USAGE, json=call("b", duration=60,
                                               date="2026-01-10T09:40:00Z"),
                             headers=sandbox.headers()))
    tmf_schema(SWAGGER, "Usage", second)
    [rated] = second["ratedProductUsage"]
    # 30 of the 120 included seconds were left: 30 s included, 30 s charged at 0.10/min
    assert rated["usageRatingTag"] == "non included usage"
    assert Decimal(str(rated["allowanceConsumed"]["amount"])) == 30
    assert Decimal(str(rated["chargedQuantity"]["amount"])) == 30
    assert Decimal(str(rated["taxExcludedRatingAmount"]["value"])) == Decimal("0.05")
    # the allowance is used up: a call beyond it is still "non included usage"
    third = _ok(client.post(USAGE, json=call("c", duration=60,
                                              date="2026-01-10T09:50:00Z"),
                            headers=sandbox.headers()))
    [rated] = third["ratedProductUsage"]
    assert rated["usageRatingTag"] == "non included usage"
    assert Decimal(str(rated["allowanceConsumed"]["amount"])) == 0


def test_rejected_records_are_stored_with_their_reason_and_answer_201(client, sandbox,  # type: ignore[no-untyped-def]
                                                                      tmf_schema):
    line(client, sandbox)
    cases = {
        "unknown_identifier": call("u1", msisdn="+4915199999999"),
        "malformed": {**call("u2"), "usageDate": "yesterday"},
        "invalid_quantity": call("u3", duration=-5),
    }
    for reason, body in cases.items():
        usage = _ok(client.post(USAGE, json=body, headers=sandbox.headers()))
        tmf_schema(SWAGGER, "Usage", usage)
        assert usage["status"] == "rejected"
        assert usage["rejectReason"]["code"] == reason, usage["rejectReason"]
        assert usage["rejectReason"]["message"]
        assert "ratedProductUsage" not in usage
    malformed = _ok(client.get(f"{USAGE}?status=rejected&rejectReason.code=malformed",
                               headers=sandbox.headers("read_only")), 200)
    assert len(malformed) == 1 and "usageDate" not in malformed[0]  # not a date: not shown
    chars = {c["name"]: c["value"] for c in malformed[0]["usageCharacteristic"]}
    assert chars["recordId"] == "u2"


def test_a_duplicate_answers_200_with_the_record_received_first(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    first = client.post(USAGE, json=call("dup-1"), headers=sandbox.headers())
    assert first.status_code == 201 and "X-Duplicate" not in first.headers
    again = client.post(USAGE, json=call("dup-1", duration=999), headers=sandbox.headers())
    assert again.status_code == 200, again.text
    assert again.headers["X-Duplicate"] == "true"
    assert again.json() == first.json()
    assert again.headers["Content-Location"] == first.json()["href"]
    # another source with the same record id is another record
    other = client.post(USAGE, json=call("dup-1", source="switch-2"), headers=sandbox.headers())
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    page = client.get(f"{USAGE}?source=api", headers=sandbox.headers())
    assert page.headers["X-Total-Count"] == "1"


def test_a_body_that_is_not_a_usage_is_a_422_naming_the_field(client, sandbox):  # type: ignore[no-untyped-def]
    bad = {
        "colour": {**call("x"), "colour": "red"},
        "usageCharacteristic": {**call("x"), "usageCharacteristic": "msisdn"},
        "usageCharacteristic[0]": {**call("x"), "usageCharacteristic": [
            {"name": "msisdn"}]},
        "usageDate": {**call("x"), "usageDate": 20260110},
        "status": {**call("x"), "status": "rated"},
        "ratedProductUsage": {**call("x"), "ratedProductUsage": []},
        "usageCharacteristic[source]": call("x", source="no spaces allowed"),
        "usageSpecification.id": {**call("x"), "usageSpecification": {"id": "nope"}},
    }
    for field, body in bad.items():
        r = client.post(USAGE, json=body, headers=sandbox.headers())
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"] == field, (field, r.json())
    assert client.get(USAGE, headers=sandbox.headers()).json() == []  # nothing stored
    r = client.post(USAGE, json=[call("x")], headers=sandbox.headers())
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_filters_by_status_date_type_and_related_party(client, sandbox):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox)
    for i, date in enumerate(("2026-01-10T09:10:00Z", "2026-01-10T09:20:00Z",
                              "2026-01-10T09:30:00Z")):
        _ok(client.post(USAGE, json=call(f"f{i}", date=date), headers=sandbox.headers()))
    _ok(client.post(USAGE, json=call("f-unknown", msisdn="+4915199999999"),
                    headers=sandbox.headers()))
    h = sandbox.headers("read_only")

    def ids(query: str) -> list[str]:
        r = client.get(f"{USAGE}?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [c["value"] for u in r.json() for c in u["usageCharacteristic"]
                if c["name"] == "recordId"]

    assert ids("status=rated") == ["f0", "f1", "f2"]
    assert ids("status=rejected") == ["f-unknown"]
    assert ids("usageDate.gte=2026-01-10T09:20:00Z&usageDate.lt=2026-01-10T09:30:00Z") == ["f1"]
    assert ids(f"relatedParty.id={setup['account']['id']}") == ["f0", "f1", "f2"]
    assert ids(f"relatedParty.id={setup['person']['id']}") == ["f0", "f1", "f2"]
    assert ids("usageType=data") == []
    assert ids("status=rated&limit=1&offset=1") == ["f1"]
    page = client.get(f"{USAGE}?status=rated&fields=status", headers=h).json()
    assert set(page[0]) == {"id", "href", "@type", "status"}
    for query, field in (("colour=red", "colour"), ("usageDate.gte=yesterday", "usageDate"),
                         ("relatedParty.id.gt=x", "relatedParty.id")):
        r = client.get(f"{USAGE}?{query}", headers=h)
        assert r.status_code in (400, 422) and r.json()["field"] == field, r.text


def test_a_rejected_record_is_corrected_by_patch_and_rated(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    usage = _ok(client.post(USAGE, json=call("p1", msisdn="+4915199999999"),
                            headers=sandbox.headers()))
    assert usage["rejectReason"]["code"] == "unknown_identifier"
    fixed = [c if c["name"] != "msisdn" else {"name": "msisdn", "value": MSISDN}
             for c in usage["usageCharacteristic"]]
    r = client.patch(f"{USAGE}/{usage['id']}", json={"usageCharacteristic": fixed,
                                                       "description": "number corrected"},
                     headers=sandbox.headers(**MERGE))
    patched = _ok(r, 200)
    tmf_schema(SWAGGER, "Usage", patched)
    assert patched["status"] == "rated" and "rejectReason" not in patched
    assert patched["description"] == "number corrected"
    assert patched["ratedProductUsage"][0]["usageRatingTag"] == "included usage"
    # a rated record is not corrected but re-rated; the other attributes never change
    r = client.patch(f"{USAGE}/{usage['id']}", json={"description": "again"},
                     headers=sandbox.headers(**MERGE))
    assert r.status_code == 409 and r.json()["code"] == "usage_not_editable", r.text
    r = client.patch(f"{USAGE}/{usage['id']}", json={"status": "billed"},
                     headers=sandbox.headers(**MERGE))
    assert r.status_code == 422 and r.json()["field"] == "status"


def test_delete_only_while_not_rated(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    rated = _ok(client.post(USAGE, json=call("d1"), headers=sandbox.headers()))
    rejected = _ok(client.post(USAGE, json=call("d2", msisdn="+4915199999999"),
                               headers=sandbox.headers()))
    r = client.delete(f"{USAGE}/{rated['id']}", headers=sandbox.headers())
    assert r.status_code == 409 and r.json()["code"] == "usage_not_deletable"
    assert client.delete(f"{USAGE}/{rejected['id']}",
                         headers=sandbox.headers("sales_agent")).status_code == 403
    assert client.delete(f"{USAGE}/{rejected['id']}", headers=sandbox.headers()).status_code \
        == 204
    assert client.get(f"{USAGE}/{rejected['id']}", headers=sandbox.headers()).status_code \
        == 404
    # the dedup key went with it: the record may be sent again
    again = client.post(USAGE, json=call("d2"), headers=sandbox.headers())
    assert again.status_code == 201 and again.json()["status"] == "rated"


def test_another_tenants_usage_is_not_found(client, sandbox, other_tenant):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    usage = _ok(client.post(USAGE, json=call("iso"), headers=sandbox.headers()))
    for method in ("get", "delete"):
        r = getattr(client, method)(f"{USAGE}/{usage['id']}", headers=other_tenant.headers())
        assert r.status_code == 404
    assert client.get(USAGE, headers=other_tenant.headers()).json() == []
    # the same record in the other tenant is its own (and unknown there)
    r = client.post(USAGE, json=call("iso"), headers=other_tenant.headers())
    assert r.status_code == 201 and r.json()["rejectReason"]["code"] == "unknown_identifier"


def test_the_weakest_roles(client, sandbox):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    for role in ("partner", "catalog_manager"):
        assert client.get(USAGE, headers=sandbox.headers(role)).status_code == 403
        assert client.post(USAGE, json=call("r"), headers=sandbox.headers(role)).status_code \
            == 403
    assert client.get(USAGE, headers=sandbox.headers("read_only")).status_code == 200
    assert client.post(USAGE, json=call("r"),
                       headers=sandbox.headers("read_only")).status_code == 403
    assert client.post(USAGE, json=call("r"),
                       headers=sandbox.headers("billing_ops")).status_code == 201


def test_period_closed_and_suspended_products(client, sandbox):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox)
    r = client.patch("/api/v1/settings/usage", json={
        "closedThrough": "2026-01-10T09:15:00Z"}, headers=sandbox.headers(**MERGE))
    assert r.status_code == 200, r.text
    old = _ok(client.post(USAGE, json=call("c-old", date="2026-01-10T09:10:00Z"),
                          headers=sandbox.headers()))
    assert old["rejectReason"]["code"] == "period_closed"
    r = client.patch(f"/tmf-api/productInventory/v4/product/{setup['product']['id']}",
                     json={"status": "suspended"}, headers=sandbox.headers(**MERGE))
    assert r.status_code == 200, r.text
    late = _ok(client.post(USAGE, json=call("c-late", date="2026-01-10T10:00:30Z"),
                           headers=sandbox.headers()))
    assert late["rejectReason"]["code"] == "product_inactive", late["rejectReason"]
    before = _ok(client.post(USAGE, json=call("c-before", date="2026-01-10T09:30:00Z"),
                             headers=sandbox.headers()))
    assert before["status"] == "rated"  # it was active then
