"""Authentication (API keys, OAuth2 client credentials) and role checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from openbss.core.auth import ROLES, signing_key


def test_missing_and_bad_tokens_are_401(client, tenant):
    assert client.get("/api/v1/audit").status_code == 401
    r = client.get("/api/v1/audit", headers={"Authorization": "Bearer obss_nope_nope"})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = client.get("/api/v1/audit", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    tampered = tenant.keys["admin"][:-2] + "xx"
    r = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    r = client.get("/api/v1/audit", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401


def test_roles_are_enforced(client, tenant):
    assert client.get("/api/v1/audit", headers=tenant.headers("auditor")).status_code == 200
    assert client.get("/api/v1/audit", headers=tenant.headers("admin")).status_code == 200
    for role in set(ROLES) - {"auditor", "admin"}:
        r = client.get("/api/v1/audit", headers=tenant.headers(role))
        assert r.status_code == 403, role
        assert r.json()["code"] == "forbidden"
    r = client.post("/api/v1/testClock/advance", json={"days": 1},
                    headers=tenant.headers("read_only"))
    assert r.status_code == 403


def _client_credentials(tenant, role="auditor"):
    key = tenant.keys[role]
    return key.split("_")[1], key


def test_oauth_client_credentials_issue_a_working_jwt(client, tenant):
    client_id, secret = _client_credentials(tenant)
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": client_id, "client_secret": secret})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    token = body["access_token"]
    r = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    # The token carries the key's role: an auditor token may not advance the clock.
    r = client.post("/api/v1/testClock/advance", json={"days": 1},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_oauth_basic_auth_and_errors(client, tenant):
    client_id, secret = _client_credentials(tenant)
    r = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                    auth=(client_id, secret))
    assert r.status_code == 200
    r = client.post("/oauth/token", data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": client_id, "client_secret": "wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    other_id, _ = _client_credentials(tenant, "admin")
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": other_id, "client_secret": secret})
    assert r.status_code == 401


def test_expired_or_foreign_jwt_is_401(client, tenant):
    client_id, _ = _client_credentials(tenant)
    claims = {"sub": client_id, "tid": tenant.id, "role": "admin", "aud": "openbss",
              "exp": datetime.now(UTC) - timedelta(seconds=5)}
    expired = jwt.encode(claims, signing_key(), algorithm="HS256")
    assert client.get("/api/v1/audit",
                      headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    claims["exp"] = datetime.now(UTC) + timedelta(hours=1)
    forged = jwt.encode(claims, b"some-other-secret-of-32-bytes-xx", algorithm="HS256")
    assert client.get("/api/v1/audit",
                      headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_revoked_keys_and_their_tokens_stop_working(client, tenant):
    from typer.testing import CliRunner

    from openbss.cli import app as cli

    key = tenant.keys["auditor"]
    key_id = key.split("_")[1]
    token = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                              "client_id": key_id, "client_secret": key}
                        ).json()["access_token"]
    runner = CliRunner()
    listing = runner.invoke(cli, ["apikey", "list", "--tenant", tenant.name])
    assert f"{key_id}\tauditor\tactive" in listing.output
    assert key not in listing.output
    result = runner.invoke(cli, ["apikey", "revoke", key_id, "--tenant", tenant.name])
    assert result.exit_code == 0, result.output
    for bearer in (key, token):
        r = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {bearer}"})
        assert r.status_code == 401
    assert "revoked" in runner.invoke(cli, ["apikey", "list", "--tenant", tenant.name]).output
    other = runner.invoke(cli, ["apikey", "revoke", key_id, "--tenant", "default-nope"])
    assert other.exit_code != 0
    rows = client.get("/api/v1/audit?action=revoke", headers=tenant.headers("admin")).json()
    assert [r["resourceId"] for r in rows] == [key_id]


def test_partners_and_read_only_roles_cannot_register_listeners(client, tenant):
    for role in ("partner", "read_only", "auditor"):
        r = client.post("/tmf-api/event/v4/hub", json={"callback": "http://127.0.0.1:1/x"},
                        headers=tenant.headers(role))
        assert r.status_code == 403, role
    r = client.post("/tmf-api/event/v4/hub", json={"callback": "http://127.0.0.1:1/x"},
                    headers=tenant.headers("billing_ops"))
    assert r.status_code == 201
