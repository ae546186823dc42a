"""The request log never shows the secret of a TMF641 notification URL
(``/callbacks/tmf641/{tenant}/{secret}``): the route template is logged instead, and a
callback refused before routing (a body over the limit) is logged redacted."""

from __future__ import annotations

from typing import Any

from openbss.core import middleware
from ordering.fake_oss import FakeOss  # type: ignore[import-not-found]
from ordering.test_tmf641_api import add_step, event, register  # type: ignore[import-not-found]
from ordering.test_tmf641_api import oss as oss


class Recorder:
    """Stands in for the middleware's logger: every call, with its fields."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *args: Any, **fields: Any) -> None:
            self.entries.append({"level": level, "event": event, "args": args, **fields})
        return record


def test_no_callback_secret_reaches_the_request_log(client, tenant, oss: FakeOss,  # type: ignore[no-untyped-def]
                                                   monkeypatch):
    path = register(client, tenant, oss)
    secret = path.rsplit("/", 1)[1]
    add_step(tenant.id, "so-9")
    recorder = Recorder()
    monkeypatch.setattr(middleware, "log", recorder)
    logs = recorder.entries
    assert client.post(path, json=event("so-9", "completed")).status_code == 204
    assert client.post(path + "x", json=event("so-9")).status_code == 401
    big = client.post(path, content=b"x" * (21 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert client.get("/tmf-api/productInventory/v4/product",
                      headers=tenant.headers()).status_code == 200
    requests = [entry for entry in logs if entry.get("event") == "request"]
    assert [e["path"] for e in requests] == [
        "/callbacks/tmf641/{tenant}/{secret}", "/callbacks/tmf641/{tenant}/{secret}",
        "/callbacks/***", "/tmf-api/productInventory/v4/product"]
    assert secret not in repr(logs)
