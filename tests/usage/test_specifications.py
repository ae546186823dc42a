"""TMF635 usageSpecification: CRUD through HTTP, validated against the swagger; a
specification that usage refers to cannot be deleted; another tenant's is not found."""

from __future__ import annotations

import pytest
from usage_helpers import MERGE, SWAGGER, T0, USAGE, _ok, call, line

SPEC = "/tmf-api/usageManagement/v4/usageSpecification"


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


VOICE = {"name": "Voice CDR", "description": "A call from the mobile switch",
         "version": "1.0", "lifecycleStatus": "Active",
         "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
         "specCharacteristic": [{"name": "msisdn", "valueType": "string"},
                                {"name": "duration", "valueType": "integer"}]}


def test_usage_specification_crud(client, sandbox, other_tenant, tmf_schema):  # type: ignore[no-untyped-def]
    spec = _ok(client.post(SPEC, json=VOICE, headers=sandbox.headers("billing_ops")))
    tmf_schema(SWAGGER, "UsageSpecification", spec)
    assert spec["name"] == "Voice CDR" and spec["lastUpdate"] == "2026-01-10T09:00:00Z"
    assert spec["specCharacteristic"][1] == {"name": "duration", "valueType": "integer"}
    assert _ok(client.get(f"{SPEC}/{spec['id']}", headers=sandbox.headers("read_only")),
               200) == spec
    page = client.get(f"{SPEC}?name=Voice CDR", headers=sandbox.headers("read_only"))
    assert page.headers["X-Total-Count"] == "1"
    changed = _ok(client.patch(f"{SPEC}/{spec['id']}", json={"version": "1.1"},
                               headers=sandbox.headers(**MERGE)), 200)
    assert changed["version"] == "1.1" and changed["name"] == "Voice CDR"
    for body, field in (({"name": ""}, "name"), ({"colour": "red"}, "colour"),
                        ({"validFor": {"startDateTime": "2026-01-01"}},
                         "validFor.startDateTime"),
                        ({"specCharacteristic": [{"minCardinality": "x"}]},
                         "specCharacteristic[0]")):
        r = client.patch(f"{SPEC}/{spec['id']}", json=body, headers=sandbox.headers(**MERGE))
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    r = client.post(SPEC, json={"description": "no name"}, headers=sandbox.headers())
    assert r.status_code == 422 and r.json()["field"] == "name"
    assert client.get(f"{SPEC}/{spec['id']}", headers=other_tenant.headers()).status_code \
        == 404
    assert client.delete(f"{SPEC}/{spec['id']}", headers=other_tenant.headers()).status_code \
        == 404
    assert client.delete(f"{SPEC}/{spec['id']}", headers=sandbox.headers()).status_code == 204
    assert client.get(f"{SPEC}/{spec['id']}", headers=sandbox.headers()).status_code == 404


def test_usage_refers_to_a_specification_which_then_stays(client, sandbox, tmf_schema):  # type: ignore[no-untyped-def]
    line(client, sandbox)
    spec = _ok(client.post(SPEC, json=VOICE, headers=sandbox.headers()))
    usage = _ok(client.post(USAGE, json={**call("s1"), "usageSpecification": {
        "id": spec["id"], "name": "Voice CDR"}}, headers=sandbox.headers()))
    tmf_schema(SWAGGER, "Usage", usage)
    assert usage["usageSpecification"] == {"id": spec["id"], "name": "Voice CDR",
                                           "href": spec["href"]}
    found = client.get(f"{USAGE}?usageSpecification.id={spec['id']}",
                       headers=sandbox.headers()).json()
    assert [u["id"] for u in found] == [usage["id"]]
    r = client.delete(f"{SPEC}/{spec['id']}", headers=sandbox.headers())
    assert r.status_code == 409 and r.json()["code"] == "usage_specification_in_use"
