"""``Idempotency-Key`` on POST: replay, conflicting reuse, per-tenant scope."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

HUB = "/tmf-api/event/v4/hub"


def _audit_count(client, tenant) -> int:
    r = client.get("/api/v1/audit?resourceType=hub", headers=tenant.headers("auditor"))
    return int(r.headers["X-Total-Count"])


def test_same_key_and_body_replays_without_running_twice(client, tenant):
    body = {"callback": "http://127.0.0.1:1/a", "query": "eventType=X"}
    h = tenant.headers(**{"Idempotency-Key": "order-1"})
    first = client.post(HUB, json=body, headers=h)
    second = client.post(HUB, json=body, headers=h)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _audit_count(client, tenant) == 1  # the listener was created once


def test_same_key_different_body_is_422(client, tenant):
    h = tenant.headers(**{"Idempotency-Key": "k-2"})
    assert client.post(HUB, json={"callback": "http://127.0.0.1:1/a"}, headers=h).status_code \
        == 201
    r = client.post(HUB, json={"callback": "http://127.0.0.1:1/b"}, headers=h)
    assert r.status_code == 422
    assert r.json()["code"] == "idempotency_key_reused"
    assert r.json()["field"] == "Idempotency-Key"


def test_keys_are_scoped_per_tenant(client, tenant, other_tenant):
    body = {"callback": "http://127.0.0.1:1/a"}
    a = client.post(HUB, json=body, headers=tenant.headers(**{"Idempotency-Key": "shared"}))
    b = client.post(HUB, json=body,
                    headers=other_tenant.headers(**{"Idempotency-Key": "shared"}))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_failed_request_is_not_stored(client, tenant):
    h = tenant.headers(**{"Idempotency-Key": "k-fail"})
    assert client.post(HUB, json={"callback": "nope"}, headers=h).status_code == 422
    ok = client.post(HUB, json={"callback": "http://127.0.0.1:1/ok"}, headers=h)
    assert ok.status_code == 201


def test_bad_key_is_400(client, tenant):
    r = client.post(HUB, json={"callback": "http://127.0.0.1:1/a"},
                    headers=tenant.headers(**{"Idempotency-Key": "x" * 300}))
    assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key"


def test_concurrent_retries_create_once(client, tenant):
    body = {"callback": "http://127.0.0.1:1/race"}
    h = tenant.headers(**{"Idempotency-Key": "race-1"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: client.post(HUB, json=body, headers=h), range(4)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert _audit_count(client, tenant) == 1


def test_stored_answers_expire_after_the_ttl(client, tenant):
    from datetime import UTC, datetime, timedelta

    from openbss.core.worker import purge_expired

    body = {"callback": "http://127.0.0.1:1/ttl"}
    h = tenant.headers(**{"Idempotency-Key": "ttl-1"})
    first = client.post(HUB, json=body, headers=h).json()
    assert client.post(HUB, json=body, headers=h).json() == first  # still replayed
    assert purge_expired(datetime.now(UTC) + timedelta(hours=25), tenant_id=tenant.id) == 1
    again = client.post(HUB, json=body, headers=h)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
