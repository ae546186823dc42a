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


# --- tokens follow their key's current state -------------------------------------------

def _token(client, key: str) -> str:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": key.split("_")[1], "client_secret": key})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _set_role(key: str, role: str) -> None:
    """Change a key's role in the database (as an operator would), through the ORM."""
    from sqlalchemy import select

    from openbss.core.db import unit_of_work
    from openbss.core.models import ApiKey

    with unit_of_work() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == key.split("_")[1])).one()
        row.role = role


def test_a_token_carries_the_key_id_and_nothing_secret(client, tenant):
    key = tenant.keys["auditor"]
    token = _token(client, key)
    claims = jwt.decode(token, signing_key(), algorithms=["HS256"], audience="openbss")
    assert claims["sub"] == key.split("_")[1]
    assert claims["tid"] == tenant.id
    assert set(claims) == {"sub", "tid", "role", "kb", "aud", "iat", "exp"}
    assert key.split("_", 2)[2] not in token and key not in jwt.get_unverified_header(token)


def test_a_revoked_key_s_token_is_401_at_once(client, tenant):
    from typer.testing import CliRunner

    from openbss.cli import app as cli

    key = tenant.keys["finance"]
    token = _token(client, key)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/tmf-api/accountManagement/v4/billingAccount",
                      headers=bearer).status_code == 200
    revoked = CliRunner().invoke(cli, ["apikey", "revoke", key.split("_")[1],
                                       "--tenant", tenant.name])
    assert revoked.exit_code == 0, revoked.output
    for headers in (bearer, tenant.headers("finance")):
        r = client.get("/tmf-api/accountManagement/v4/billingAccount", headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "unauthenticated"
    # and no new token is issued for it
    r = client.post("/oauth/token", data={"grant_type": "client_credentials",
                                          "client_id": key.split("_")[1], "client_secret": key})
    assert r.status_code == 401


def test_a_token_acts_with_its_key_s_current_role(client, tenant):
    key = tenant.keys["read_only"]
    token = _token(client, key)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/audit", headers=bearer).status_code == 403
    _set_role(key, "auditor")
    assert client.get("/api/v1/audit", headers=bearer).status_code == 200
    assert client.get("/api/v1/audit", headers=tenant.headers("read_only")).status_code == 200
    # the role claim still says read_only; the key's row is what counts
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "read_only"
    _set_role(key, "partner")
    assert client.get("/api/v1/audit", headers=bearer).status_code == 403
    r = client.get("/tmf-api/partyManagement/v4/individual", headers=bearer)
    assert r.status_code == 403 and "'partner'" in r.json()["message"]


def test_the_role_claim_of_a_token_grants_nothing(client, tenant):
    """Even correctly signed, a token naming ``admin`` for an auditor key acts as auditor."""
    claims = jwt.decode(_token(client, tenant.keys["auditor"]), signing_key(),
                        algorithms=["HS256"], audience="openbss")
    claims["role"] = "admin"
    token = jwt.encode(claims, signing_key(), algorithm="HS256")
    r = client.post("/api/v1/testClock/advance", json={"days": 1},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "'auditor'" in r.json()["message"]
    # a token naming another tenant than its key's is refused outright
    claims["tid"] = "another-tenant"
    token = jwt.encode(claims, signing_key(), algorithm="HS256")
    assert client.get("/api/v1/audit",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_signing_key_and_a_key_id_from_the_audit_log_forge_nothing(client, tenant):
    """What an auditor can read (key ids, tenant ids) plus even the signing key is not a
    token: the ``kb`` claim binds a token to its key's stored hash."""
    admin_id = tenant.keys["admin"].split("_")[1]
    real = jwt.decode(_token(client, tenant.keys["admin"]), signing_key(),
                      algorithms=["HS256"], audience="openbss")
    assert client.post("/tmf-api/event/v4/hub", json={"callback": "http://127.0.0.1:1/x"},
                       headers=tenant.headers("admin")).status_code == 201
    audit = client.get("/api/v1/audit?limit=1000", headers=tenant.headers("auditor")).json()
    assert f"apikey:{admin_id}" in {row["actor"] for row in audit}  # the id is public
    base = {"sub": admin_id, "tid": tenant.id, "role": "admin", "aud": "openbss",
            "exp": datetime.now(UTC) + timedelta(minutes=5)}
    for forged_claims in (base, {**base, "kb": "0" * 32}, {**base, "kb": real["kb"][:-1]}):
        forged = jwt.encode(forged_claims, signing_key(), algorithm="HS256")
        r = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, forged_claims
    # the genuine binding still works (the refusals above were the binding, not the rest)
    genuine = jwt.encode({**base, "kb": real["kb"]}, signing_key(), algorithm="HS256")
    assert client.get("/api/v1/audit",
                      headers={"Authorization": f"Bearer {genuine}"}).status_code == 200
    # a key's binding is its own: another key's kb does not fit
    other = jwt.decode(_token(client, tenant.keys["auditor"]), signing_key(),
                       algorithms=["HS256"], audience="openbss")
    mixed = jwt.encode({**base, "kb": other["kb"]}, signing_key(), algorithm="HS256")
    assert client.get("/api/v1/audit",
                      headers={"Authorization": f"Bearer {mixed}"}).status_code == 401


# --- audit rows hold nothing to forge a token with ---------------------------------------

def test_audit_rows_of_keys_and_listeners_hold_no_secrets(client, tenant):
    from sqlalchemy import select
    from typer.testing import CliRunner

    from openbss.cli import app as cli
    from openbss.core.config import get_settings
    from openbss.core.db import unit_of_work
    from openbss.core.models import ApiKey, AuditEntry

    runner = CliRunner()
    created = runner.invoke(cli, ["apikey", "create", "--tenant", tenant.name,
                                  "--role", "admin"])
    assert created.exit_code == 0, created.output
    new_key = created.output.strip().splitlines()[-1]
    key_id = new_key.split("_")[1]
    assert runner.invoke(cli, ["apikey", "revoke", key_id, "--tenant",
                               tenant.name]).exit_code == 0
    listener_secret = "listener-secret-" + "q" * 24
    hub = client.post("/tmf-api/event/v4/hub", headers=tenant.headers("admin"),
                      json={"callback": "http://127.0.0.1:1/x", "secret": listener_secret})
    assert hub.status_code == 201, hub.text
    generated = client.post("/tmf-api/event/v4/hub", headers=tenant.headers("admin"),
                            json={"callback": "http://127.0.0.1:1/y"}).json()
    assert generated["secret"]
    assert client.delete(f"/tmf-api/event/v4/hub/{hub.json()['id']}",
                         headers=tenant.headers("admin")).status_code == 204

    with unit_of_work() as session:
        hashes = list(session.scalars(select(ApiKey.key_hash).where(
            ApiKey.tenant_id == tenant.id)))
        raw_rows = [(r.actor, r.resource_id, r.before, r.after) for r in session.scalars(
            select(AuditEntry).where(AuditEntry.tenant_id == tenant.id))]
    listed = client.get("/api/v1/audit?limit=1000", headers=tenant.headers("auditor"))
    assert listed.status_code == 200
    texts = {"API": listed.text, "database": repr(raw_rows)}
    forbidden = {
        "a key": [new_key, *tenant.keys.values()],
        "a key's secret part": [k.split("_", 2)[2] for k in [new_key, *tenant.keys.values()]],
        "a key hash": hashes,
        "a listener secret": [listener_secret, generated["secret"]],
        "the signing key": [signing_key().hex(), get_settings().secret_key],
    }
    for where, text in texts.items():
        for what, values in forbidden.items():
            for value in values:
                assert value not in text, f"audit rows ({where}) hold {what}"
    # what they do hold: which key was created and revoked, with its role
    actions = {(r["action"], r["resourceType"], r["resourceId"]) for r in listed.json()}
    assert {("create", "apiKey", key_id), ("revoke", "apiKey", key_id),
            ("create", "hub", hub.json()["id"]), ("delete", "hub", hub.json()["id"])} <= actions
    assert "key_hash" not in texts["database"] and "keyHash" not in listed.text


def test_no_audit_row_in_the_database_holds_a_key_hash_or_a_listener_secret(client, tenant):
    """Over every tenant's audit rows so far (the whole suite's, when run after it)."""
    import json
    import re

    from sqlalchemy import select

    from openbss.core.db import unit_of_work
    from openbss.core.models import ApiKey, AuditEntry, HubSubscription

    client.post("/tmf-api/event/v4/hub", json={"callback": "http://127.0.0.1:1/z"},
                headers=tenant.headers("admin")).raise_for_status()
    with unit_of_work() as session:
        hashes = set(session.scalars(select(ApiKey.key_hash)))
        secrets_ = set(session.scalars(select(HubSubscription.secret)))
        tokens: set[str] = set()
        for row in session.execute(select(AuditEntry.actor, AuditEntry.resource_id,
                                          AuditEntry.before, AuditEntry.after)):
            text = json.dumps([*row], default=str)
            tokens.update(re.findall(r"[A-Za-z0-9_\-]{16,}", text))
    assert hashes and secrets_
    assert not tokens & hashes, "an audit row holds an API key hash"
    assert not tokens & secrets_, "an audit row holds a listener secret"
