"""Settings from the environment (``OPENBSS_`` prefix), read once per process."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENBSS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/openbss.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(
        default="dev-insecure-change-me",
        description="Signs JWTs and webhook payloads; derives the field-encryption key.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=True, description="JSON log lines (false: console)")
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="Public base URL used in hrefs"
    )
    jwt_ttl_seconds: int = Field(default=3600, ge=60, description="Lifetime of OAuth2 tokens")
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, le=60,
        description="How long a process trusts an API key or token it has checked (0: "
        "never): a revoked key or changed role stops at once in the process that made the "
        "change, and in other server processes within this many seconds",
    )
    default_region: str = Field(default="US", description="Default phone-number region")
    max_page_size: int = Field(default=1000, ge=1)
    default_page_size: int = Field(default=100, ge=1)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
    webhook_allow_private: bool = Field(
        default=False,
        description="Let hub listener callbacks reach loopback and private networks "
        "(RFC 1918, CGNAT, fc00::/7); link-local, multicast and unspecified stay refused",
    )
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long a stored Idempotency-Key answer is replayed"
    )
    catalog_import_dir: str = Field(
        default="./var/import", description="Where TMF620 importJob may read file:// URLs"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
