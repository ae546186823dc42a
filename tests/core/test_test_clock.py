"""Sandbox tenants run on a test clock that an admin advances through the API."""

from __future__ import annotations

from datetime import UTC, datetime


def test_sandbox_clock_starts_where_asked_and_advances(client, make_tenant):
    sandbox = make_tenant(sandbox=True, clock_start=datetime(2026, 1, 31, 10, tzinfo=UTC))
    h = sandbox.headers()
    assert client.get("/api/v1/testClock", headers=h).json()["now"] == "2026-01-31T10:00:00Z"
    r = client.post("/api/v1/testClock/advance", json={"months": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["now"] == "2026-02-28T10:00:00Z"  # end-of-month clamps
    r = client.post("/api/v1/testClock/advance", json={"days": 1, "hours": 2}, headers=h)
    assert r.json()["now"] == "2026-03-01T12:00:00Z"
    r = client.post("/api/v1/testClock/advance", json={"to": "2026-06-01T00:00:00+02:00"},
                    headers=h)
    assert r.json()["now"] == "2026-05-31T22:00:00Z"
    # the clock is what the tenant's business actions see: audit rows carry it
    audit = client.get("/api/v1/audit?resourceType=testClock&sort=-seq&limit=1",
                       headers=h).json()[0]
    assert audit["time"] == "2026-05-31T22:00:00Z"


def test_clock_never_goes_back_and_needs_an_amount(client, make_tenant):
    sandbox = make_tenant(sandbox=True, clock_start=datetime(2026, 5, 1, tzinfo=UTC))
    h = sandbox.headers()
    r = client.post("/api/v1/testClock/advance", json={"to": "2026-04-01T00:00:00Z"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "to"
    r = client.post("/api/v1/testClock/advance", json={}, headers=h)
    assert r.status_code == 400
    r = client.post("/api/v1/testClock/advance", json={"to": "2026-06-01T00:00:00"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "to"
    r = client.post("/api/v1/testClock/advance", json={"days": -1}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "days"


def test_production_tenants_use_real_time(client, tenant):
    view = client.get("/api/v1/testClock", headers=tenant.headers()).json()
    assert view["sandbox"] is False
    now = datetime.fromisoformat(view["now"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - now).total_seconds()) < 60
    r = client.post("/api/v1/testClock/advance", json={"days": 1}, headers=tenant.headers())
    assert r.status_code == 409


def test_clock_stays_before_year_9000(client, make_tenant):
    # due dates, bill cycles and notice periods are computed from the clock: year 9999
    # would overflow them
    sandbox = make_tenant(sandbox=True, clock_start=datetime(8999, 11, 1, tzinfo=UTC))
    h = sandbox.headers()
    for body, field in (({"to": "9999-12-31T23:59:59Z"}, "to"), ({"months": 1200}, "months"),
                        ({"months": 2}, "months"), ({"days": 36600}, "days")):
        r = client.post("/api/v1/testClock/advance", json=body, headers=h)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    r = client.post("/api/v1/testClock/advance", json={"months": 1}, headers=h)
    assert r.status_code == 200 and r.json()["now"] == "8999-12-01T00:00:00Z", r.text
