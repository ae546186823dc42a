"""API keys, OAuth2 client-credentials tokens (JWT) and roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from openbss.core import clock
from openbss.core.cache_invalidation import forget_on_change
from openbss.core.config import get_settings
from openbss.core.errors import AuthenticationError, NotFoundError, ValidationError
from openbss.core.models import ApiKey, Tenant

ROLES: tuple[str, ...] = (
    "admin",
    "catalog_manager",
    "sales_agent",
    "care_agent",
    "billing_ops",
    "finance",
    "partner",
    "auditor",
    "read_only",
)
KEY_PREFIX = "obss"
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "openbss"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the role and a stable actor name for audit rows."""

    tenant_id: str
    role: str
    actor: str
    key_id: str = ""  # the ApiKey row behind the credentials


def signing_key() -> bytes:
    """The JWT signing key: derived from ``OPENBSS_SECRET_KEY`` (always 32 bytes)."""
    return hmac.new(get_settings().secret_key.encode(), b"openbss-jwt", hashlib.sha256).digest()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_binding(key_hash: str) -> str:
    """The ``kb`` claim of a token: binds it to its key's secret. Forging a token takes the
    signing key AND the key's stored hash; the key id in ``sub`` (visible in audit rows
    and key listings) is not enough."""
    return hmac.new(signing_key(), b"openbss-key:" + key_hash.encode(),
                    hashlib.sha256).hexdigest()[:32]


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(
            f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role"
        )
    return role


def create_api_key(session: Session, *, tenant: Tenant, role: str, name: str = "") -> str:
    """Create a key and return it; this is the only time the secret is visible."""
    check_role(role)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiKey(tenant_id=tenant.id, role=role, name=name, prefix=prefix, key_hash=hash_key(key))
    )
    session.flush()
    return key


def _api_key_principal(session: Session, token: str) -> Principal:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise AuthenticationError("malformed API key")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("unknown or revoked API key")
    if not hmac.compare_digest(row.key_hash, hash_key(token)):
        raise AuthenticationError("unknown or revoked API key")
    return Principal(tenant_id=row.tenant_id, role=row.role, actor=f"apikey:{row.prefix}",
                     key_id=row.id)


# --- the principal cache ------------------------------------------------------------
# Checking credentials costs a query (and a JWT signature) per request. A process keeps
# what it checked for ``OPENBSS_AUTH_CACHE_SECONDS`` (5 s by default), keyed by the
# SHA-256 of the whole ``Authorization`` header, never by anything guessable. The bound:
# - a change to a key (revocation, role) made through the ORM in this process drops the
#   key's entries at once, when it is flushed and again when it commits (mapper events
#   below), so the next request reads the key's committed state;
# - a change made by another process (``openbss apikey revoke``, another server worker)
#   is honoured within ``OPENBSS_AUTH_CACHE_SECONDS``;
# - a JWT is never trusted past its own ``exp``;
# - failures are never cached.
_CACHE_MAX = 10_000
_cache: dict[str, tuple[Principal, str, float]] = {}  # header hash -> principal, key, until
_cache_lock = threading.Lock()
_generation = 0  # bumped by every invalidation: a lookup begun before it is not cached


def _header_hash(authorization: str) -> str:
    return hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()


def cached_principal(authorization: str | None) -> Principal | None:
    """The principal of these credentials if this process checked them less than
    ``OPENBSS_AUTH_CACHE_SECONDS`` ago and nothing invalidated them; no database."""
    if not authorization or not _cache:
        return None
    entry = _cache.get(_header_hash(authorization))
    if entry is None:
        return None
    if entry[2] <= clock.monotonic():
        with _cache_lock:
            _cache.pop(_header_hash(authorization), None)
        return None
    return entry[0]


def _remember(authorization: str, principal: Principal, prefix: str, generation: int,
              not_after: float | None = None) -> None:
    ttl = get_settings().auth_cache_seconds
    if ttl <= 0:
        return
    until = clock.monotonic() + ttl
    if not_after is not None:
        until = min(until, clock.monotonic() + (not_after - clock.epoch_seconds()))
    with _cache_lock:
        if generation != _generation:
            return  # a key changed while we were reading it: do not keep what we read
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[_header_hash(authorization)] = (principal, prefix, until)


def forget_api_key(prefix: str | None = None) -> None:
    """Drop what this process remembers of the key ``prefix`` (of every key if None)."""
    global _generation
    with _cache_lock:
        _generation += 1
        if prefix is None:
            _cache.clear()
            return
        for header, entry in list(_cache.items()):
            if entry[1] == prefix:
                del _cache[header]


forget_on_change(ApiKey, key=lambda row: row.prefix, forget=forget_api_key)


def authenticate(session: Session, authorization: str | None) -> Principal:
    """Resolve an ``Authorization: Bearer`` header to a principal or raise 401 (from the
    principal cache when this process checked the same credentials a moment ago)."""
    hit = cached_principal(authorization)
    if hit is not None:
        return hit
    generation = _generation
    principal, prefix, not_after = _check(session, authorization)
    assert authorization is not None
    _remember(authorization, principal, prefix, generation, not_after)
    return principal


def _check(session: Session, authorization: str | None) -> tuple[Principal, str, float | None]:
    if not authorization:
        raise AuthenticationError("missing Authorization header; send 'Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Authorization must be 'Bearer <token>'")
    if token.startswith(f"{KEY_PREFIX}_"):
        principal = _api_key_principal(session, token)
        return principal, principal.actor.partition(":")[2], None
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "sub", "tid", "role", "kb"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthenticationError(f"invalid token: {exc}") from exc
    # A token outlives nothing it was issued for: the key behind it must still be valid.
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == claims["sub"]))
    if key is None or key.revoked_at is not None or key.tenant_id != claims["tid"] \
            or not hmac.compare_digest(str(claims["kb"]), key_binding(key.key_hash)):
        raise AuthenticationError("the client behind this token is unknown or revoked")
    return (Principal(tenant_id=key.tenant_id, role=key.role, actor=f"client:{key.prefix}",
                      key_id=key.id), key.prefix, float(claims["exp"]))


def issue_token(session: Session, *, client_id: str, client_secret: str) -> tuple[str, int]:
    """OAuth2 client credentials: client_id is the key prefix, client_secret the key."""
    principal = _api_key_principal(session, client_secret)
    if principal.actor != f"apikey:{client_id}":
        raise AuthenticationError("client_id does not match client_secret")
    key = session.get(ApiKey, principal.key_id)
    assert key is not None
    ttl = get_settings().jwt_ttl_seconds
    now = clock.utcnow()
    claims = {
        "sub": client_id,
        "tid": principal.tenant_id,
        "role": principal.role,
        "kb": key_binding(key.key_hash),
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
    }
    return jwt.encode(claims, signing_key(), algorithm=JWT_ALGORITHM), ttl


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFoundError(f"no tenant named {name!r}", field="tenant")
    return tenant
