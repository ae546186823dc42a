"""Operations endpoints, TMF630 conventions and error bodies, through HTTP."""

from __future__ import annotations

ERROR_KEYS = {"code", "reason", "message", "status", "referenceError"}


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert ERROR_KEYS <= body.keys()
    assert body["status"] == str(status)
    if field is not None:
        assert body.get("field") == field, body
    return body


def test_health_ready_metrics_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    client.get("/health")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "openbss_http_requests_total" in metrics.text
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "openbss"
    assert "/api/v1/audit" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_request_id_echoed(client):
    response = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health").headers["x-request-id"]) == 32


def test_unknown_route_and_method_are_tmf_errors(client, tenant):
    assert_error(client.get("/nope"), 404)
    assert_error(client.put("/api/v1/audit", headers=tenant.headers()), 405)


def test_malformed_json_is_400_naming_body(client, tenant):
    response = client.post(
        "/tmf-api/event/v4/hub",
        content=b'{"callback": ',
        headers=tenant.headers(**{"Content-Type": "application/json"}),
    )
    body = assert_error(response, 400, "body")
    assert body["code"] == "malformed_json"


def test_unknown_field_wrong_type_and_too_long_name_the_field(client, tenant):
    url = "/tmf-api/event/v4/hub"
    r = client.post(url, json={"callback": "http://127.0.0.1:1/x", "colour": "red"},
                    headers=tenant.headers())
    assert_error(r, 422, "colour")
    r = client.post(url, json={"callback": 12}, headers=tenant.headers())
    assert_error(r, 422, "callback")
    r = client.post(url, json={"callback": "http://127.0.0.1:1/x", "query": "x" * 2001},
                    headers=tenant.headers())
    assert_error(r, 422, "query")
    r = client.post(url, json={"callback": "http://127.0.0.1:1/x", "query": "novalue"},
                    headers=tenant.headers())
    assert_error(r, 422, "query")
    r = client.post(url, json=["not", "an", "object"], headers=tenant.headers())
    assert r.status_code == 422


def test_bad_paging_values_are_400_naming_the_parameter(client, tenant):
    h = tenant.headers("auditor")
    for query, field in [("limit=abc", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"),
                         ("limit=1000000", "limit"), ("sort=nope", "sort"),
                         ("colour=red", "colour"), ("seq.gt=x", "seq")]:
        assert_error(client.get(f"/api/v1/audit?{query}", headers=h), 400, field)


def test_paging_fields_filters_and_counts(client, tenant):
    # Each listener registration writes one audit row: make a handful.
    for i in range(5):
        client.post("/tmf-api/event/v4/hub", json={"callback": f"http://127.0.0.1:1/{i}"},
                    headers=tenant.headers()).raise_for_status()
    h = tenant.headers("auditor")
    everything = client.get("/api/v1/audit", headers=h)
    total = int(everything.headers["X-Total-Count"])
    assert total == len(everything.json()) >= 6
    page = client.get("/api/v1/audit?offset=2&limit=2", headers=h)
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == str(total)
    assert page.headers["X-Result-Count"] == "2"
    assert [row["seq"] for row in page.json()] == [3, 4]
    projected = client.get("/api/v1/audit?fields=action&limit=1", headers=h).json()[0]
    assert set(projected) == {"id", "action"}
    hubs = client.get("/api/v1/audit?resourceType=hub", headers=h).json()
    assert len(hubs) == 5 and all(r["resourceType"] == "hub" for r in hubs)
    newest = client.get("/api/v1/audit?sort=-seq&limit=1", headers=h).json()[0]
    assert newest["seq"] == total
    ranged = client.get("/api/v1/audit?seq.gte=2&seq.lt=4", headers=h).json()
    assert [r["seq"] for r in ranged] == [2, 3]
    either = client.get("/api/v1/audit?seq=1,3", headers=h).json()
    assert [r["seq"] for r in either] == [1, 3]


def test_no_token_is_401_whatever_the_body(client):
    for body in (b"{", b'{"callback": 12}', b"[]"):
        r = client.post("/tmf-api/event/v4/hub", content=body,
                        headers={"Content-Type": "application/json"})
        assert_error(r, 401)
    assert_error(client.get("/api/v1/nope"), 401)  # unknown routes do not leak either


def test_openapi_documents_every_json_body_without_dangling_refs(client, app):
    import re

    spec = client.get("/openapi.json").json()
    names = set(spec["components"]["schemas"])
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', client.get("/openapi.json").text))
    assert refs <= names, refs - names
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in ("post", "patch") and not path.endswith(("/retry", "/anonymize",
                                                                    "/token", "/version")):
                assert "requestBody" in operation, f"{method.upper()} {path} has no body schema"
