"""Bad input never answers 500: the kernel's one body rule (Content-Type, JSON depth,
number bounds), integer filters beyond 64 bits, free-form fields and sub-objects checked
against their TMF types, and errors that name the first problem they found."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError

from openbss.core import jsonx
from openbss.core.error_handlers import conflict_target, order_errors

C = "/tmf-api/productCatalogManagement/v4"
PARTY = "/tmf-api/partyManagement/v4"
CUSTOMER = "/tmf-api/customerManagement/v4/customer"
ACCOUNTS = "/tmf-api/accountManagement/v4"
JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
DEEP = "[" * 1000 + "]" * 1000


def error(response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["@type"] == "Error" and body["status"] == str(status), body
    assert body.get("field") == field, body
    return body


def person(client, tenant) -> str:
    r = client.post(f"{PARTY}/individual", json={"givenName": "Ada", "familyName": "L"},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# -- JSON depth and numbers, on every kind of route ------------------------------------------

@pytest.mark.parametrize("path", [
    f"{C}/productOffering", f"{C}/importJob", f"{PARTY}/individual", CUSTOMER,
    f"{ACCOUNTS}/billingAccount", "/tmf-api/event/v4/hub", "/api/v1/pricing/preview",
    "/api/v1/testClock/advance",
])
def test_deep_nesting_is_400_naming_body_on_every_kind_of_route(client, tenant, path):
    r = client.post(path, content=DEEP, headers=tenant.headers(**JSON))
    body = error(r, 400, "body")
    assert "nesting" in body["message"]
    nested = '{"name": ' + '{"a": ' * 100 + "1" + "}" * 100 + "}"
    error(client.post(path, content=nested, headers=tenant.headers(**JSON)), 400, "body")


def test_deep_nesting_in_a_patch_is_400(client, tenant):
    pid = person(client, tenant)
    r = client.patch(f"{PARTY}/individual/{pid}", content='{"x": ' + DEEP + "}",
                     headers=tenant.headers(**MERGE))
    error(r, 400, "body")


def test_malformed_json_and_nan_are_400_malformed_json(client, tenant):
    for raw in (b'{"name": ', b'{"name": NaN}', b'{"v": Infinity}', b"\xff\xfe{}"):
        r = client.post(f"{C}/category", content=raw, headers=tenant.headers(**JSON))
        assert error(r, 400, "body")["code"] == "malformed_json", raw


def test_huge_numbers_in_free_form_fields_are_422_naming_the_field(client, tenant):
    pid = person(client, tenant)
    for number, problem in (("1e5000", "1e50"), ("9" * 10_000, "digits"),
                            ("-1e-5000", "1e-50"), ("0e999999", "1e50"),
                            ("1." + "1" * 60, "digits")):
        raw = ('{"name": "x", "engagedParty": {"id": "' + pid + '", "@referredType": '
               '"Individual"}, "characteristic": [{"name": "a", "value": {"deep": ['
               + number + "]}}]}")
        r = client.post(CUSTOMER, content=raw, headers=tenant.headers(**JSON))
        body = error(r, 422, "characteristic[0].value.deep[0]")
        assert problem in body["message"], body
    # the catalog's free-form characteristic values too
    raw = ('{"name": "s", "productSpecCharacteristic": [{"name": "c", '
           '"productSpecCharacteristicValue": [{"value": 1e5000}]}]}')
    r = client.post(f"{C}/productSpecification", content=raw, headers=tenant.headers(**JSON))
    error(r, 422, "productSpecCharacteristic[0].productSpecCharacteristicValue[0].value")


def test_nul_characters_are_422_naming_the_field_on_every_kind_of_route(client, tenant):
    """PostgreSQL cannot store a NUL in text: no backend accepts one (before, PostgreSQL
    answered a 422 naming no field, and the bulk usage route a 500)."""
    cases = ((f"{C}/productOffering", '{"name": "a\\u0000b"}', "name"),
             (f"{PARTY}/individual", '{"givenName": "Ada", "familyName": "L\\u0000"}',
              "familyName"),
             (f"{PARTY}/individual", '{"givenName": "Ada", "familyName": "L", '
              '"characteristic": [{"name": "x", "value": {"k\\u0000": 1}}]}',
              "characteristic[0].value"))
    for path, raw, field in cases:
        r = client.post(path, content=raw, headers=tenant.headers(**JSON))
        body = error(r, 422, field)
        assert "NUL" in body["message"], body
    pid = person(client, tenant)
    r = client.patch(f"{PARTY}/individual/{pid}", content='{"familyName": "\\u0000"}',
                     headers=tenant.headers(**MERGE))
    error(r, 422, "familyName")
    # the six characters \u0000 (an escaped backslash) are ordinary text
    r = client.post(f"{C}/productOffering", content='{"name": "a\\\\u0000b"}',
                    headers=tenant.headers(**JSON))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "a\\u0000b"


def test_numbers_within_bounds_stay_exact(client, tenant):
    pid = person(client, tenant)
    value = "12345678901234567890.123456789012345678901234567"  # 47 digits
    raw = ('{"name": "x", "engagedParty": {"id": "' + pid + '", "@referredType": '
           '"Individual"}, "characteristic": [{"name": "a", "value": ' + value + "}]}")
    r = client.post(CUSTOMER, content=raw, headers=tenant.headers(**JSON))
    assert r.status_code == 201, r.text
    assert '"value":' + value in r.text.replace(" ", "")


def test_loads_bounded_unit():
    assert jsonx.loads_bounded('{"a": [1, 2.50, -3]}') == {"a": [1, jsonx.Decimal("2.50"), -3]}
    with pytest.raises(jsonx.TooDeepError):
        jsonx.loads_bounded("[" * (jsonx.MAX_DEPTH + 1) + "]" * (jsonx.MAX_DEPTH + 1))
    assert jsonx.loads_bounded("[" * jsonx.MAX_DEPTH + "]" * jsonx.MAX_DEPTH)
    with pytest.raises(jsonx.NumberOutOfRangeError) as exc:
        jsonx.loads_bounded('{"a": {"b": [0, 1e51]}}')
    assert exc.value.field == "a.b[1]"
    with pytest.raises(jsonx.TooDeepError):
        jsonx.check_bounds([0] * (jsonx.MAX_NODES + 1))


# -- catalog importJob: JSON and YAML content --------------------------------------------------

def _import(client, tenant, content: str, media: str = "application/yaml") -> dict:
    r = client.post(f"{C}/importJob", json={"content": content, "contentType": media},
                    headers=tenant.headers())
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "Failed", job
    return job


def test_import_job_refuses_deep_json_and_yaml(client, tenant):
    assert "nesting" in _import(client, tenant, DEEP, "application/json")["errorLog"]
    assert "nest" in _import(client, tenant, "a: " + "[" * 1000 + "]" * 1000)["errorLog"]
    nested = "format: openbss-catalog/1\nx: " + "[" * 100 + "1" + "]" * 100 + "\n"
    assert "nesting" in _import(client, tenant, nested)["errorLog"]


def test_import_job_refuses_yaml_alias_bombs(client, tenant):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    job = _import(client, tenant, "\n".join(lines) + "\n")
    assert str(jsonx.MAX_NODES) in job["errorLog"], job


def test_import_job_refuses_huge_numbers(client, tenant):
    job = _import(client, tenant, "format: openbss-catalog/1\nx: 1.0e+5000\n")
    assert job["errorLog"].startswith("x:"), job
    job = _import(client, tenant, json.dumps({"format": "openbss-catalog/1"})[:-1]
                  + ', "n": ' + "7" * 5000 + "}", "application/json")
    assert job["errorLog"].startswith("n:"), job


# -- integer filters beyond 64 bits -------------------------------------------------------------

@pytest.mark.parametrize("query, field", [
    ("/api/v1/audit?seq.gte=99999999999999999999999", "seq"),
    ("/api/v1/audit?seq=9223372036854775808", "seq"),
    ("/api/v1/audit?seq.lt=-9223372036854775809", "seq"),
    ("/api/v1/audit?seq=" + "9" * 5000, "seq"),
    ("/api/v1/eventDeliveries?attempts=99999999999999999999999", "attempts"),
    ("/api/v1/eventDeliveries?attempts.gt=1e3", "attempts"),
    (f"{C}/productOfferingPrice?price.value.gt=1e999999", "price.value"),
    (f"{C}/productOfferingPrice?price.value=" + "1" * 60, "price.value"),
])
def test_out_of_range_filters_are_400_naming_the_parameter(client, tenant, query, field):
    body = error(client.get(query, headers=tenant.headers()), 400, field)
    assert len(body["message"]) < 300


def test_integer_filters_take_what_the_column_holds(client, tenant):
    # audit seq is an INTEGER column: 32-bit on PostgreSQL, so bounded the same everywhere
    r = client.get("/api/v1/audit?seq.lte=2147483647&seq.gte=-2147483648",
                   headers=tenant.headers())
    assert r.status_code == 200, r.text
    body = error(client.get("/api/v1/audit?seq.lte=2147483648", headers=tenant.headers()),
                 400, "seq")
    assert "between -2147483648 and 2147483647" in body["message"]


# -- free-form sub-objects against their TMF types ---------------------------------------------

def test_price_type_error_shows_the_value_not_a_template(client, tenant):
    r = client.post(f"{C}/productOfferingPrice", json={"name": "x", "priceType": "weekly"},
                    headers=tenant.headers())
    body = error(r, 422, "priceType")
    assert "{" not in body["message"] and "'weekly'" in body["message"], body


def test_catalog_sub_objects_are_checked_against_tmf620(client, tenant):
    bad = [
        ("productSpecification", {"relatedParty": [{"id": "p1"}]}, "relatedParty[0]",
         "@referredType"),
        ("catalog", {"relatedParty": [{"id": "p1", "@referredType": "Individual",
                                       "@schemaLocation": "not a uri"}]},
         "relatedParty[0]", "uri"),
        ("productOffering", {"serviceLevelAgreement": {"name": "gold"}},
         "serviceLevelAgreement", "id"),
        ("productOffering", {"agreement": [{"id": 7}]}, "agreement[0]", "string"),
        ("productOffering", {"category": [{"name": "no id"}]}, "category[0].id", None),
        ("productOffering", {"@schemaLocation": "relative/path.json"}, "@schemaLocation",
         "URI"),
        ("productOfferingPrice", {"priceType": "usage", "tax": [{"taxRate": "high"}]},
         "tax[0]", "number"),
    ]
    for kind, extra, field, words in bad:
        r = client.post(f"{C}/{kind}", json={"name": "o", **extra}, headers=tenant.headers())
        body = error(r, 422, field)
        assert words is None or words in body["message"], body
    good = {"name": "o", "relatedParty": [{"id": "p1", "@referredType": "Organization",
                                           "role": "owner", "x-extension": {"kept": True}}]}
    r = client.post(f"{C}/productSpecification", json=good, headers=tenant.headers())
    assert r.status_code == 201, r.text
    assert r.json()["relatedParty"][0]["x-extension"] == {"kept": True}
    r = client.post(f"{C}/productOffering", json={
        "name": "o", "serviceLevelAgreement": {"id": "sla1", "name": "gold"}},
        headers=tenant.headers())
    assert r.status_code == 201, r.text


def test_party_sub_objects_are_typed(client, tenant):
    pid = person(client, tenant)
    for patch, field in (
        ({"creditRating": [{"validFor": "2026"}]}, "creditRating[0].validFor"),
        ({"creditRating": [{"validFor": {"startDateTime": "tomorrow"}}]},
         "creditRating[0].validFor.startDateTime"),
        ({"externalReference": [{"name": "x", "href": "not a uri"}]},
         "externalReference[0].href"),
    ):
        r = client.patch(f"{PARTY}/individual/{pid}", json=patch, headers=tenant.headers(**MERGE))
        error(r, 422, field)


# -- one Content-Type rule -----------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("POST", f"{PARTY}/individual"), ("POST", f"{C}/category"),
    ("POST", "/tmf-api/event/v4/hub"), ("POST", "/api/v1/pricing/preview"),
    ("POST", "/api/v1/testClock/advance"), ("POST", CUSTOMER),
    ("POST", "/api/v1/catalog/productOffering/x/version"),
    ("PATCH", f"{PARTY}/individual/x"), ("PATCH", f"{C}/category/x"),
])
def test_a_form_body_is_415_naming_content_type(client, tenant, method, path):
    """``curl -d`` sends application/x-www-form-urlencoded: one answer on every route."""
    for headers in ({"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "text/plain"}, {}):
        r = client.request(method, path, content=b"name=x", headers=tenant.headers(**headers))
        body = error(r, 415, "Content-Type")
        assert "application/json" in body["message"]
        if method == "PATCH":
            assert "application/merge-patch+json" in body["message"]
        if headers:
            assert headers["Content-Type"] in body["message"]
        else:
            assert "none was sent" in body["message"]


def test_json_media_types_and_bodyless_requests_pass(client, tenant):
    r = client.post(f"{C}/category", content=b'{"name": "c"}',
                    headers=tenant.headers(**{"Content-Type": "application/json; charset=utf-8"}))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for media in ("application/merge-patch+json", "application/json"):
        r = client.patch(f"{C}/category/{cid}", content=b'{"description": "d"}',
                         headers=tenant.headers(**{"Content-Type": media}))
        assert r.status_code == 200, r.text
    # POST with a JSON media type on a PATCH-only type is refused
    r = client.post(f"{C}/category", content=b'{"name": "c"}',
                    headers=tenant.headers(**MERGE))
    error(r, 415, "Content-Type")
    # no body: the route decides (here: an optional body), never 415
    r = client.post("/api/v1/catalog/productOffering/nope/version", headers=tenant.headers())
    assert r.status_code == 404, r.text
    r = client.delete(f"{C}/category/{cid}", headers=tenant.headers())
    assert r.status_code == 204, r.text


def test_oauth_token_keeps_its_form(client, tenant):
    key = tenant.keys["admin"]
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": key.split("_")[1], "client_secret": key})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer"


# -- errors name the first problem -----------------------------------------------------------------

def test_first_error_is_the_present_invalid_field_not_a_missing_one(client, tenant):
    r = client.post(f"{ACCOUNTS}/billingAccount", json={"name": "x", "currency": "EURO"},
                    headers=tenant.headers())
    body = error(r, 422, "currency")
    assert body["message"].startswith("currency:")
    fields = [d["field"] for d in body.get("details", [])]
    assert fields[0] == "currency"
    if "relatedParty" in fields:
        assert fields.index("relatedParty") > fields.index("currency")


def test_present_errors_come_in_body_order(client, tenant):
    r = client.post(f"{PARTY}/individual", json={"nationality": 5, "gender": 3,
                                                   "givenName": "A", "birthDate": "x"},
                    headers=tenant.headers())
    body = error(r, 422, "nationality")
    kinds = [d["type"] == "missing" for d in body["details"]]
    assert kinds == sorted(kinds) and kinds[-1], body["details"]  # familyName: missing, last
    fields = [d["field"].split(".")[0] for d in body["details"] if d["type"] != "missing"]
    assert fields == sorted(fields, key=["nationality", "gender", "birthDate"].index), fields
    r = client.post(f"{PARTY}/individual", json={"birthDate": "x", "nationality": 5},
                    headers=tenant.headers())
    error(r, 422, "birthDate")


def test_order_errors_unit():
    errors = [{"loc": ("relatedParty",), "type": "missing"},
              {"loc": ("b",), "type": "string_type"},
              {"loc": ("a", 1, "x"), "type": "int_type"},
              {"loc": ("a", 0), "type": "int_type"}]
    ordered = order_errors(errors, {"a": [1, {"x": 2}], "b": 3})
    assert [e["loc"] for e in ordered] == [("a", 0), ("a", 1, "x"), ("b",), ("relatedParty",)]
    assert order_errors(errors)[-1]["type"] == "missing"


def test_401_names_the_authorization_header_and_what_was_wrong(client):
    for headers, words in (({}, "missing"), ({"Authorization": "Bearer nope"}, "token"),
                           ({"Authorization": "Basic abc"}, "Bearer")):
        r = client.get("/api/v1/audit", headers=headers)
        body = error(r, 401, "Authorization")
        assert words.lower() in body["message"].lower(), body
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_409_from_the_database_names_table_and_field():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE party (id TEXT PRIMARY KEY, tenant_id TEXT, external_id TEXT, "
               "UNIQUE (tenant_id, external_id))")
    db.execute("INSERT INTO party VALUES ('1', 't', 'x')")
    with pytest.raises(sqlite3.IntegrityError) as raised:
        db.execute("INSERT INTO party VALUES ('2', 't', 'x')")
    exc = IntegrityError("INSERT", {}, raised.value)
    assert conflict_target(exc) == ("party", "externalId")

    class Diag:  # what psycopg reports for a PostgreSQL unique violation
        table_name = "catalog_job"
        column_name = None
        constraint_name = "uq_catalog_job_external_key"

    class PgError(Exception):
        diag = Diag()

    exc = IntegrityError("INSERT", {}, PgError('duplicate key value violates unique '
                                               'constraint "uq_catalog_job_external_key"'))
    assert conflict_target(exc) == ("catalog_job", "externalKey")


# -- date-times are strings with an offset, never numbers ---------------------------------------

@pytest.mark.parametrize("value", [5, 1.7e9, "1700000000", True])
def test_a_number_is_not_a_date_time(client, tenant, value):
    # (pydantic alone would read these as seconds since 1970 and bill a run in 1970)
    r = client.post("/api/v1/billRuns", json={"asOf": value, "dryRun": True},
                    headers=tenant.headers())
    body = error(r, 422, "asOf")
    assert "date-time string" in body["message"], body


def test_a_date_filter_without_offset_says_what_to_send(client, tenant):
    h = tenant.headers("auditor")
    body = error(client.get("/api/v1/audit?time.gte=2026-11-01", headers=h), 400, "time")
    assert "e.g. 2026-11-01T00:00:00Z" in body["message"], body
    body = error(client.get("/api/v1/audit?time.gte=2026-11-01T10:00", headers=h), 400, "time")
    assert "e.g. 2026-11-01T10:00Z" in body["message"], body
    assert client.get("/api/v1/audit?time.gte=2026-11-01T00:00:00Z", headers=h).status_code == 200


# -- booleans are JSON true / false ----------------------------------------------------------

@pytest.mark.parametrize("value", ["yes", "true", 1, "on", 0])
def test_a_boolean_is_true_or_false_never_a_word_or_number(client, tenant, value):
    # (pydantic alone reads "yes", "on", 1 as true)
    r = client.patch("/api/v1/settings/billing", json={"terminationDayCharged": value},
                     headers=tenant.headers(**{"Content-Type": "application/merge-patch+json"}))
    error(r, 422, "terminationDayCharged")
    r = client.post(f"{C}/productOffering", json={"name": "x", "isBundle": value},
                    headers=tenant.headers())
    error(r, 422, "isBundle")
