"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL from
``OPENBSS_DATABASE_URL``), the app under a TestClient, and tenants with API keys.

Tests isolate themselves by creating their own tenant (tenants cannot see each other),
so the database is migrated once per run and nothing is rolled back between tests.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

# The machine is shared and noisy: a slow draw is the machine's, not the strategy's. Every
# other health check stays on.
settings.register_profile("openbss", suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("openbss")


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("OPENBSS_DATABASE_URL", "").startswith("postgresql"):
        # A database of this run's own (per xdist worker), so concurrent runs in one
        # checkout never delete each other's files; removed when the run ends.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        base = Path(tempfile.mkdtemp(prefix=f"openbss-test-{worker}-"))
        atexit.register(shutil.rmtree, base, True)
        os.environ["OPENBSS_DATABASE_URL"] = f"sqlite:///{base / 'openbss.db'}"
    os.environ.setdefault("OPENBSS_SECRET_KEY", "test-secret-key-for-the-suite-not-for-production")
    os.environ.setdefault("OPENBSS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("OPENBSS_BASE_URL", "http://testserver")
    # Test listeners run on 127.0.0.1; the SSRF guard's own tests switch this off.
    os.environ.setdefault("OPENBSS_WEBHOOK_ALLOW_PRIVATE", "true")


@pytest.fixture(scope="session")
def database_url() -> str:
    from openbss.core.config import get_settings
    from openbss.core.migrate import upgrade

    get_settings.cache_clear()
    url = get_settings().database_url
    # xdist workers share a PostgreSQL database: one migrates at a time (the others then
    # find it at head), so two never race to create the same tables.
    lock = Path(tempfile.gettempdir()) / (
        "openbss-migrate-" + hashlib.sha256(url.encode()).hexdigest()[:16] + ".lock")
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            upgrade(url)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return url


@pytest.fixture(scope="session")
def app(database_url: str):  # type: ignore[no-untyped-def]
    from openbss.app import create_app

    return create_app()


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


_counter = itertools.count()


@dataclass
class TenantKeys:
    name: str
    id: str
    keys: dict[str, str]

    def headers(self, role: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


@pytest.fixture
def make_tenant(database_url: str) -> Callable[..., TenantKeys]:
    from openbss.core.auth import ROLES, create_api_key
    from openbss.core.db import unit_of_work
    from openbss.core.service import create_tenant

    def factory(*, sandbox: bool = False, clock_start: datetime | None = None,
                region: str = "US") -> TenantKeys:
        name = f"t{next(_counter)}-{uuid.uuid4().hex[:8]}"
        with unit_of_work() as session:
            tenant = create_tenant(session, name=name, sandbox=sandbox, clock_start=clock_start,
                                   default_region=region)
            keys = {role: create_api_key(session, tenant=tenant, role=role) for role in ROLES}
            return TenantKeys(name=name, id=tenant.id, keys=keys)

    return factory


@pytest.fixture
def tenant(make_tenant: Callable[..., TenantKeys]) -> TenantKeys:
    return make_tenant()


@pytest.fixture
def other_tenant(make_tenant: Callable[..., TenantKeys]) -> TenantKeys:
    return make_tenant()


@pytest.fixture
def tmf_schema() -> Callable[[str, str, Any], None]:
    """``tmf_schema("TMF620-ProductCatalog-v4.0.0.swagger.json", "ProductOffering", body)``
    fails the test with every schema violation of ``body``."""
    from tmf_schema import assert_valid

    return assert_valid
