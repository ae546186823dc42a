"""A small fake TMF641 v4 OSS on loopback, with scripted behaviours, for the ``tmf641``
provisioning adapter's tests.

``FakeOss().start()`` serves ``/tmf-api/serviceOrdering/v4`` on ``127.0.0.1`` (a free port)
from a thread; ``base_url`` is what a tenant's ``provisioning.baseUrl`` is set to. It keeps
what it received (``received``: method, path, body) and the orders it accepted
(``orders``), which survive :meth:`stop` / :meth:`start` (a restart on the same port).

Behaviours (set the attributes before or between calls):

- ``steps_to_complete``: an accepted order is ``acknowledged``; each ``GET`` of it moves it
  one state on (``inProgress`` … ``completed``); 0 completes it at once;
- ``fail_when(item_body) -> bool``: items for which it is true end ``failed`` (an order
  with only failed items is ``failed``, with some is ``partial``);
- ``delay_next_posts`` / ``delay_seconds``: the next POSTs wait before answering (the
  order is kept all the same: a client that timed out finds it later);
- ``crash_after_accepting``: the next POST stores the order, then the server drops the
  connection without an answer and stops (a crash between the OSS's commit and its
  answer); :meth:`start` brings it back.
- ``server_errors``: the next requests answer 503;
- ``refuse_posts``: the next POSTs of an order answer 400 (the OSS refuses it).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/tmf-api/serviceOrdering/v4"
PROGRESS = ("acknowledged", "inProgress", "completed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FakeOss:
    def __init__(self) -> None:
        self.port = _free_port()
        self.orders: dict[str, dict[str, Any]] = {}
        self.gets: dict[str, int] = {}
        self.hubs: dict[str, dict[str, Any]] = {}
        self.received: list[tuple[str, str, Any]] = []
        self.steps_to_complete = 0
        self.fail_when: Callable[[dict[str, Any]], bool] = lambda item: False
        self.delay_next_posts = 0
        self.delay_seconds = 0.0
        self.crash_after_accepting = False
        self.server_errors = 0
        self.refuse_posts = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeOss:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def wait_stopped(self, seconds: float = 5.0) -> None:
        until = time.monotonic() + seconds
        while (self._server is not None or self._thread is not None) and \
                time.monotonic() < until:
            time.sleep(0.02)
        assert self._server is None, "the fake OSS did not stop"

    # -- scripted state ----------------------------------------------------------------

    def posted_orders(self) -> list[dict[str, Any]]:
        return [body for method, path, body in self.received
                if method == "POST" and path == f"{PREFIX}/serviceOrder"]

    def set_state(self, order_id: str, state: str) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            order["state"] = state
            order["_pinned"] = True  # stays there until set again
            return json.loads(json.dumps(order))

    def _accept(self, body: dict[str, Any]) -> dict[str, Any]:
        order = json.loads(json.dumps(body))
        order["id"] = uuid.uuid4().hex[:12]
        order["href"] = f"{self.base_url}/serviceOrder/{order['id']}"
        failed = 0
        for item in order.get("serviceOrderItem", []):
            service = item.setdefault("service", {})
            if item.get("action") == "add":
                service.setdefault("id", "svc-" + uuid.uuid4().hex[:10])
            item["_fails"] = self.fail_when(item)
            failed += item["_fails"]
        order["_failed"] = failed
        self.orders[order["id"]] = order
        self.gets[order["id"]] = 0
        self._advance(order, 0)
        return order

    def _advance(self, order: dict[str, Any], gets: int) -> None:
        if order.get("_pinned") or order.get("state") in (
                "completed", "failed", "partial", "cancelled", "rejected"):
            return
        step = PROGRESS[min(gets, len(PROGRESS) - 1)] if self.steps_to_complete else \
            "completed"
        if self.steps_to_complete and gets >= self.steps_to_complete:
            step = "completed"
        items = order.get("serviceOrderItem", [])
        if step == "completed" and order["_failed"]:
            order["state"] = "failed" if order["_failed"] == len(items) else "partial"
            for item in items:
                item["state"] = "failed" if item["_fails"] else "completed"
            return
        order["state"] = step
        for item in items:
            item["state"] = step

    @staticmethod
    def view(order: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in order.items() if not k.startswith("_")}
        out["serviceOrderItem"] = [{k: v for k, v in item.items() if not k.startswith("_")}
                                   for item in order.get("serviceOrderItem", [])]
        return out

    # -- HTTP --------------------------------------------------------------------------

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.lock:
            self.received.append((method, url.path, body))
            if self.server_errors:
                self.server_errors -= 1
                return self._reply(handler, 503, {"code": "busy"})
        if not url.path.startswith(PREFIX):
            return self._reply(handler, 404, {"code": "notFound"})
        path = url.path[len(PREFIX):]
        if path == "/serviceOrder" and method == "POST":
            return self._post_order(handler, body)
        if path == "/serviceOrder" and method == "GET":
            wanted = parse_qs(url.query).get("externalId")
            with self.lock:
                found = [self.view(o) for o in self.orders.values()
                         if not wanted or o.get("externalId") in wanted]
            return self._reply(handler, 200, found)
        if path.startswith("/serviceOrder/") and method == "GET":
            order_id = path.rsplit("/", 1)[1]
            with self.lock:
                order = self.orders.get(order_id)
                if order is None:
                    return self._reply(handler, 404, {"code": "notFound"})
                self.gets[order_id] += 1
                self._advance(order, self.gets[order_id])
                view = self.view(order)
            return self._reply(handler, 200, view)
        if path == "/hub" and method == "POST":
            if not isinstance(body, dict) or not body.get("callback"):
                return self._reply(handler, 400, {"code": "missingCallback"})
            hub = {"id": uuid.uuid4().hex[:8], "callback": body["callback"],
                   "query": body.get("query")}
            with self.lock:
                self.hubs[hub["id"]] = hub
            return self._reply(handler, 201, hub)
        if path.startswith("/hub/") and method == "DELETE":
            with self.lock:
                gone = self.hubs.pop(path.rsplit("/", 1)[1], None)
            return self._reply(handler, 204 if gone else 404)
        return self._reply(handler, 404, {"code": "notFound"})

    def _post_order(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("serviceOrderItem"):
            return self._reply(handler, 400, {"code": "missingServiceOrderItem"})
        with self.lock:
            refuse, self.refuse_posts = self.refuse_posts > 0, max(0, self.refuse_posts - 1)
        if refuse:
            return self._reply(handler, 400, {"code": "unknownServiceSpecification"})
        with self.lock:
            delay = self.delay_seconds if self.delay_next_posts else 0.0
            self.delay_next_posts = max(0, self.delay_next_posts - 1)
            order = self._accept(body)
            view = self.view(order)
            crash, self.crash_after_accepting = self.crash_after_accepting, False
        if crash:  # committed, then gone before answering
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            threading.Thread(target=self.stop, daemon=True).start()
            return None
        if delay:
            time.sleep(delay)
        return self._reply(handler, 201, view)
