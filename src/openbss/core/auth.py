"""API keys, OAuth2 client-credentials tokens (JWT) and roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

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


def authenticate(session: Session, authorization: str | None) -> Principal:
    """Resolve an ``Authorization: Bearer`` header to a principal or raise 401."""
    if not authorization:
        raise AuthenticationError("missing Authorization header; send 'Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Authorization must be 'Bearer <token>'")
    if token.startswith(f"{KEY_PREFIX}_"):
        return _api_key_principal(session, token)
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
    return Principal(tenant_id=key.tenant_id, role=key.role, actor=f"client:{key.prefix}",
                     key_id=key.id)


def issue_token(session: Session, *, client_id: str, client_secret: str) -> tuple[str, int]:
    """OAuth2 client credentials: client_id is the key prefix, client_secret the key."""
    principal = _api_key_principal(session, client_secret)
    if principal.actor != f"apikey:{client_id}":
        raise AuthenticationError("client_id does not match client_secret")
    key = session.get(ApiKey, principal.key_id)
    assert key is not None
    ttl = get_settings().jwt_ttl_seconds
    now = datetime.now(UTC)
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
