"""Webhooks without SSRF: callbacks are checked at registration and at every connection
the worker makes (against the address actually connected to), and delivery records do
not tell what a refused or failing target answered."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest
from sqlalchemy import select

from openbss.core import netguard
from openbss.core.config import get_settings
from openbss.core.db import unit_of_work
from openbss.core.events import SIGNATURE_HEADER, deliver_due, verify_signature
from openbss.core.models import DeliveryAttempt, EventDelivery, HubSubscription
from openbss.core.netguard import REFUSED_MESSAGE, classify, guarded_client, parse_ipv4
from webhook_peer import deliver as _deliver
from webhook_peer import deliveries as _deliveries
from webhook_peer import peer, self_signed

HUB = "/tmf-api/event/v4/hub"
PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def guard_on(monkeypatch):
    """The production default: private targets refused."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns["name.test"] = ["1.2.3.4", ...]``: answers handed out one lookup at a
    time (the last one repeats); every lookup of a fake name is counted."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(host, bytes):
            host = host.decode()
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers_obj = answers
    answers_obj["__lookups__"] = lookups  # type: ignore[assignment]
    return answers_obj




def _event(client, sandbox) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/testClock/advance", json={"days": 1},
                headers=sandbox.headers()).raise_for_status()


# --- the pure parts ---------------------------------------------------------------------

@pytest.mark.parametrize(("spelling", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("0x7F000001", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"), ("10.1", "10.0.0.1"), ("169.254.43518", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"), ("8.8.8.8", "8.8.8.8"),
])
def test_ipv4_spellings_are_read_as_inet_aton_reads_them(spelling, address):
    assert parse_ipv4(spelling) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "256.1.1.1", "08", "0x7f_1",
                                  "1.16777216", "", "1..1", "+1", " 1"])
def test_names_and_impossible_numbers_are_not_ipv4(host):
    assert parse_ipv4(host) is None


@pytest.mark.parametrize(("address", "kind"), [
    ("8.8.8.8", "public"), ("2606:4700::1111", "public"), ("::ffff:8.8.8.8", "public"),
    ("127.0.0.1", "private"), ("::1", "private"), ("10.0.0.1", "private"),
    ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("100.64.0.1", "private"),
    ("fd00::1", "private"), ("::ffff:127.0.0.1", "private"), ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::", "private"),  # 6to4 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "forbidden"),  # NAT64 of 169.254.169.254
    ("169.254.169.254", "forbidden"), ("fe80::1", "forbidden"), ("0.0.0.0", "forbidden"),
    ("0.1.2.3", "forbidden"), ("::", "forbidden"), ("224.0.0.1", "forbidden"),
    ("ff02::1", "forbidden"), ("255.255.255.255", "forbidden"), ("240.0.0.1", "forbidden"),
    ("192.0.2.1", "forbidden"), ("2001:db8::1", "forbidden"),
    ("::ffff:169.254.169.254", "forbidden"),
])
def test_address_classes(address, kind):
    assert classify(ipaddress.ip_address(address)) == kind


# --- registration -----------------------------------------------------------------------

@pytest.mark.parametrize("callback", [
    "http://127.0.0.1:9000/l", "http://2130706433/", "http://0x7f.1/", "http://127.1/",
    "http://0177.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://localhost:8000/", "http://10.0.0.7/",
    "http://192.168.0.1/", "http://172.31.255.255/", "http://100.64.0.1/",
    "http://[fc00::1]/", "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/", "http://0.0.0.0:8000/", "http://0/", "http://[::]/",
    "http://224.0.0.1/", "https://127.0.0.1./",
])
def test_private_callbacks_are_refused_at_registration(client, tenant, guard_on, callback):
    r = client.post(HUB, json={"callback": callback}, headers=tenant.headers())
    assert r.status_code == 422, (callback, r.text)
    assert r.json()["field"] == "callback"
    assert "private" in r.json()["message"]


def test_a_name_resolving_to_a_private_address_is_refused(client, tenant, guard_on,
                                                          fake_dns):
    fake_dns["internal.test"] = ["10.0.0.5"]
    r = client.post(HUB, json={"callback": "https://internal.test/hook"},
                    headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "callback"
    # every address counts: one public and one private answer is still refused
    fake_dns["mixed.test"] = [PUBLIC_IP]
    original = socket.getaddrinfo

    def both(host, port, *a, **k):  # type: ignore[no-untyped-def]
        if host == "mixed.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return original(host, port, *a, **k)

    socket.getaddrinfo = both  # restored by the fake_dns monkeypatch
    r = client.post(HUB, json={"callback": "https://mixed.test/hook"},
                    headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "callback"


@pytest.mark.parametrize(("callback", "words"), [
    ("ftp://93.184.216.34/x", "URL"), ("file:///etc/passwd", "URL"),
    ("gopher://93.184.216.34/", "URL"),
    ("http://user:pw@93.184.216.34/", "user name or password"),
    ("http://token@93.184.216.34/", "user name or password"),
    ("http://no-such-host.invalid/", "does not resolve"),
    ("http://" + "a" * 1990 + ".com/", "URL"),
])
def test_malformed_callbacks_are_refused(client, tenant, guard_on, callback, words):
    r = client.post(HUB, json={"callback": callback}, headers=tenant.headers())
    assert r.status_code == 422, (callback, r.text)
    assert r.json()["field"] == "callback"
    assert words in r.json()["message"] + " " + json.dumps(r.json()), r.json()


def test_public_callbacks_are_accepted(client, tenant, guard_on, fake_dns):
    fake_dns["hooks.example.test"] = [PUBLIC_IP, "2606:4700::1111"]
    for callback in (f"http://{PUBLIC_IP}/hook", "https://hooks.example.test/x?y=1",
                     "http://[2606:4700::1111]:8443/"):
        r = client.post(HUB, json={"callback": callback}, headers=tenant.headers())
        assert r.status_code == 201, (callback, r.text)


def test_allow_private_permits_loopback_but_never_metadata_or_unspecified(
        client, tenant, monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    ok = client.post(HUB, json={"callback": "http://127.0.0.1:9/x"}, headers=tenant.headers())
    assert ok.status_code == 201
    for callback in ("http://169.254.169.254/", "http://0.0.0.0:80/", "http://[fe80::1]/",
                     "http://224.0.0.1/"):
        r = client.post(HUB, json={"callback": callback}, headers=tenant.headers())
        assert r.status_code == 422, callback


# --- delivery ---------------------------------------------------------------------------

def test_dns_rebinding_after_registration_is_refused_at_delivery(client, make_tenant,
                                                                  guard_on, fake_dns):
    sandbox = make_tenant(sandbox=True)
    with peer() as target:
        # public when registered, the loopback listener when the worker connects
        fake_dns["rebind.test"] = [PUBLIC_IP, "127.0.0.1"]
        r = client.post(HUB, json={"callback": f"http://rebind.test:{target.port}/l"},
                        headers=sandbox.headers())
        assert r.status_code == 201
        _event(client, sandbox)
        assert _deliver(allow_private=False) >= 1
        assert target.received == []
    [d] = _deliveries(sandbox.id)
    assert d.status == "dead" and d.last_error == REFUSED_MESSAGE
    detail = client.get(f"/api/v1/eventDeliveries/{d.id}", headers=sandbox.headers()).json()
    assert detail["attempt"] == [{"time": detail["attempt"][0]["time"], "httpStatus": None,
                                  "error": REFUSED_MESSAGE, "durationMs": 0}]


def test_worker_rechecks_targets_registered_while_private_was_allowed(
        client, make_tenant, monkeypatch):
    sandbox = make_tenant(sandbox=True)
    with peer() as target:
        client.post(HUB, json={"callback": target.url},
                    headers=sandbox.headers()).raise_for_status()
        _event(client, sandbox)
        monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
        with unit_of_work() as session:  # the default client: the worker's own
            assert deliver_due(session, max_attempts=3) >= 1
        assert target.received == []
    [d] = _deliveries(sandbox.id)
    assert (d.status, d.attempts, d.last_error) == ("dead", 1, REFUSED_MESSAGE)


def test_the_worker_connects_to_the_address_it_validated(client, make_tenant, fake_dns):
    """One lookup per connection; the connection goes to that answer even though the name
    would resolve elsewhere a moment later; Host keeps the name."""
    sandbox = make_tenant(sandbox=True)
    with peer() as target:
        fake_dns["listener.test"] = ["127.0.0.1", "169.254.169.254"]
        hub = client.post(HUB, json={"callback": f"http://listener.test:{target.port}/l"},
                          headers=sandbox.headers())
        assert hub.status_code == 201  # registration used the first answer
        fake_dns["listener.test"] = ["127.0.0.1", "169.254.169.254"]
        fake_dns["__lookups__"].clear()
        _event(client, sandbox)
        assert _deliver(allow_private=True) >= 1
        assert fake_dns["__lookups__"] == ["listener.test"]
        [(path, headers, body)] = target.received
    assert path == "/l" and headers["host"] == f"listener.test:{target.port}"
    assert verify_signature(hub.json()["secret"], headers[SIGNATURE_HEADER.lower()], body)
    assert _deliveries(sandbox.id)[0].status == "delivered"


def test_tls_keeps_sni_and_certificate_checks_for_the_host_name(client, make_tenant,
                                                                 fake_dns, tmp_path):
    server_tls, client_tls = self_signed("listener.test", tmp_path)
    sandbox = make_tenant(sandbox=True)
    with peer(tls=server_tls) as target:
        fake_dns["listener.test"] = ["127.0.0.1"]
        fake_dns["impostor.test"] = ["127.0.0.1"]
        client.post(HUB, json={"callback": f"https://listener.test:{target.port}/l"},
                    headers=sandbox.headers()).raise_for_status()
        client.post(HUB, json={"callback": f"https://impostor.test:{target.port}/l"},
                    headers=sandbox.headers()).raise_for_status()
        _event(client, sandbox)
        assert _deliver(allow_private=True, verify=client_tls) >= 2
        assert len(target.received) == 1  # the certificate is for listener.test only
    with unit_of_work() as session:
        rows = session.execute(select(HubSubscription.callback, EventDelivery.status,
                                      EventDelivery.last_error)
                               .join(EventDelivery,
                                     EventDelivery.subscription_id == HubSubscription.id)
                               .where(HubSubscription.tenant_id == sandbox.id)).all()
    outcome = {callback.split("//")[1].split(":")[0]: (status, error)
               for callback, status, error in rows}
    assert outcome["listener.test"] == ("delivered", None)
    assert outcome["impostor.test"] == ("pending", "could not connect to the listener")


def test_redirects_are_not_followed(client, make_tenant):
    sandbox = make_tenant(sandbox=True)
    with peer(answers=[(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]) \
            as target:
        client.post(HUB, json={"callback": target.url},
                    headers=sandbox.headers()).raise_for_status()
        _event(client, sandbox)
        _deliver(allow_private=True)
        assert [path for path, _, _ in target.received] == ["/listener"]
    [d] = _deliveries(sandbox.id)
    assert d.status == "pending"
    assert d.last_error == "listener answered HTTP 302 (redirects are not followed)"


def test_attempt_records_never_echo_what_the_target_said(client, make_tenant):
    sandbox = make_tenant(sandbox=True)
    with peer(answers=[(500, {"X-Internal": "db01.corp"})]) as target:
        client.post(HUB, json={"callback": target.url},
                    headers=sandbox.headers()).raise_for_status()
        client.post(HUB, json={"callback": "http://127.0.0.1:9/closed"},
                    headers=sandbox.headers()).raise_for_status()
        _event(client, sandbox)
        _deliver(allow_private=True)
    listing = client.get("/api/v1/eventDeliveries", headers=sandbox.headers("auditor"))
    errors = sorted(row["lastError"] for row in listing.json())
    assert errors == ["could not connect to the listener", "listener answered HTTP 500"]
    for row in listing.json():
        detail = client.get(f"/api/v1/eventDeliveries/{row['id']}",
                            headers=sandbox.headers("auditor")).text
        assert "db01" not in detail and "Errno" not in detail and "refused" not in detail
    with unit_of_work() as session:
        stored = [a.error for a in session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id.in_([row["id"] for row in listing.json()])))]
    assert not any("db01" in (e or "") or "Errno" in (e or "") for e in stored)


def test_unix_sockets_and_environment_proxies_are_never_used(monkeypatch):
    with peer() as proxy, peer() as target:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
        with guarded_client(allow_private=True, timeout=5) as http:
            assert http.post(target.url, content=b"{}").status_code == 201
        with guarded_client(allow_private=False, timeout=5) as http, \
                pytest.raises(netguard.RefusedAddress):
            http.post(target.url, content=b"{}")
        assert len(target.received) == 1 and proxy.received == []
    backend = netguard.GuardedBackend(allow_private=True)
    with pytest.raises(netguard.RefusedAddress):
        backend.connect_unix_socket("/var/run/docker.sock")
