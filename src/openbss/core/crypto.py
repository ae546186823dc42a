"""Encryption of personal data at rest, blind indexes for exact search, and masking.

Two generations of ciphertext exist, both readable:

- ``enc:v2:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>`` — envelope
  encryption with a **data key per tenant** (:class:`openbss.core.models.TenantDataKey`).
  The data key is stored wrapped (AES-256-GCM) under a key-encryption key (KEK) derived
  with HKDF from ``OPENBSS_SECRET_KEY``; the key id inside every ciphertext names the
  data key that decrypts it, so :func:`rotate` can add a new key (and re-encrypt) while
  retired keys keep decrypting whatever still refers to them (audit rows, past events).
- ``enc:v1:<Fernet token>`` — one key derived from ``OPENBSS_SECRET_KEY``; identification
  numbers written before migration 0006, and the wrapping of the audit log's
  per-resource data keys (:mod:`openbss.core.audit`).

Blind indexes are HMAC-SHA256 of a normalised value (lower-cased e-mail, E.164 phone)
under the tenant's ``index`` key: equal values match, nothing else can be learnt from
them, and the same address in two tenants gives unrelated hashes.

Cost: a tenant's keys are read once per unit of work (one small indexed query) and
unwrapped once per process; each field is one AES-GCM operation (microseconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from openbss.core import clock
from openbss.core.config import get_settings

PREFIX = "enc:v1:"
PREFIX_V2 = "enc:v2:"
RESERVED_PREFIX = "enc:"  # no user-supplied value may start with it
DATA, INDEX = "data", "index"
_KEYRINGS = "openbss.crypto.keyrings"


class KeyUnavailableError(ValueError):
    """A ciphertext names a key that does not exist or cannot be unwrapped."""


# --- v1: one key derived from the secret ---------------------------------------------------


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openbss-field-encryption",
               info=b"fernet").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    """v1 encryption (the secret-derived key): only for wrapping the audit data keys."""
    token = _fernet(get_settings().secret_key).encrypt(value.encode()).decode()
    return PREFIX + token


def decrypt(value: str, session: Session | None = None) -> str:
    """The plain text of a v1 or v2 ciphertext; any other value is returned as is (plain
    data written before encryption existed stays readable).

    ``session``: the unit of work, whose keys (even ones created in it and not yet
    committed) are used first; without one a v2 key is loaded in a separate session.
    """
    if value.startswith(PREFIX_V2):
        key_id, _, token = value[7:].partition(":")
        key = _KEYS.get(key_id) or _find_key(key_id, session)
        try:
            raw = base64.urlsafe_b64decode(token)
            return key.aead.decrypt(raw[:12], raw[12:], key.id.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise KeyUnavailableError(f"cannot decrypt a value under key {key_id}: the "
                                      "ciphertext is damaged") from exc
    if not value.startswith(PREFIX):
        return value
    try:
        return _fernet(get_settings().secret_key).decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: OPENBSS_SECRET_KEY differs from the one used "
                         "to encrypt") from exc


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((PREFIX, PREFIX_V2))


# --- envelope encryption: tenant data keys --------------------------------------------------


@lru_cache(maxsize=4)
def _kek(secret: str) -> tuple[str, AESGCM]:
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"openbss-tenant-kek",
                    info=b"aes-256-gcm").derive(secret.encode())
    kek_id = hmac.new(material, b"kek-id", hashlib.sha256).hexdigest()[:16]
    return kek_id, AESGCM(material)


def _aad(tenant_id: str, key_id: str, purpose: str) -> bytes:
    return f"{tenant_id}|{key_id}|{purpose}".encode()


def wrap_key(material: bytes, *, tenant_id: str, key_id: str, purpose: str,
             secret: str | None = None) -> tuple[str, str]:
    """``(kek_id, wrapped)``: ``material`` encrypted under the secret's KEK, bound to the
    tenant, the key id and the purpose."""
    kek_id, kek = _kek(secret or get_settings().secret_key)
    nonce = os.urandom(12)
    sealed = kek.encrypt(nonce, material, _aad(tenant_id, key_id, purpose))
    return kek_id, base64.urlsafe_b64encode(nonce + sealed).decode()


def unwrap_key(wrapped: str, *, tenant_id: str, key_id: str, purpose: str, kek_id: str,
               secret: str | None = None) -> bytes:
    current_id, kek = _kek(secret or get_settings().secret_key)
    if kek_id != current_id:
        raise KeyUnavailableError(
            f"data key {key_id} of tenant {tenant_id} is wrapped under another "
            "OPENBSS_SECRET_KEY; start with the secret it was created with (or re-wrap "
            "the keys with 'openbss keys rewrap')")
    raw = base64.urlsafe_b64decode(wrapped.encode())
    try:
        return kek.decrypt(raw[:12], raw[12:], _aad(tenant_id, key_id, purpose))
    except InvalidTag as exc:
        raise KeyUnavailableError(f"data key {key_id} cannot be unwrapped") from exc


class DataKey:
    """An unwrapped tenant key: AES-256-GCM for ``data``, HMAC-SHA256 for ``index``."""

    __slots__ = ("aead", "id", "material", "purpose", "tenant_id")

    def __init__(self, key_id: str, tenant_id: str, purpose: str, material: bytes) -> None:
        self.id = key_id
        self.tenant_id = tenant_id
        self.purpose = purpose
        self.material = material
        self.aead = AESGCM(material)


# Unwrapped keys by id, for the whole process: keys never change once created (rotation
# adds keys), so this cache needs no invalidation.
_KEYS: dict[str, DataKey] = {}


def _unwrapped(row: Any) -> DataKey:
    key = _KEYS.get(row.id)
    if key is None:
        material = unwrap_key(row.wrapped_key, tenant_id=row.tenant_id, key_id=row.id,
                              purpose=row.purpose, kek_id=row.kek_id)
        key = _KEYS[row.id] = DataKey(row.id, row.tenant_id, row.purpose, material)
    return key


def _find_key(key_id: str, session: Session | None) -> DataKey:
    if session is not None:
        for ring in session.info.get(_KEYRINGS, {}).values():
            if key_id in ring.by_id:
                return ring.by_id[key_id]  # type: ignore[no-any-return]
    key = _KEYS.get(key_id)
    if key is not None:
        return key
    from openbss.core.db import WRITE_INTENT, session_factory
    from openbss.core.models import TenantDataKey

    if session is not None:
        row = session.get(TenantDataKey, key_id)
        if row is not None:
            return _unwrapped(row)
    # A read-only look-up beside the caller's transaction (on SQLite a plain BEGIN, which
    # never waits for the caller's own write lock).
    token = WRITE_INTENT.set(False)
    try:
        with session_factory()() as own:
            row = own.get(TenantDataKey, key_id)
            if row is None:
                raise KeyUnavailableError(f"no data key {key_id!r}")
            return _unwrapped(row)
    finally:
        WRITE_INTENT.reset(token)


class Keyring:
    """A tenant's keys for one unit of work: the active data key encrypts, every data
    key decrypts; the oldest index key computes blind indexes, every index key is
    searched (so two index keys created concurrently never hide a value)."""

    def __init__(self, tenant_id: str, data: list[DataKey], index: list[DataKey]) -> None:
        self.tenant_id = tenant_id
        self.data = data  # active key first
        self.index = index  # canonical key first
        self.by_id = {k.id: k for k in (*data, *index)}

    @property
    def active(self) -> DataKey:
        if not self.data:
            raise KeyUnavailableError(f"tenant {self.tenant_id} has no data key")
        return self.data[0]

    def encrypt(self, value: str) -> str:
        key = self.active
        nonce = os.urandom(12)
        sealed = key.aead.encrypt(nonce, value.encode(), key.id.encode())
        return f"{PREFIX_V2}{key.id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def blind_index(self, kind: str, normalised: str) -> str:
        """The stored search key of ``normalised`` (e.g. ``email``, ``ada@example.org``)."""
        if not self.index:
            raise KeyUnavailableError(f"tenant {self.tenant_id} has no index key")
        return _hmac(self.index[0], kind, normalised)

    def blind_indexes(self, kind: str, normalised: str) -> list[str]:
        """Every search key ``normalised`` may be stored under (one per index key)."""
        return [_hmac(k, kind, normalised) for k in self.index]


def _hmac(key: DataKey, kind: str, value: str) -> str:
    return hmac.new(key.material, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@event.listens_for(Session, "after_soft_rollback")
def _forget_keyrings(session: Session, _previous: Any) -> None:
    # A key created in a rolled-back transaction does not exist: never encrypt with it.
    session.info.pop(_KEYRINGS, None)


def _new_key(session: Session, tenant_id: str, purpose: str, now: datetime) -> Any:
    from openbss.core.db import new_id
    from openbss.core.models import TenantDataKey

    key_id = new_id()
    material = os.urandom(32)
    kek_id, wrapped = wrap_key(material, tenant_id=tenant_id, key_id=key_id, purpose=purpose)
    row = TenantDataKey(id=key_id, tenant_id=tenant_id, purpose=purpose, wrapped_key=wrapped,
                        kek_id=kek_id, active=True, created_at=now)
    session.add(row)
    _KEYS[key_id] = DataKey(key_id, tenant_id, purpose, material)
    return row


def _key_rows(session: Session, tenant_id: str) -> list[Any]:
    from openbss.core.models import TenantDataKey

    return list(session.scalars(select(TenantDataKey).where(
        TenantDataKey.tenant_id == tenant_id).order_by(TenantDataKey.created_at,
                                                       TenantDataKey.id)))


def _lock_tenant(session: Session, tenant_id: str) -> None:
    from openbss.core.models import Tenant

    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id)
                        .with_for_update(key_share=True))


def keyring(session: Session, tenant_id: str, *, create: bool = True) -> Keyring:
    """The tenant's keyring for this unit of work (read once per session). With
    ``create`` the tenant's first data and index keys are created when missing."""
    rings: dict[str, Keyring] = session.info.setdefault(_KEYRINGS, {})
    ring = rings.get(tenant_id)
    if ring is not None and ((ring.data and ring.index) or not create):
        return ring
    cached = _RINGS.get(tenant_id)
    if cached is not None and cached[0] > clock.monotonic():
        rings[tenant_id] = cached[1]
        return cached[1]
    rows = _key_rows(session, tenant_id)
    created = False
    if create and not (any(r.purpose == DATA and r.active for r in rows)
                       and any(r.purpose == INDEX for r in rows)):
        _lock_tenant(session, tenant_id)  # one creator at a time on PostgreSQL
        rows = _key_rows(session, tenant_id)
        now = clock.utcnow()
        if not any(r.purpose == DATA and r.active for r in rows):
            rows.append(_new_key(session, tenant_id, DATA, now))
            created = True
        if not any(r.purpose == INDEX for r in rows):
            rows.append(_new_key(session, tenant_id, INDEX, now))
            created = True
        session.flush()
    data = [_unwrapped(r) for r in reversed(rows) if r.purpose == DATA and r.active]
    data += [_unwrapped(r) for r in reversed(rows) if r.purpose == DATA and not r.active]
    index = [_unwrapped(r) for r in rows if r.purpose == INDEX]
    ring = rings[tenant_id] = Keyring(tenant_id, data, index)
    if not created and data and index:
        # Only committed keys are shared with the other units of work of the process.
        _RINGS[tenant_id] = (clock.monotonic() + RING_TTL_SECONDS, ring)
    return ring


# Complete keyrings read from the database, shared by the process for RING_TTL_SECONDS:
# after a rotation in another process this one may encrypt with the retired key for up
# to that long, which stays readable (retired keys are kept).
RING_TTL_SECONDS = 30.0
_RINGS: dict[str, tuple[float, Keyring]] = {}


# Contexts that hold v2 ciphertexts register how to re-encrypt a tenant's rows with the
# new active key: fn(session, tenant_id, keyring) -> number of rows rewritten.
Reencrypter = Callable[[Session, str, Keyring], int]
_reencrypters: dict[str, Reencrypter] = {}


def register_reencrypter(name: str, fn: Reencrypter) -> None:
    _reencrypters[name] = fn


def rotate(session: Session, tenant_id: str, *, reencrypt: bool = True) -> dict[str, Any]:
    """Retire the tenant's data key, create a new one and (``reencrypt``) rewrite every
    registered context's ciphertexts under it. Retired keys stay (they decrypt audit
    rows and past events that still hold old ciphertexts). The index key is kept."""
    _lock_tenant(session, tenant_id)
    keyring(session, tenant_id)  # make sure the index key exists
    now = clock.utcnow()
    old = [r for r in _key_rows(session, tenant_id) if r.purpose == DATA and r.active]
    for row in old:
        row.active = False
        row.retired_at = now
    new = _new_key(session, tenant_id, DATA, now)
    session.flush()
    session.info.get(_KEYRINGS, {}).pop(tenant_id, None)
    _RINGS.pop(tenant_id, None)
    ring = keyring(session, tenant_id)
    assert ring.active.id == new.id
    rewritten = {name: fn(session, tenant_id, ring) for name, fn in _reencrypters.items()} \
        if reencrypt else {}
    return {"tenant": tenant_id, "newKey": new.id, "retiredKeys": [r.id for r in old],
            "reencrypted": rewritten}


def rewrap(session: Session, *, old_secret: str) -> int:
    """Re-wrap every tenant key wrapped under ``old_secret`` — and the audit log's
    per-resource keys (v1) — with the current ``OPENBSS_SECRET_KEY`` (after changing
    the secret). Returns how many keys were re-wrapped."""
    from openbss.core.models import AuditDataKey, TenantDataKey

    old_id, _ = _kek(old_secret)
    count = 0
    for audit_key in session.scalars(select(AuditDataKey).where(AuditDataKey.key.is_not(None))):
        assert audit_key.key is not None
        try:
            plain = _fernet(old_secret).decrypt(audit_key.key[len(PREFIX):].encode())
        except InvalidToken:
            continue  # already under the current secret
        audit_key.key = encrypt(plain.decode())
        count += 1
    for row in session.scalars(select(TenantDataKey).where(TenantDataKey.kek_id == old_id)):
        material = unwrap_key(row.wrapped_key, tenant_id=row.tenant_id, key_id=row.id,
                              purpose=row.purpose, kek_id=row.kek_id, secret=old_secret)
        row.kek_id, row.wrapped_key = wrap_key(material, tenant_id=row.tenant_id,
                                               key_id=row.id, purpose=row.purpose)
        count += 1
    session.flush()
    return count


# --- masking ------------------------------------------------------------------------------


def mask(value: str, visible: int = 4) -> str:
    """``"X1234567"`` → ``"****4567"`` (identification numbers)."""
    if len(value) <= visible:
        return "*" * len(value)
    return "*" * (len(value) - visible) + value[-visible:]


def mask_email(value: str) -> str:
    """``"ada@example.org"`` → ``"a***@example.org"`` (still a syntactically valid
    address, so the TMF shape holds)."""
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(value: str) -> str:
    """``"+4915123456780"`` → ``"+49151******80"``: country and network prefix and the
    last two digits, the length kept."""
    keep = 6 if len(value) >= 10 else 3
    if len(value) <= keep + 2:
        return value[:1] + "*" * (len(value) - 1)
    return value[:keep] + "*" * (len(value) - keep - 2) + value[-2:]


def mask_text(value: str) -> str:
    """``"Heidestraße 17"`` → ``"H***"`` (streets, cities, post codes)."""
    return f"{value[:1]}***" if value else value


def looks_masked(value: Any) -> bool:
    return isinstance(value, str) and "***" in value
