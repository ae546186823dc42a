"""Alembic wiring: migrate to head and compare models with migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from openbss.core.db import get_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def revision(message: str, url: str | None = None) -> None:
    """Autogenerate a migration from the models (developer command)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def model_drift(metadata: MetaData, url: str | None = None) -> list[Any]:
    """Differences between ``metadata`` (every context's models: the caller passes
    ``openbss.all_models.metadata``, the kernel imports no context) and the migrated
    database (empty = in sync)."""
    with get_engine(url).connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs: list[Any] = compare_metadata(ctx, metadata)
        return diffs
