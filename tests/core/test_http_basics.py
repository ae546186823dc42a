"""Operations endpoints, TMF630 conventions and error bodies, through HTTP."""

from __future__ import annotations

import re

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
    page = client.get("/api/v1/audit?offset=2&limit=2&sort=seq", headers=h)
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
    ranged = client.get("/api/v1/audit?seq.gte=2&seq.lt=4&sort=seq", headers=h).json()
    assert [r["seq"] for r in ranged] == [2, 3]
    either = client.get("/api/v1/audit?seq=1,3&sort=seq", headers=h).json()
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


# --- the request path: credentials before the body, caches, exact JSON fast path -------

MIB = 1024 * 1024


def _asgi_post(app, path: str, headers: dict[str, str], chunks: int,
               chunk: int = MIB) -> tuple[int, int, float, dict]:
    """POST ``chunks`` × ``chunk`` bytes straight into the ASGI app with a receive() that
    counts what the app pulled; returns (status, bytes read, seconds, error body)."""
    import asyncio
    import json
    import time

    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= chunks * chunk:
            return {"type": "http.disconnect"}
        pulled += chunk
        return {"type": "http.request", "body": b"x" * chunk,
                "more_body": pulled < chunks * chunk}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    started = time.perf_counter()
    asyncio.run(app(scope, receive, send))
    elapsed = time.perf_counter() - started
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], pulled, elapsed, json.loads(body)


def test_a_20_mib_post_without_valid_credentials_is_refused_before_its_body_is_read(
        app, tenant):
    size = str(20 * MIB)
    for auth in ({}, {"Authorization": "Bearer obss_nosuchkey_" + "x" * 40},
                 {"Authorization": "Basic Zm9vOmJhcg=="}):
        status, pulled, elapsed, body = _asgi_post(
            app, "/tmf-api/event/v4/hub",
            {"Content-Type": "application/json", "Content-Length": size, **auth}, 20)
        assert status == 401, body
        assert body["code"] == "unauthenticated"
        assert pulled == 0  # not a byte of the body was read, let alone buffered
        assert elapsed < 2
    # the same body with valid credentials is read (and refused as too large: 20 MiB is
    # the limit, this is one byte more) ...
    status, pulled, _, body = _asgi_post(
        app, "/tmf-api/event/v4/hub",
        {**tenant.headers(), "Content-Type": "application/json",
         "Content-Length": str(20 * MIB + 1)}, 21)
    assert status == 413 and body["field"] == "body"
    assert pulled == 0  # ... before reading, since its declared length says so
    # without a Content-Length (chunked), reading stops just past the limit
    status, pulled, _, body = _asgi_post(
        app, "/tmf-api/event/v4/hub", {**tenant.headers(), "Content-Type": "application/json"},
        40)
    assert status == 413
    assert pulled == 21 * MIB


def test_credentials_are_cached_for_the_documented_bound_and_revocation_is_immediate(
        client, tenant, monkeypatch):
    from sqlalchemy import select, text, update

    from openbss.core import auth
    from openbss.core.config import get_settings
    from openbss.core.context import system_context
    from openbss.core.db import get_engine, unit_of_work
    from openbss.core.models import ApiKey, Tenant
    from openbss.core.service import revoke_api_key

    monkeypatch.setattr(get_settings(), "auth_cache_seconds", 0.5)
    path = "/tmf-api/productCatalogManagement/v4/productOffering"
    # 1. A change made by another process (plain SQL: no ORM events here) is honoured
    # within OPENBSS_AUTH_CACHE_SECONDS — and not before: the cache answers meanwhile.
    headers = tenant.headers("read_only")
    assert client.get(path, headers=headers).status_code == 200
    assert auth.cached_principal(headers["Authorization"]) is not None
    prefix = tenant.keys["read_only"].split("_")[1]
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE api_key SET revoked_at = created_at WHERE prefix = :p"),
                     {"p": prefix})
    assert client.get(path, headers=headers).status_code == 200  # served from the cache
    import time

    time.sleep(0.6)
    assert_error(client.get(path, headers=headers), 401)
    assert_error(client.get(path, headers=headers), 401)  # failures are not cached
    # 2. A revocation through the service, in this process, stops the key at once.
    headers = tenant.headers("catalog_manager")
    assert client.get(path, headers=headers).status_code == 200
    with unit_of_work() as session:
        ctx = system_context(session, session.get(Tenant, tenant.id), actor="test")
        revoke_api_key(ctx, key_id=tenant.keys["catalog_manager"].split("_")[1])
    assert_error(client.get(path, headers=headers), 401)
    # 3. A role change (here a bulk UPDATE through the ORM) counts at once too.
    headers = tenant.headers("auditor")
    assert client.get("/api/v1/audit", headers=headers).status_code == 200
    with unit_of_work() as session:
        session.execute(update(ApiKey).where(
            ApiKey.prefix == tenant.keys["auditor"].split("_")[1]).values(role="read_only"))
    assert_error(client.get("/api/v1/audit", headers=headers), 403)
    with unit_of_work() as session:
        assert session.scalar(select(ApiKey.role).where(
            ApiKey.prefix == tenant.keys["auditor"].split("_")[1])) == "read_only"


def test_the_tenant_cache_serves_production_tenants_and_forgets_changes(tenant, make_tenant):
    from sqlalchemy import event

    from openbss.core.context import cached_tenant, forget_tenant, load_tenant, system_context
    from openbss.core.db import get_engine, unit_of_work
    from openbss.core.models import Tenant
    from openbss.core.resources import record_change

    forget_tenant()
    queries: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        queries.append(statement)

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        with unit_of_work() as session:
            assert cached_tenant(session, tenant.id) is None  # a miss
            assert load_tenant(session, tenant.id).name == tenant.name
        with unit_of_work() as session:
            queries.clear()
            cached = cached_tenant(session, tenant.id)
            assert cached is not None and cached.name == tenant.name and not queries
            # an audit append (the chain head changes) keeps the entry, and reads the
            # head under the row lock, never from the cache
            ctx = system_context(session, cached, actor="test")
            record_change(ctx, api="event", resource_name="probe", resource_id="p1",
                          change="create", before=None, after={"a": 1},
                          event_resource={"id": "p1"})
            assert any("tenant" in q.lower() for q in queries)
        with unit_of_work() as session:
            assert cached_tenant(session, tenant.id) is not None
            session.get(Tenant, tenant.id).default_region = "DE"
        with unit_of_work() as session:
            assert cached_tenant(session, tenant.id) is None  # changed: forgotten
            assert load_tenant(session, tenant.id).default_region == "DE"
        with unit_of_work() as session:
            assert cached_tenant(session, tenant.id).default_region == "DE"
        sandbox = make_tenant(sandbox=True)
        with unit_of_work() as session:
            load_tenant(session, sandbox.id)
            assert cached_tenant(session, sandbox.id) is None  # test clocks are always read
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    with unit_of_work() as session:
        from openbss.core.audit import verify

        assert verify(session, tenant.name)[1] == []


def test_exact_json_fast_path_writes_what_the_exact_encoder_writes():
    from datetime import UTC, date, datetime
    from decimal import Decimal
    from enum import StrEnum

    from openbss.core import jsonx

    class Kind(StrEnum):
        A = "a"

    docs = [
        {"price": {"value": Decimal("10.00"), "unit": "EUR"}, "n": [Decimal("1E+3"),
         Decimal("-0.000001"), 1, 2.5, True, None], "t": datetime(2026, 1, 1, tzinfo=UTC),
         "d": date(2026, 1, 2), "k": Kind.A, "s": "é\"\\\x00\u2028", "empty": {}},
        [Decimal("123456789012345678901234567890.123456789")] * 3,
        {"no numbers": ["x"]},
        {"big": 2**70, 3: Decimal("1.5")},  # beyond orjson: written by the exact encoder
    ]
    for doc in docs:
        parts: list[str] = []
        jsonx._encode(doc, parts)
        assert jsonx.dumps(doc) == "".join(parts)
        assert jsonx.loads(jsonx.dumps(doc)) == jsonx.loads("".join(parts))
    import pytest

    with pytest.raises(ValueError):
        jsonx.dumps({"v": Decimal("NaN")})


def test_bad_filter_values_are_400_never_500(client, tenant):
    h = tenant.headers("auditor")
    for query, field in [("actor=a%00b", "actor"), ("seq=99999999999999999999", "seq"),
                         ("time.gt=yesterday", "time")]:
        assert_error(client.get(f"/api/v1/audit?{query}", headers=h), 400, field)


def _operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_openapi_has_security_schemes_for_the_authorize_button(client):
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    for path, method, operation in _operations(spec):
        protected = path.startswith(("/tmf-api/", "/api/"))
        assert bool(operation.get("security")) == protected, (method, path)


#: Operations with a second success answer (the first is the main one): a TMF635 usage
#: sent again answers 200 with the record received first; a PUT of a tariff answers 201
#: when it created it.
TWO_SUCCESSES = {("post", "/tmf-api/usageManagement/v4/usage"): ("201", "200"),
                 ("put", "/api/v1/rating/tariffs/{name}"): ("200", "201")}


def test_openapi_documents_every_success_and_error_response(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"code", "reason", "status"} <= set(schemas["Error"]["required"])
    count = 0
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        if (method, path) in TWO_SUCCESSES:
            assert set(success) == set(TWO_SUCCESSES[method, path]), (method, path, success)
            success = [TWO_SUCCESSES[method, path][0]]
        assert len(success) == 1, (method, path, success)
        count += 1
        if success[0] != "204":
            content = responses[success[0]]["content"]
            assert any(media.get("schema") for media in content.values()) or \
                path.endswith("/content"), (method, path)
        codes = {"400", "404", "409", "415", "422"}
        if path.startswith(("/tmf-api/", "/api/")):
            codes |= {"401", "403"}
        assert codes <= set(responses), (method, path, codes - set(responses))
        if path != "/oauth/token":
            assert responses["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}
    assert count >= 85
    offering = spec["paths"]["/tmf-api/productCatalogManagement/v4/productOffering"]
    assert offering["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/TMF620.ProductOffering"}}
    assert "TMF620.ProductOffering" in schemas and "TMF632.Individual" in schemas


def test_openapi_lists_document_their_parameters_and_filters(client, tenant):
    spec = client.get("/openapi.json").json()
    lists = [(p, o) for p, m, o in _operations(spec)
             if m == "get" and any(q["name"] == "limit" for q in o.get("parameters", []))]
    assert len(lists) >= 15
    for path, operation in lists:
        names = {q["name"] for q in operation["parameters"] if q["in"] == "query"}
        assert {"offset", "limit", "fields", "sort"} <= names, path
        if "{" in path:
            continue
        # what the route itself says it filters on is all documented
        r = client.get(path + "?noSuchAttribute=1", headers=tenant.headers())
        assert r.status_code == 400, (path, r.text)
        allowed = r.json()["message"].split("filterable attributes: ")[-1].split(", ")
        assert set(allowed) <= names, (path, set(allowed) - names)


def test_openapi_patch_bodies_are_merge_patches(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    patches = [(p, o) for p, m, o in _operations(spec) if m == "patch"]
    assert len(patches) >= 10
    for path, operation in patches:
        content = operation["requestBody"]["content"]
        ref = content["application/merge-patch+json"]["schema"]["$ref"]
        assert ref.endswith(".MergePatch"), path
        schema = schemas[ref.rsplit("/", 1)[-1]]
        assert schema["properties"] and "required" not in schema, path


def test_docs_and_redoc_load_their_assets_locally(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert "cdn.jsdelivr.net" not in html.text and "unpkg.com" not in html.text
        assert "fonts.googleapis.com" not in html.text
        assets = re.findall(r'(?:src|href)="(/docs-static/[^"]+)"', html.text)
        assert assets, html.text
        for asset in assets:
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000, asset
    assert client.get("/docs/oauth2-redirect").status_code == 200
