"""TMF688 events through the outbox, hub registration and the delivery worker,
delivered to a real HTTP listener on loopback."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from openbss.core.db import dispose_engines, unit_of_work
from openbss.core.events import SIGNATURE_HEADER, deliver_due, verify_signature
from openbss.core.models import DeliveryAttempt, EventDelivery
from openbss.core.netguard import guarded_client

HUB = "/tmf-api/event/v4/hub"


class Listener:
    """A loopback HTTP server that records deliveries and answers scripted statuses."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.pop(0) if outer.statuses else 201
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/listener"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    made: list[Listener] = []

    def factory(statuses: list[int] | None = None) -> Listener:
        made.append(Listener(statuses))
        return made[-1]

    yield factory
    for item in made:
        item.close()


def _deliver(now: datetime | None = None) -> int:
    with unit_of_work() as session, guarded_client(allow_private=True, timeout=5) as http:
        return deliver_due(session, client=http, max_attempts=3,
                           now=(lambda: now) if now else (lambda: datetime.now(UTC)))


def _deliveries(tenant_id: str) -> list[EventDelivery]:
    with unit_of_work() as session:
        return list(session.scalars(
            select(EventDelivery).where(EventDelivery.tenant_id == tenant_id)))


def test_event_is_delivered_signed_with_the_tmf688_envelope(client, make_tenant, listener,
                                                            tmf_schema):
    sandbox = make_tenant(sandbox=True, clock_start=datetime(2026, 3, 1, tzinfo=UTC))
    peer = listener()
    r = client.post(HUB, json={"callback": peer.url, "query": "eventType=TestClockAdvanceEvent"},
                    headers=sandbox.headers())
    assert r.status_code == 201
    hub = r.json()
    assert set(hub) >= {"id", "callback", "query", "secret"}
    tmf_schema("TMF688-EventManagement-v4.0.0.swagger.json", "EventSubscription", hub)
    client.post("/api/v1/testClock/advance", json={"days": 1},
                headers=sandbox.headers()).raise_for_status()
    assert _deliver() >= 1
    headers, body = peer.received[-1]
    assert verify_signature(hub["secret"], headers[SIGNATURE_HEADER.lower()], body)
    assert not verify_signature("wrong-secret-wrong-secret", headers[SIGNATURE_HEADER.lower()],
                                body)
    envelope = json.loads(body)
    tmf_schema("TMF688-EventManagement-v4.0.0.swagger.json", "Event", envelope)
    assert {"eventId", "eventTime", "eventType", "correlationId", "event"} <= envelope.keys()
    assert envelope["eventType"] == "TestClockAdvanceEvent"
    assert envelope["eventTime"] == "2026-03-02T00:00:00Z"
    assert envelope["event"]["testClock"]["now"] == "2026-03-02T00:00:00Z"
    [delivery] = _deliveries(sandbox.id)
    assert delivery.status == "delivered" and delivery.attempts == 1


def test_query_filters_events_and_delete_stops_delivery(client, make_tenant, listener):
    sandbox = make_tenant(sandbox=True)
    peer = listener()
    h = sandbox.headers()
    client.post(HUB, json={"callback": peer.url, "query": "eventType=SomethingElse"}, headers=h)
    kept = client.post(HUB, json={"callback": peer.url}, headers=h).json()
    assert client.delete(f"{HUB}/{kept['id']}", headers=h).status_code == 204
    assert client.delete(f"{HUB}/{kept['id']}", headers=h).status_code == 404
    client.post("/api/v1/testClock/advance", json={"days": 1}, headers=h).raise_for_status()
    _deliver()
    assert peer.received == []
    assert _deliveries(sandbox.id) == []


def test_failures_are_retried_with_backoff_and_recorded(client, make_tenant, listener):
    sandbox = make_tenant(sandbox=True)
    peer = listener(statuses=[500, 503])
    h = sandbox.headers()
    client.post(HUB, json={"callback": peer.url}, headers=h).raise_for_status()
    client.post("/api/v1/testClock/advance", json={"days": 1}, headers=h).raise_for_status()
    start = datetime.now(UTC)
    _deliver(start)
    [d] = _deliveries(sandbox.id)
    assert d.status == "pending" and d.attempts == 1
    assert d.next_attempt_at == start + timedelta(seconds=5)
    assert "500" in (d.last_error or "")
    _deliver(start + timedelta(seconds=1))  # not due yet
    assert _deliveries(sandbox.id)[0].attempts == 1
    _deliver(start + timedelta(seconds=6))
    [d] = _deliveries(sandbox.id)
    assert d.attempts == 2 and d.next_attempt_at == start + timedelta(seconds=16)
    _deliver(start + timedelta(seconds=20))
    [d] = _deliveries(sandbox.id)
    assert d.status == "delivered" and d.attempts == 3
    with unit_of_work() as session:
        attempts = list(session.scalars(select(DeliveryAttempt.status_code).where(
            DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.id)))
    assert attempts == [500, 503, 201]
    assert len(peer.received) == 3


def test_dead_after_max_attempts_and_unreachable_listener(client, make_tenant):
    sandbox = make_tenant(sandbox=True)
    h = sandbox.headers()
    client.post(HUB, json={"callback": "http://127.0.0.1:9/closed"}, headers=h)
    client.post("/api/v1/testClock/advance", json={"days": 1}, headers=h).raise_for_status()
    t = datetime.now(UTC)
    for step in range(3):
        _deliver(t + timedelta(hours=step))
    [d] = _deliveries(sandbox.id)
    assert d.status == "dead" and d.attempts == 3
    assert d.last_error == "could not connect to the listener"  # no OS error text


def test_events_survive_a_restart_and_the_worker_thread_delivers(client, make_tenant,
                                                                   listener, monkeypatch):
    sandbox = make_tenant(sandbox=True)
    peer = listener()
    h = sandbox.headers()
    client.post(HUB, json={"callback": peer.url}, headers=h).raise_for_status()
    client.post("/api/v1/testClock/advance", json={"days": 2}, headers=h).raise_for_status()
    dispose_engines()  # "restart": all connections and in-memory state are gone
    from openbss.core import worker
    from openbss.core.config import get_settings

    monkeypatch.setattr(get_settings(), "worker_poll_seconds", 0.05)
    thread, stop = worker.start_in_thread()
    try:
        deadline = time.monotonic() + 10
        while not peer.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert len(peer.received) == 1
    assert _deliveries(sandbox.id)[0].status == "delivered"


def test_hub_is_tenant_scoped(client, tenant, other_tenant):
    hub = client.post(HUB, json={"callback": "http://127.0.0.1:1/x"},
                      headers=tenant.headers()).json()
    assert client.delete(f"{HUB}/{hub['id']}", headers=other_tenant.headers()).status_code == 404
    assert client.delete(f"{HUB}/{hub['id']}", headers=tenant.headers()).status_code == 204


def test_dead_deliveries_are_listed_inspected_and_retried(client, make_tenant, listener):
    sandbox = make_tenant(sandbox=True)
    h = sandbox.headers()
    peer = listener(statuses=[500, 500, 500])
    client.post(HUB, json={"callback": peer.url}, headers=h).raise_for_status()
    client.post("/api/v1/testClock/advance", json={"days": 1}, headers=h).raise_for_status()
    t = datetime.now(UTC)
    for step in range(3):
        _deliver(t + timedelta(hours=step))
    dead = client.get("/api/v1/eventDeliveries?status=dead",
                      headers=sandbox.headers("auditor"))
    assert dead.status_code == 200 and dead.headers["X-Total-Count"] == "1"
    [row] = dead.json()
    assert row["eventType"] == "TestClockAdvanceEvent" and row["attempts"] == 3
    detail = client.get(f"/api/v1/eventDeliveries/{row['id']}",
                        headers=sandbox.headers("auditor")).json()
    assert [a["httpStatus"] for a in detail["attempt"]] == [500, 500, 500]
    assert client.post(f"/api/v1/eventDeliveries/{row['id']}/retry",
                       headers=sandbox.headers("auditor")).status_code == 403
    retried = client.post(f"/api/v1/eventDeliveries/{row['id']}/retry",
                          headers=sandbox.headers("billing_ops"))
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    _deliver(t + timedelta(hours=5))  # the listener answers 201 now
    done = client.get(f"/api/v1/eventDeliveries/{row['id']}", headers=h).json()
    assert done["status"] == "delivered" and len(done["attempt"]) == 4
    again = client.post(f"/api/v1/eventDeliveries/{row['id']}/retry", headers=h)
    assert again.status_code == 409
