"""Personal data at rest (per-tenant envelope encryption, blind indexes, key rotation,
legacy data) and its masking for roles that may not see it."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.engine import make_url

from openbss.core import crypto, events
from openbss.core.config import get_settings
from openbss.core.db import get_engine, unit_of_work
from openbss.core.models import TenantDataKey
from openbss.party.models import Account, Customer, Party, PartySearchKey

PARTY = "/tmf-api/partyManagement/v4"
CUSTOMER = "/tmf-api/customerManagement/v4/customer"
ACCOUNTS = "/tmf-api/accountManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}

CLEAR_ROLES = ("admin", "sales_agent", "care_agent", "billing_ops", "auditor")
MASKED_ROLES = ("finance", "read_only")
NO_ACCESS = ("partner", "catalog_manager")


class Person:
    """A person with values found nowhere else in the database."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.email = f"Grace.{tag}@example.org"
        self.digits = "".join(random.choice("0123456789") for _ in range(8))
        self.national = f"0151 {self.digits}"
        self.e164 = f"+49151{self.digits}"
        self.street = f"Lindenallee {tag}"
        self.city = f"Gotham{tag[:6]}"
        self.post_code = f"9{tag[:4]}"
        self.passport = f"C{random.randint(10**7, 10**8 - 1)}"

    def body(self) -> dict[str, Any]:
        return {
            "givenName": "Grace", "familyName": "Hopper", "birthDate": "1906-12-09",
            "contactMedium": [
                {"mediumType": "email", "characteristic": {"emailAddress": self.email}},
                {"mediumType": "mobile",
                 "characteristic": {"phoneNumber": self.national, "country": "DE"}},
                {"mediumType": "postalAddress",
                 "characteristic": {"street1": self.street, "city": self.city,
                                    "postCode": self.post_code, "country": "DE"}},
            ],
            "individualIdentification": [{"identificationType": "passport",
                                           "identificationId": self.passport,
                                           "issuingAuthority": "DE"}],
        }

    def secrets(self) -> list[str]:
        return [self.email, self.email.lower(), self.e164, self.digits, self.street,
                self.city, self.passport]


def _media(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mediumType"]: m["characteristic"] for m in doc["contactMedium"]}


def _everything(client: Any, tenant: Any, person: Person) -> dict[str, dict[str, Any]]:
    """A person, their customer (with a contact medium) and a billing account with a
    contact, all holding the person's e-mail, phone and street."""
    ind = client.post(f"{PARTY}/individual", json=person.body(),
                      headers=tenant.headers("care_agent", **{"Idempotency-Key": uuid.uuid4().hex}))
    assert ind.status_code == 201, ind.text
    individual = ind.json()
    medium = person.body()["contactMedium"]
    cust = client.post(CUSTOMER, headers=tenant.headers("sales_agent"), json={
        "name": "Grace", "contactMedium": medium,
        "engagedParty": {"id": individual["id"], "@referredType": "Individual"}})
    assert cust.status_code == 201, cust.text
    acct = client.post(f"{ACCOUNTS}/billingAccount", headers=tenant.headers("billing_ops"), json={
        "name": "Grace home", "currency": "EUR",
        "relatedParty": [{"id": cust.json()["id"], "@referredType": "Customer",
                          "role": "owner"}],
        "contact": [{"contactType": "billing", "contactName": "Grace",
                     "contactMedium": medium}]})
    assert acct.status_code == 201, acct.text
    org = client.post(f"{PARTY}/organization", headers=tenant.headers("sales_agent"), json={
        "tradingName": f"Hopper {uuid.uuid4().hex[:6]} GmbH",
        "contactMedium": [medium[0], medium[1]]})
    assert org.status_code == 201, org.text
    patched = client.patch(f"{PARTY}/individual/{individual['id']}",
                           headers=tenant.headers("care_agent", **MERGE),
                           json={"familyName": "Hopper-Murray"})
    assert patched.status_code == 200, patched.text
    return {"individual": individual, "customer": cust.json(),
            "billingAccount": acct.json(), "organization": org.json()}


def _sqlite_path() -> Path | None:
    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database)


def _found_in_database(needles: list[str]) -> list[str]:
    """Every place a needle occurs at rest: raw bytes of the SQLite file and its WAL,
    every text column of every table (SQLite), or every text/JSON column (PostgreSQL)."""
    found = []
    path = _sqlite_path()
    if path is not None:
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                data = file.read_bytes()
                found += [f"{file.name}: {n}" for n in needles if n.encode() in data]
        conn = sqlite3.connect(path)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
                for column in columns:
                    for (raw,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                        # binary columns (invoice PDFs) read as text too, undecodable
                        # bytes replaced
                        value = (raw.decode("utf-8", "replace") if isinstance(raw, bytes)
                                 else str(raw) if raw is not None else "")
                        found += [f"{table}.{column}: {n}" for n in needles
                                  if value and n in value]
        finally:
            conn.close()
        return found
    with get_engine().connect() as conn:
        columns = conn.execute(sa.text(
            "SELECT table_name, column_name FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND data_type IN ('text', 'character varying', "
            "'json', 'jsonb')")).all()
        for table, column in columns:
            for needle in needles:
                hit = conn.execute(sa.text(
                    f'SELECT 1 FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :n LIMIT 1'),
                    {"n": f"%{needle}%"}).first()
                if hit:
                    found.append(f"{table}.{column}: {needle}")
    return found


def test_no_plain_email_phone_or_address_at_rest(client, tenant):
    person = Person()
    made = _everything(client, tenant, person)
    # the API answers in clear for a role that may see personal data ...
    got = client.get(f"{PARTY}/individual/{made['individual']['id']}",
                     headers=tenant.headers("care_agent")).json()
    assert _media(got)["email"]["emailAddress"] == person.email
    assert _media(got)["mobile"]["phoneNumber"] == person.e164
    assert _media(got)["postalAddress"]["street1"] == person.street
    # ... and events were written (so their payloads are on disk too)
    with unit_of_work() as s:
        assert s.scalar(sa.text("SELECT count(*) FROM outbox_event WHERE tenant_id = :t"),
                        {"t": tenant.id}) >= 5
        body = s.get(Party, made["individual"]["id"]).body
    email = _media(body)["email"]["emailAddress"]
    assert email.startswith("enc:v2:") and person.email not in email
    # nothing of it in clear anywhere: file bytes, WAL, every text column
    found = _found_in_database(person.secrets())
    assert found == [], "\n".join(found)


def test_ciphertexts_name_the_tenant_key_and_differ_per_tenant(client, tenant, other_tenant):
    person = Person()
    ids = []
    for t in (tenant, other_tenant):
        r = client.post(f"{PARTY}/individual", json=person.body(),
                        headers=t.headers("care_agent"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    with unit_of_work() as s:
        stored = [s.get(Party, i).body for i in ids]
        keys = {t.id: {k.id: k for k in s.scalars(select(TenantDataKey).where(
            TenantDataKey.tenant_id == t.id))} for t in (tenant, other_tenant)}
        search = [set(s.scalars(select(PartySearchKey.value).where(
            PartySearchKey.party_id == i))) for i in ids]
    for t, body in zip((tenant, other_tenant), stored, strict=True):
        assert sorted(k.purpose for k in keys[t.id].values()) == ["data", "index"]
        key_id = _media(body)["email"]["emailAddress"].split(":")[2]
        assert keys[t.id][key_id].purpose == "data" and keys[t.id][key_id].active
        assert person.email not in keys[t.id][key_id].wrapped_key
    # blind indexes (e-mail, phone, identification): hex HMACs, unrelated across tenants
    assert len(search[0]) == len(search[1]) == 3
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in search[0] | search[1])
    assert search[0].isdisjoint(search[1])


def test_search_by_email_and_phone_goes_through_blind_indexes(client, tenant, other_tenant):
    person = Person()
    r = client.post(f"{PARTY}/individual", json=person.body(), headers=tenant.headers())
    pid = r.json()["id"]
    for query in (f"email={person.email.upper()}", f"email={person.email.lower()}",
                  f"phone=%2B49151{person.digits}", f"phone=%2B49%20151%20{person.digits}",
                  f"identification={person.passport}"):
        found = client.get(f"{PARTY}/individual?{query}", headers=tenant.headers("read_only"))
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()] == [pid], query
    # another tenant: nothing (and no key is created by a read)
    r = client.get(f"{PARTY}/individual?email={person.email}",
                   headers=other_tenant.headers())
    assert r.status_code == 200 and r.json() == []
    with unit_of_work() as s:
        assert s.scalars(select(TenantDataKey).where(
            TenantDataKey.tenant_id == other_tenant.id)).all() == []
    # a changed address is found under the new value only
    client.patch(f"{PARTY}/individual/{pid}", headers=tenant.headers(**MERGE), json={
        "contactMedium": [{"mediumType": "email",
                           "characteristic": {"emailAddress": "new@example.org"}}]})
    assert client.get(f"{PARTY}/individual?email={person.email}",
                      headers=tenant.headers()).json() == []
    assert [p["id"] for p in client.get(f"{PARTY}/individual?email=NEW@example.org",
                                        headers=tenant.headers()).json()] == [pid]


def test_masked_for_roles_without_personal_data_clear_for_the_others(client, tenant, tmf):
    person = Person()
    made = _everything(client, tenant, person)
    paths = {"individual": (f"{PARTY}/individual", "TMF632", "Individual"),
             "organization": (f"{PARTY}/organization", "TMF632", "Organization"),
             "customer": (CUSTOMER, "TMF629", "Customer"),
             "billingAccount": (f"{ACCOUNTS}/billingAccount", "TMF666", "BillingAccount")}
    masked_email = f"G***@{person.email.split('@')[1]}"
    masked_phone = f"+49151{'*' * (len(person.e164) - 8)}{person.e164[-2:]}"
    for name, (path, spec, definition) in paths.items():
        rid = made[name]["id"]
        for role in (*CLEAR_ROLES, *MASKED_ROLES):
            one = client.get(f"{path}/{rid}", headers=tenant.headers(role))
            assert one.status_code == 200, (name, role, one.text)
            listed = client.get(f"{path}?limit=100", headers=tenant.headers(role))
            assert listed.status_code == 200, listed.text
            docs = [one.json(), *[d for d in listed.json() if d["id"] == rid]]
            assert len(docs) == 2
            for doc in docs:
                tmf(spec, definition, doc)
                media = (doc["contactMedium"] if name != "billingAccount"
                         else doc["contact"][0]["contactMedium"])
                by_type = {m["mediumType"]: m["characteristic"] for m in media}
                text = json.dumps(doc)
                if role in CLEAR_ROLES:
                    assert by_type["email"]["emailAddress"] == person.email, (name, role)
                    assert by_type["mobile"]["phoneNumber"] == person.e164, (name, role)
                    if "postalAddress" in by_type:
                        assert by_type["postalAddress"]["street1"] == person.street
                else:
                    assert by_type["email"]["emailAddress"] == masked_email, (name, role)
                    assert by_type["mobile"]["phoneNumber"] == masked_phone, (name, role)
                    if "postalAddress" in by_type:
                        address = by_type["postalAddress"]
                        assert address["street1"] == "L***" and address["city"] == "G***"
                        assert address["postCode"] == "9***" and address["country"] == "DE"
                    for secret in person.secrets():
                        assert secret not in text, (name, role, secret)
                    assert "enc:" not in text
                if name == "individual":
                    ident = doc["individualIdentification"][0]["identificationId"]
                    if role in ("admin", "care_agent"):
                        assert ident == person.passport
                    else:
                        assert ident == "*" * (len(person.passport) - 4) + person.passport[-4:]
                    assert ("birthDate" in doc) == (role in CLEAR_ROLES), role
        for role in NO_ACCESS:
            assert client.get(f"{path}/{rid}", headers=tenant.headers(role)).status_code == 403


def test_the_event_view_filters_mask_like_a_get(client, tenant):
    person = Person()
    made = _everything(client, tenant, person)
    with unit_of_work() as s:
        rows = {"individual": s.get(Party, made["individual"]["id"]),
                "organization": s.get(Party, made["organization"]["id"]),
                "customer": s.get(Customer, made["customer"]["id"]),
                "billingAccount": s.get(Account, made["billingAccount"]["id"])}
        stored = {name: dict(row.body) for name, row in rows.items()}
    for name, body in stored.items():
        view = events.VIEW_FILTERS[name]
        clear = view(body, "admin")
        masked = view(body, "finance")
        assert person.email in json.dumps(clear) and person.e164 in json.dumps(clear)
        for secret in person.secrets():
            assert secret not in json.dumps(masked), (name, secret)
        assert "enc:" not in json.dumps(masked)
        assert view(clear, "read_only") == masked  # the plain event form masks the same
    assert "partyAccount" in events.VIEW_FILTERS


def test_masked_values_sent_back_keep_the_stored_ones(client, tenant):
    person = Person()
    made = _everything(client, tenant, person)
    for path, name, role in ((f"{PARTY}/individual", "individual", "sales_agent"),
                             (CUSTOMER, "customer", "sales_agent"),
                             (f"{ACCOUNTS}/billingAccount", "billingAccount", "billing_ops")):
        rid = made[name]["id"]
        masked = client.get(f"{path}/{rid}", headers=tenant.headers("read_only")).json()
        key = "contact" if name == "billingAccount" else "contactMedium"
        r = client.patch(f"{path}/{rid}", headers=tenant.headers(role, **MERGE),
                         json={key: masked[key], "description": "checked"}
                         if name == "billingAccount" else {key: masked[key]})
        assert r.status_code == 200, (name, r.text)
        clear = client.get(f"{path}/{rid}", headers=tenant.headers("admin")).json()
        media = clear["contact"][0]["contactMedium"] if key == "contact" else clear[key]
        by_type = {m["mediumType"]: m["characteristic"] for m in media}
        assert by_type["email"]["emailAddress"] == person.email, name
        assert by_type["mobile"]["phoneNumber"] == person.e164, name
    # a masked value that matches nothing stored, or a ciphertext, is refused
    pid = made["individual"]["id"]
    for value in ("x***@example.org", "enc:v2:abc:def"):
        r = client.patch(f"{PARTY}/individual/{pid}",
                         headers=tenant.headers("sales_agent", **MERGE),
                         json={"contactMedium": [{"mediumType": "email",
                                                  "characteristic": {"emailAddress": value}}]})
        assert r.status_code == 422, value
        assert r.json()["field"] == "contactMedium[0].characteristic.emailAddress"
    r = client.post(f"{PARTY}/individual", headers=tenant.headers(), json={
        "givenName": "A", "familyName": "B", "contactMedium": [
            {"mediumType": "postalAddress", "characteristic": {"street1": "M***"}}]})
    assert r.status_code == 422 and r.json()["field"] == \
        "contactMedium[0].characteristic.street1"


def test_personal_data_export_stays_in_clear_for_the_roles_that_may(client, tenant):
    person = Person()
    made = _everything(client, tenant, person)
    export = client.get(f"/api/v1/parties/{made['individual']['id']}/personal-data",
                        headers=tenant.headers("care_agent"))
    assert export.status_code == 200, export.text
    text = json.dumps(export.json())
    for secret in (person.email, person.e164, person.street, person.passport):
        assert secret in text
    assert "enc:v2:" not in text  # the contact history is decrypted too
    audit = client.get(f"/api/v1/audit?resourceId={made['customer']['id']}",
                       headers=tenant.headers("auditor")).json()
    assert person.email in json.dumps(audit)


def test_rotation_reencrypts_and_old_ciphertexts_stay_readable(client, tenant):
    from typer.testing import CliRunner

    from openbss.cli import app as cli

    person = Person()
    made = _everything(client, tenant, person)
    pid = made["individual"]["id"]
    with unit_of_work() as s:
        first = crypto.keyring(s, tenant.id).active.id
    result = CliRunner().invoke(cli, ["keys", "rotate", "--tenant", tenant.name])
    assert result.exit_code == 0, result.output
    assert "4 records re-encrypted, 1 key(s) retired" in " ".join(result.output.split())
    with unit_of_work() as s:
        rows = list(s.scalars(select(TenantDataKey).where(
            TenantDataKey.tenant_id == tenant.id, TenantDataKey.purpose == "data")))
        new = next(r.id for r in rows if r.active)
        assert {r.id for r in rows if not r.active} == {first} and new != first
        for model, rid in ((Party, pid), (Customer, made["customer"]["id"]),
                           (Account, made["billingAccount"]["id"]),
                           (Party, made["organization"]["id"])):
            text = json.dumps(s.get(model, rid).body)
            assert f"enc:v2:{new}:" in text and f"enc:v2:{first}:" not in text
    got = client.get(f"{PARTY}/individual/{pid}", headers=tenant.headers()).json()
    assert _media(got)["email"]["emailAddress"] == person.email
    assert got["individualIdentification"][0]["identificationId"] == person.passport
    found = client.get(f"{PARTY}/individual?phone=%2B49151{person.digits}",
                       headers=tenant.headers()).json()
    assert [p["id"] for p in found] == [pid]
    # audit rows written before the rotation still read (the retired key decrypts them)
    audit = client.get(f"/api/v1/audit?resourceId={pid}", headers=tenant.headers("auditor"))
    assert person.email in json.dumps(audit.json())
    # new writes use the new key
    r = client.post(f"{PARTY}/individual", json=Person().body(), headers=tenant.headers())
    with unit_of_work() as s:
        assert f"enc:v2:{new}:" in json.dumps(s.get(Party, r.json()["id"]).body)
    assert _found_in_database(person.secrets()) == []


def test_a_wrong_secret_is_named_not_a_500(tenant, client, monkeypatch):
    person = Person()
    r = client.post(f"{PARTY}/individual", json=person.body(), headers=tenant.headers())
    with unit_of_work() as s:
        row = s.scalars(select(TenantDataKey).where(TenantDataKey.tenant_id == tenant.id,
                                                    TenantDataKey.purpose == "data")).first()
        with pytest.raises(crypto.KeyUnavailableError, match="another OPENBSS_SECRET_KEY"):
            crypto.unwrap_key(row.wrapped_key, tenant_id=row.tenant_id, key_id=row.id,
                              purpose=row.purpose, kek_id=row.kek_id,
                              secret="another secret of at least thirty-two bytes")
        # rewrap from a previous secret: the same key material under the current secret
        material = crypto.unwrap_key(row.wrapped_key, tenant_id=row.tenant_id, key_id=row.id,
                                     purpose=row.purpose, kek_id=row.kek_id)
    assert r.status_code == 201
    assert len(material) == 32


@pytest.mark.skipif(_sqlite_path() is None, reason="the upgrade test builds a SQLite file")
def test_databases_from_before_0006_are_encrypted_by_the_migration(tmp_path):
    from openbss.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    engine = get_engine(url)
    legacy_id = crypto.encrypt("C01X00T47")  # how 0005 stored identification numbers
    body = {"@type": "Individual", "givenName": "Old", "familyName": "Timer",
            "contactMedium": [
                {"mediumType": "email", "characteristic": {"emailAddress": "old@example.org"}},
                {"mediumType": "mobile", "characteristic": {"phoneNumber": "+4915123456789"}},
                {"mediumType": "postalAddress",
                 "characteristic": {"street1": "Altweg 1", "city": "Bonn"}}],
            "individualIdentification": [{"identificationType": "passport",
                                          "identificationId": legacy_id}]}
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO tenant (id, name, sandbox, default_region, default_currency, "
            "audit_seq, audit_head, created_at) VALUES ('t1', 'old', 0, 'DE', 'EUR', 0, '', "
            "'2026-01-01 00:00:00.000000')"))
        conn.execute(sa.text(
            "INSERT INTO party (id, tenant_id, kind, name, name_key, status, email, phone, "
            "version, created_at, updated_at, body) VALUES ('p1', 't1', 'individual', "
            "'Old Timer', 'old timer', 'initialized', 'old@example.org', '+4915123456789', 1, "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', :body)"),
            {"body": json.dumps(body)})
        from openbss.party.validation import identifier_key

        old_ident = identifier_key(get_settings().secret_key, "passport", "C01X00T47")
        for key_type, value in (("email", "old@example.org"), ("phone", "+4915123456789"),
                                ("identification", old_ident)):
            conn.execute(sa.text(
                "INSERT INTO party_search_key (tenant_id, party_id, key_type, value) VALUES "
                "('t1', 'p1', :k, :v)"), {"k": key_type, "v": value})
    upgrade(url)
    from openbss.core.db import session_factory
    from openbss.party.personal import search_values, unseal

    with session_factory(url)() as s:
        row = s.get(Party, "p1")
        text = json.dumps(row.body)
        for plain in ("old@example.org", "+4915123456789", "Altweg 1", "Bonn", "C01X00T47"):
            assert plain not in text
        assert "enc:v1:" not in text and text.count("enc:v2:") == 5
        opened = unseal(s, row.body)
        assert opened["individualIdentification"][0]["identificationId"] == "C01X00T47"
        assert search_values(opened) == (["old@example.org"], ["+4915123456789"])
        ring = crypto.keyring(s, "t1", create=False)
        stored = set(s.scalars(select(PartySearchKey.value)))
        assert stored == {ring.blind_index("email", "old@example.org"),
                          ring.blind_index("phone", "+4915123456789"),
                          ring.blind_index("identification", "C01X00T47")}
        assert old_ident not in stored
        columns = [c["name"] for c in sa.inspect(s.get_bind()).get_columns("party")]
        assert "email" not in columns and "phone" not in columns
    # freed pages may still hold the old plain rows: VACUUM (docs/operations.md) drops them
    engine.dispose()
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.close()
    raw = (tmp_path / "old.db").read_bytes()
    for plain in (b"old@example.org", b"+4915123456789", b"Altweg 1"):
        assert plain not in raw


@pytest.mark.skipif(_sqlite_path() is None, reason="builds its own SQLite file")
def test_rewrap_moves_every_key_to_a_new_secret(tmp_path, monkeypatch):
    from openbss.core.db import session_factory
    from openbss.core.migrate import upgrade
    from openbss.core.models import AuditDataKey, Tenant

    url = f"sqlite:///{tmp_path / 'rewrap.db'}"
    upgrade(url)
    old_secret = get_settings().secret_key
    with session_factory(url)() as s:
        s.add(Tenant(id="rw", name="rewrap"))
        s.flush()
        token = crypto.keyring(s, "rw").encrypt("ada@example.org")
        s.add(AuditDataKey(tenant_id="rw", resource_type="individual", resource_id="p",
                           key=crypto.encrypt("audit-key-material")))
        s.commit()
    new_secret = "a-brand-new-secret-of-more-than-thirty-two-bytes"
    monkeypatch.setenv("OPENBSS_SECRET_KEY", new_secret)
    get_settings.cache_clear()
    try:
        crypto._KEYS.clear()
        crypto._RINGS.pop("rw", None)
        with session_factory(url)() as s:
            with pytest.raises(crypto.KeyUnavailableError, match="another OPENBSS_SECRET_KEY"):
                crypto.decrypt(token, s)
            assert crypto.rewrap(s, old_secret=old_secret) == 3  # data, index, audit key
            s.commit()
        crypto._KEYS.clear()
        with session_factory(url)() as s:
            assert crypto.decrypt(token, s) == "ada@example.org"
            audit_key = s.scalars(select(AuditDataKey)).one()
            assert crypto.decrypt(audit_key.key) == "audit-key-material"
            assert crypto.rewrap(s, old_secret=old_secret) == 0  # nothing left to move
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        crypto._KEYS.clear()


def test_an_unchanged_document_is_not_rewritten(client, tenant):
    """Encryption is randomised (a fresh nonce per value): a PATCH that changes nothing
    must still be recognised as no change — no new ciphertexts, audit rows or events."""
    from openbss.core.models import AuditEntry, OutboxEvent

    person = Person()
    made = _everything(client, tenant, person)
    for path, name, model in ((f"{PARTY}/individual", "individual", Party),
                              (CUSTOMER, "customer", Customer),
                              (f"{ACCOUNTS}/billingAccount", "billingAccount", Account)):
        rid = made[name]["id"]
        with unit_of_work() as s:
            before = json.dumps(s.get(model, rid).body)
            audits = s.scalar(select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.resource_id == rid))
            events_ = s.scalar(select(sa.func.count()).select_from(OutboxEvent).where(
                OutboxEvent.resource_id == rid))
        doc = client.get(f"{path}/{rid}", headers=tenant.headers("admin")).json()
        key = "contact" if name == "billingAccount" else "contactMedium"
        r = client.patch(f"{path}/{rid}", headers=tenant.headers("care_agent", **MERGE),
                         json={key: doc[key]})
        assert r.status_code == 200, r.text
        with unit_of_work() as s:
            assert json.dumps(s.get(model, rid).body) == before, name
            assert s.scalar(select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.resource_id == rid)) == audits, name
            assert s.scalar(select(sa.func.count()).select_from(OutboxEvent).where(
                OutboxEvent.resource_id == rid)) == events_, name
