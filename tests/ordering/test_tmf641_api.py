"""The provisioning settings group, the listener registration on the OSS's hub and the
notification endpoint the OSS calls (authenticated by the tenant's callback secret)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from openbss.core.db import unit_of_work
from openbss.ordering.models import FulfilmentStep
from ordering.fake_oss import FakeOss

SETTINGS = "/api/v1/settings/provisioning"
LISTENER = "/api/v1/provisioning/tmf641/listener"
PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def oss() -> Iterator[FakeOss]:
    fake = FakeOss().start()
    yield fake
    fake.stop()


def use_tmf641(client, tenant, oss: FakeOss) -> None:
    r = client.patch(SETTINGS, json={"adapter": "tmf641", "baseUrl": oss.base_url,
                                     "callbackBaseUrl": "https://bss.example"},
                     headers=tenant.headers(**PATCH))
    assert r.status_code == 200, r.text


def register(client, tenant, oss: FakeOss) -> str:
    """Register and return the callback path the OSS was given."""
    use_tmf641(client, tenant, oss)
    r = client.post(LISTENER, headers=tenant.headers())
    assert r.status_code == 201, r.text
    hub = oss.hubs[r.json()["id"]]
    url = urlsplit(hub["callback"])
    assert url.scheme == "https" and url.netloc == "bss.example"
    return url.path


def add_step(tenant_id: str, external_ref: str, *, state: str = "running") -> str:
    with unit_of_work() as session:
        step = FulfilmentStep(
            tenant_id=tenant_id, order_id="ord-x", item_id="1", kind="provision",
            state=state, waits_for=[], attempts=1, external_id="ord-x-0-provision",
            external_ref=external_ref, external_state="acknowledged",
            due_at=datetime.now(UTC) + timedelta(hours=1))
        session.add(step)
        session.flush()
        return step.id


def step(step_id: str) -> FulfilmentStep:
    with unit_of_work() as session:
        row = session.get(FulfilmentStep, step_id)
        assert row is not None
        session.expunge(row)
        return row


def event(order_id: str, state: str = "completed") -> dict:
    return {"eventId": "e1", "eventType": "ServiceOrderStateChangeEvent",
            "event": {"serviceOrder": {"id": order_id, "state": state}}}


# -- settings -------------------------------------------------------------------------

def test_settings_default_to_the_immediate_adapter(client, tenant):
    r = client.get(SETTINGS, headers=tenant.headers("auditor"))
    assert r.status_code == 200
    assert r.json() == {"adapter": "immediate", "baseUrl": None, "timeoutSeconds": 5.0,
                        "maxAttempts": 8, "pollSeconds": 5.0, "callbackBaseUrl": None}


def test_tmf641_without_base_url_is_422_naming_base_url(client, tenant):
    r = client.patch(SETTINGS, json={"adapter": "tmf641"}, headers=tenant.headers(**PATCH))
    assert r.status_code == 422
    assert r.json()["field"] == "baseUrl"
    assert client.get(SETTINGS, headers=tenant.headers()).json()["adapter"] == "immediate"


@pytest.mark.parametrize(("patch", "field"), [
    ({"adapter": "tmf999"}, "adapter"),
    ({"baseUrl": "ftp://oss"}, "baseUrl"),
    # found by the fuzz test: a control character in the host was stored, and registering
    # on the OSS's hub then answered 500 (httpx cannot send it)
    ({"baseUrl": "http://oss\x17example/tmf"}, "baseUrl"),
    ({"baseUrl": "http://user:pw@oss.example/tmf"}, "baseUrl"),
    ({"baseUrl": "http:///tmf"}, "baseUrl"),
    ({"callbackBaseUrl": "https://bss\u0007.example"}, "callbackBaseUrl"),
    ({"timeoutSeconds": 0}, "timeoutSeconds"),
    ({"timeoutSeconds": "fast"}, "timeoutSeconds"),
    ({"maxAttempts": 0}, "maxAttempts"),
    ({"pollSeconds": -1}, "pollSeconds"),
    ({"callbackBaseUrl": "not a url"}, "callbackBaseUrl"),
    ({"secret": "x"}, "secret"),
])
def test_bad_settings_are_422_naming_the_field(client, tenant, patch, field):
    r = client.patch(SETTINGS, json=patch, headers=tenant.headers(**PATCH))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_settings_are_per_tenant_and_need_the_settings_role(client, tenant, other_tenant,
                                                            oss):
    use_tmf641(client, tenant, oss)
    assert client.get(SETTINGS, headers=tenant.headers()).json()["baseUrl"] == oss.base_url
    assert client.get(SETTINGS, headers=other_tenant.headers()).json()["adapter"] == \
        "immediate"
    r = client.patch(SETTINGS, json={"adapter": "immediate"},
                     headers=tenant.headers("read_only", **PATCH))
    assert r.status_code == 403


# -- the listener ---------------------------------------------------------------------

def test_registering_needs_the_tmf641_adapter(client, tenant):
    r = client.post(LISTENER, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "adapter"


def test_registering_an_unreachable_oss_is_503(client, tenant):
    down = FakeOss()  # nothing listens there
    use_tmf641(client, tenant, down)
    r = client.post(LISTENER, headers=tenant.headers())
    assert r.status_code == 503 and r.json()["code"] == "oss_unavailable"


def test_registering_puts_a_secret_callback_on_the_oss_hub(client, tenant, oss):
    path = register(client, tenant, oss)
    assert path.startswith(f"/callbacks/tmf641/{tenant.id}/")
    secret = path.rsplit("/", 1)[1]
    assert len(secret) >= 40
    shown = client.get(LISTENER, headers=tenant.headers("auditor")).json()
    assert shown["id"] in oss.hubs and shown["baseUrl"] == oss.base_url
    assert secret not in str(shown)
    # re-registering rotates the secret and removes the old listener
    again = register(client, tenant, oss)
    assert again != path and list(oss.hubs) == [
        client.get(LISTENER, headers=tenant.headers()).json()["id"]]
    assert client.post(path, json=event("x")).status_code == 401


def test_the_listener_needs_the_settings_role(client, tenant, oss):
    use_tmf641(client, tenant, oss)
    assert client.post(LISTENER, headers=tenant.headers("sales_agent")).status_code == 403
    assert oss.hubs == {}


# -- notifications ----------------------------------------------------------------------

def test_a_notification_records_the_state_and_makes_the_step_due(client, tenant, oss):
    path = register(client, tenant, oss)
    step_id = add_step(tenant.id, "so-1")
    before = datetime.now(UTC)
    r = client.post(path, json=event("so-1", "completed"))
    assert r.status_code == 204, r.text
    row = step(step_id)
    assert row.external_state == "completed"
    assert row.due_at is not None and before - timedelta(seconds=1) <= row.due_at.replace(
        tzinfo=row.due_at.tzinfo or UTC) <= datetime.now(UTC) + timedelta(seconds=1)
    assert row.state == "running"  # the worker's poll decides; the event only wakes it


def test_notifications_are_refused_without_the_secret(client, tenant, oss):
    path = register(client, tenant, oss)
    step_id = add_step(tenant.id, "so-2")
    base = path.rsplit("/", 1)[0]
    for url in (base + "/wrong-secret", base + "/" + "x" * 43,
                f"/callbacks/tmf641/no-such-tenant/{path.rsplit('/')[-1]}"):
        r = client.post(url, json=event("so-2"))
        assert r.status_code == 401, (url, r.text)
    assert step(step_id).external_state == "acknowledged"


def test_a_tenant_without_a_listener_accepts_no_notification(client, tenant):
    step_id = add_step(tenant.id, "so-3")
    r = client.post(f"/callbacks/tmf641/{tenant.id}/anything",
                    json=event("so-3"))
    assert r.status_code == 401
    assert step(step_id).external_state == "acknowledged"


def test_another_tenants_step_is_untouched(client, tenant, other_tenant, oss):
    path = register(client, tenant, oss)
    other_path = register(client, other_tenant, oss)
    mine, theirs = add_step(tenant.id, "so-shared"), add_step(other_tenant.id, "so-shared")
    assert client.post(path, json=event("so-shared", "failed")).status_code == 204
    assert step(mine).external_state == "failed"
    assert step(theirs).external_state == "acknowledged"
    # a tenant's secret does not open another tenant's endpoint
    swapped = path.rsplit("/", 1)[0] + "/" + other_path.rsplit("/", 1)[1]
    assert client.post(swapped, json=event("so-shared", "completed")).status_code == 401
    assert step(mine).external_state == "failed"
    # and an order only another tenant has is not found for this one
    only_theirs = add_step(other_tenant.id, "so-theirs")
    r = client.post(path, json=event("so-theirs"))
    assert r.status_code == 404 and r.json()["field"] == "event.serviceOrder.id"
    assert step(only_theirs).external_state == "acknowledged"


def test_final_steps_are_left_alone(client, tenant, oss):
    path = register(client, tenant, oss)
    done = add_step(tenant.id, "so-4", state="done")
    assert client.post(path, json=event("so-4", "failed")).status_code == 204
    assert step(done).external_state == "acknowledged"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "event.serviceOrder"),
    ({"event": {"serviceOrder": {"id": "so-5", "state": "done"}}}, "event.serviceOrder.state"),
    ({"event": {"serviceOrder": {"id": 5, "state": "completed"}}}, "event.serviceOrder.id"),
    ({"event": {"serviceOrder": {"id": "x" * 201, "state": "completed"}}},
     "event.serviceOrder.id"),
    ([], "body"),
])
def test_bad_notifications_are_422_naming_the_field(client, tenant, oss, body, field):
    path = register(client, tenant, oss)
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_garbage_is_4xx(client, tenant, oss):
    path = register(client, tenant, oss)
    for raw in (b"", b"{", b"null", b'"x"', b"123"):
        r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (raw, r.text)
