"""Settings from the environment (``OPENBSS_`` prefix), read once per process.

Where openbss keeps its files does not depend on the current directory: everything is
relative to the *home* directory, resolved once (:func:`openbss_home`): ``OPENBSS_HOME``
if set; else the directory holding the virtualenv openbss runs from (the clone, for
``scripts/run``'s ``./.venv``); else ``~/.local/share/openbss``. The default database is
``<home>/var/openbss.db``, a relative SQLite path in ``OPENBSS_DATABASE_URL`` and a
relative ``OPENBSS_CATALOG_IMPORT_DIR`` are taken relative to the home, and ``.env`` is
read from the home.

The secret key is ``OPENBSS_SECRET_KEY``, else the contents of ``OPENBSS_SECRET_KEY_FILE``
(default ``<home>/var/secret-key``, which ``scripts/run`` creates). :func:`secret_key_problem`
says why a key is unfit (unset, the old public default, shorter than 32 bytes); every
command that uses it refuses to run with such a key.
"""

from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

#: The default of earlier versions: public, so never accepted.
OLD_DEFAULT_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_BYTES = 32
HOW_TO_SET_SECRET_KEY = (
    "set one with: export OPENBSS_SECRET_KEY=\"$(python3 -c 'import secrets; "
    "print(secrets.token_urlsafe(48))')\" (or write it to the file OPENBSS_SECRET_KEY_FILE "
    "names, default <home>/var/secret-key, mode 0600; scripts/run does this for you)"
)


def openbss_home() -> Path:
    """The data directory: ``OPENBSS_HOME``, else the virtualenv's parent, else
    ``~/.local/share/openbss`` (absolute; never the current directory)."""
    env = os.environ.get("OPENBSS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    if sys.prefix != sys.base_prefix:  # inside a virtualenv
        return Path(sys.prefix).resolve().parent
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(data) / "openbss").resolve()


def _under(home: Path, path: str) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (home / p).resolve())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENBSS_", env_file=".env", extra="ignore")

    home: str = Field(default="", description="Data directory (see openbss_home())")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db; "
        "default sqlite:///<home>/var/openbss.db",
    )
    secret_key: str = Field(
        default="",
        description="Signs JWTs and webhook payloads; derives the field-encryption key.",
    )
    secret_key_file: str = Field(
        default="var/secret-key",
        description="Read when OPENBSS_SECRET_KEY is unset (relative to the home)",
    )
    default_currency: str = Field(
        default="EUR", description="Currency of new tenants (ISO 4217)", pattern="^[A-Z]{3}$"
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
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="SQLite durability: NORMAL (WAL fsynced at checkpoints, about every "
        "second under load: a power loss may lose the last commits, never corrupt) or FULL "
        "(the WAL fsynced at every commit: nothing committed is lost; slower writes)",
    )
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
        default="var/import",
        description="Where TMF620 importJob may read file:// URLs (relative to the home)",
    )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        home = Path(self.home).expanduser().resolve() if self.home else openbss_home()
        self.home = str(home)
        if not self.database_url:
            self.database_url = f"sqlite:///{home / 'var' / 'openbss.db'}"
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
                and not url.database.startswith("file:"):
            absolute = _under(home, url.database)
            if absolute != url.database:
                self.database_url = url.set(database=absolute).render_as_string(
                    hide_password=False)
        self.catalog_import_dir = _under(home, self.catalog_import_dir)
        self.secret_key_file = _under(home, self.secret_key_file)
        if not self.secret_key:
            with contextlib.suppress(OSError):
                self.secret_key = Path(self.secret_key_file).read_text(encoding="utf-8").strip()
        return self

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the database is SQLite (None for memory or a server)."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database \
                or url.database == ":memory:":
            return None
        return Path(url.database)


def secret_key_problem(settings: Settings) -> str | None:
    """Why ``settings.secret_key`` is unfit to sign tokens and derive keys (None: fit)."""
    key = settings.secret_key
    if not key:
        return (f"OPENBSS_SECRET_KEY is not set (and there is no key file at "
                f"{settings.secret_key_file})")
    if key == OLD_DEFAULT_SECRET_KEY:
        return "OPENBSS_SECRET_KEY is the old public default 'dev-insecure-change-me'"
    size = len(key.encode())
    if size < MIN_SECRET_KEY_BYTES:
        return (f"OPENBSS_SECRET_KEY is {size} bytes long; it must be at least "
                f"{MIN_SECRET_KEY_BYTES} bytes")
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(_env_file=openbss_home() / ".env")
