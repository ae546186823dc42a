"""The fast request path: the route index picks exactly the route FastAPI would, and
``def`` endpoints run inline on the event loop on SQLite (except those marked off the
loop), without changing what any request answers."""

from __future__ import annotations

import re
import threading
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, _IncludedRouter, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match

from openbss.app import create_app
from openbss.core import db
from openbss.core.routing import ExactRoute, install_route_index, off_loop, runs_inline

METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT")


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "",
            "headers": [], "query_string": b""}


def _pick(app: FastAPI, method: str, path: str) -> tuple[Any, ...]:
    """What the app's router selects for (method, path): the first top-level route that
    matches FULL (else the first PARTIAL), and in it the endpoint and path params."""
    partial: tuple[Any, ...] | None = None
    for index, route in enumerate(app.router.routes):
        scope = _scope(method, path)
        match, child = route.matches(scope)
        selected: Any = route
        if isinstance(route, _IncludedRouter):
            match, child, selected, _ = route._match(scope)
        endpoint = child.get("endpoint")
        picked = (match, index, getattr(endpoint, "__qualname__", None),
                  getattr(selected, "path", None), getattr(selected, "name", None),
                  child.get("path_params"))
        if match == Match.FULL:
            return picked
        if match == Match.PARTIAL and partial is None:
            partial = picked
    return partial or (Match.NONE,)


def _sample_paths(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in, plus near misses."""
    paths = set()
    for context in iter_route_contexts(app.router.routes):
        path = getattr(context, "path", None) or ""
        if not path:
            continue
        concrete = re.sub(r"\{[^}]+\}", "abc123", path)
        paths |= {concrete, concrete + "/", concrete + "/extra", concrete[:-1],
                  concrete.replace("abc123", "")}
    return sorted(paths | {"/", "/nope", "/tmf-api/", "/api/v1/"})


def test_the_route_index_selects_what_fastapi_selects_for_every_path_and_method() -> None:
    indexed = create_app()
    stock = create_app()
    for route in stock.router.routes:  # undo the index: FastAPI's own matching
        if isinstance(route, _IncludedRouter):
            route.__class__ = _IncludedRouter
    assert any(type(r).__name__ == "IndexedIncludedRouter" for r in indexed.router.routes)
    paths = _sample_paths(indexed)
    assert len(paths) > 100
    for path in paths:
        for method in METHODS:
            assert _pick(indexed, method, path) == _pick(stock, method, path), (method, path)


def test_the_index_answers_like_fastapi_for_misses_wrong_methods_and_slashes() -> None:
    router = APIRouter(route_class=ExactRoute)

    @router.get("/a/{id}")
    def get_a(id: str) -> dict[str, str]:
        return {"a": id}

    @router.get("/a/{id}/b")
    def get_b(id: str) -> dict[str, str]:
        return {"b": id}

    @router.get("/c")
    def get_c() -> dict[str, str]:
        return {"c": "1"}

    answers = []
    for index in (False, True):
        app = FastAPI()
        app.include_router(router)
        if index:
            assert install_route_index(app) == 1
        client = TestClient(app)
        answers.append([
            (r.status_code, r.text, r.headers.get("allow"), r.headers.get("location"))
            for r in (client.get("/a/1"), client.get("/a/1/b"), client.get("/c"),
                      client.post("/a/1"), client.get("/a"),
                      client.get("/c/", follow_redirects=False), client.get("/zzz"))
        ])
    assert answers[0] == answers[1]
    assert answers[1][0][:2] == (200, '{"a":"1"}')
    assert answers[1][3][0] == 405
    assert answers[1][5][0] == 307


def _thread_app() -> tuple[FastAPI, dict[str, int]]:
    seen: dict[str, int] = {}
    router = APIRouter(route_class=ExactRoute)

    @router.get("/loop")
    async def on_the_loop() -> dict[str, bool]:
        seen["loop"] = threading.get_ident()
        return {"ok": True}

    @router.get("/plain")
    def plain() -> dict[str, bool]:
        seen["plain"] = threading.get_ident()
        return {"ok": True}

    @router.get("/network")
    @off_loop
    def network() -> dict[str, bool]:
        seen["network"] = threading.get_ident()
        return {"ok": True}

    app = FastAPI()
    app.include_router(router)
    return app, seen


def test_def_endpoints_run_on_the_loop_on_sqlite_and_marked_ones_in_the_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "is_sqlite", lambda url=None: True)  # also when CI runs PG
    app, seen = _thread_app()
    with TestClient(app) as client:  # one event loop (portal thread) for every request
        for path in ("/loop", "/plain", "/network"):
            assert client.get(path).json() == {"ok": True}
    assert seen["plain"] == seen["loop"]
    assert seen["network"] != seen["loop"]


def test_on_postgresql_def_endpoints_stay_in_the_thread_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "is_sqlite", lambda url=None: False)
    app, seen = _thread_app()
    with TestClient(app) as client:
        for path in ("/loop", "/plain"):
            assert client.get(path).json() == {"ok": True}
    assert seen["plain"] != seen["loop"]


def test_which_endpoints_may_run_inline() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    def generator() -> Any:
        yield 1

    assert runs_inline(plain)
    assert not runs_inline(coroutine)
    assert not runs_inline(generator)
    assert not runs_inline(off_loop(lambda: None))


def test_every_hub_registration_waits_on_the_network_off_the_loop() -> None:
    app = create_app()
    hubs = [r for r in iter_route_contexts(app.router.routes)
            if isinstance(r.original_route, APIRoute) and r.path.endswith("/hub")
            and "POST" in r.methods]
    assert len(hubs) >= 5
    for hub in hubs:
        original = hub.original_route.original_endpoint
        assert not runs_inline(original), hub.path


async def _dep() -> str:
    return "dep"


def test_inline_endpoints_keep_fastapi_signature_handling() -> None:
    """Path, query and dependency parameters reach a wrapped endpoint as before."""
    router = APIRouter(route_class=ExactRoute)

    @router.get("/x/{id}")
    def endpoint(id: int, q: str, d: Annotated[str, Depends(_dep)]) -> dict[str, Any]:
        return {"id": id, "q": q, "d": d}

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    assert client.get("/x/7?q=z").json() == {"id": 7, "q": "z", "d": "dep"}
    assert client.get("/x/seven?q=z").status_code == 422
    assert client.get("/x/7").status_code == 422


def test_a_sqlite_write_takes_the_lock_before_the_endpoint_runs_on_the_loop(
        client: TestClient, tenant: Any) -> None:
    """Another connection holding SQLite's write lock makes a write wait (in a thread,
    not on the loop): a GET on the same server answers meanwhile."""
    import sqlite3
    import time

    from openbss.core.config import get_settings

    url = get_settings().database_url
    if not url.startswith("sqlite"):
        pytest.skip("SQLite only")
    path = url.split("///", 1)[1]
    blocker = sqlite3.connect(path, timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    results: dict[str, Any] = {}

    def write() -> None:
        results["post"] = client.post(
            "/tmf-api/productCatalogManagement/v4/productOffering",
            json={"name": "waits for the lock"}, headers=tenant.headers())
        results["post_done"] = time.monotonic()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.5)
    read = client.get("/health")
    read_done = time.monotonic()
    assert read.status_code == 200
    assert "post" not in results  # still waiting for the lock
    blocker.execute("COMMIT")
    blocker.close()
    thread.join(timeout=30)
    assert results["post"].status_code == 201, results["post"].text
    assert results["post_done"] > read_done


def test_try_begin_write_takes_a_free_lock_and_never_waits_for_a_held_one(
        database_url: str) -> None:
    import sqlite3
    import time

    from sqlalchemy import text

    from openbss.core.db import WRITE_INTENT, session_factory, try_begin_write

    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    path = database_url.split("///", 1)[1]
    token = WRITE_INTENT.set(True)
    try:
        session = session_factory()()
        assert try_begin_write(session)  # free: taken at once, as BEGIN IMMEDIATE
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        session.rollback()
        session.close()

        other.execute("BEGIN IMMEDIATE")  # now another connection holds it
        session = session_factory()()
        started = time.monotonic()
        assert not try_begin_write(session)
        assert time.monotonic() - started < 1  # no busy-handler naps
        other.execute("COMMIT")
        other.close()
        # the session is usable afterwards, and waits normally (busy timeout restored)
        assert session.execute(text("select 1")).scalar() == 1
        session.rollback()
        session.close()
    finally:
        WRITE_INTENT.reset(token)


def test_the_checkpointer_empties_the_wal_in_the_background(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sqlite3
    import time

    from openbss.core import db

    path = str(tmp_path / "c.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # nothing checkpoints but the thread
    conn.execute("CREATE TABLE t (x TEXT)")
    for _ in range(100):
        conn.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
    size_before = os.path.getsize(path)
    rounds: list[tuple[int, int, int]] = []
    real = db.checkpoint

    def recording(p: str) -> tuple[int, int, int]:
        result = real(p)
        if p == path:  # another test's server may still run its own checkpointer thread
            rounds.append(result)
        return result

    monkeypatch.setattr(db, "checkpoint", recording)
    started = db.start_checkpointer(f"sqlite:///{path}", interval=0.05)
    assert started is not None
    thread, stop = started
    deadline = time.monotonic() + 10
    while not rounds and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    busy, frames, done = rounds[0]
    assert busy == 0 and frames > 0 and done == frames  # the whole WAL, by the thread
    assert os.path.getsize(path) > size_before + 100_000  # now in the database file
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 100
    conn.close()
    assert db.start_checkpointer("postgresql://u@h/db") is None


def test_catalog_jobs_run_off_the_event_loop(app):
    """An import or export computes for long: its create endpoint is marked off_loop, so it
    never blocks the event loop on SQLite; ordinary creates still run inline."""
    from route_walk import api_routes

    creates = {route.path: route.original_endpoint for route in api_routes(app)
               if "POST" in route.methods}
    prefix = "/tmf-api/productCatalogManagement/v4"
    assert not runs_inline(creates[f"{prefix}/importJob"])
    assert not runs_inline(creates[f"{prefix}/exportJob"])
    assert runs_inline(creates[f"{prefix}/productOffering"])
