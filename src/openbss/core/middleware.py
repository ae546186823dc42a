"""The unit-of-work middleware: authentication before the body, the request's
transaction, ``Idempotency-Key`` replay, metrics and the request log line."""

from __future__ import annotations

import json
import random
from typing import Any

import anyio
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbss.core import clock, crypto, idempotency
from openbss.core.auth import Principal, authenticate, cached_principal
from openbss.core.db import (
    WRITE_INTENT,
    is_sqlite,
    run_local,
    session_factory,
    try_begin_write,
    write_gate,
)
from openbss.core.error_handlers import error_body, error_response
from openbss.core.errors import AuthenticationError, IdempotencyKeyReusedError
from openbss.core.models import IdempotencyRecord

log = structlog.get_logger("openbss.http")

REQUESTS = Counter(
    "openbss_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
LATENCY = Histogram(
    "openbss_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
MAX_BODY_BYTES = 20 * 1024 * 1024
# Every route under these prefixes needs a bearer token (health, metrics, docs and
# /oauth/token are outside them).
AUTHENTICATED_PREFIXES = ("/tmf-api/", "/api/")
# GET routes that write (an audit row of the read itself).
AUDITED_READ_SUFFIXES = ("/personal-data", "/document")  # a bill's PDF: stored once


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _loggable_path(scope: Scope, route_path: str) -> str:
    """The path for the request log: the route template for routes with a secret in the
    path (TMF641 callbacks), so no secret reaches the logs; unmatched callbacks redacted."""
    if "{secret" in route_path:
        return route_path
    path = str(scope.get("path") or "")
    return "/callbacks/***" if path.startswith("/callbacks/") else path


def _request_id() -> str:
    """A request id (32 hex digits, like a UUID4's): random but not a secret, so drawn from
    the process's PRNG — ``os.urandom`` is a system call that releases the GIL, and on the
    event loop each release lets a busy worker thread keep the loop waiting."""
    return f"{random.getrandbits(128):032x}"


class UnitOfWorkMiddleware:
    """Owns the request's transaction and implements ``Idempotency-Key`` on POST.

    The endpoint runs with a session in ``request.state.session``; when it answers
    with a status below 400 the session commits (together with the stored idempotent
    answer), otherwise it rolls back. A replayed key answers the stored response
    without running the endpoint again; the same key with another body answers 422.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = clock.perf_counter()
        request_id = _header(scope, b"x-request-id") or _request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method: str = scope["method"]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_holder: dict[str, Any] = {}
        sessions: list[Session] = []
        try:
            await self._handle(scope, receive, send, sessions, method, request_id,
                               status_holder)
        finally:
            for session in sessions:
                if session.in_transaction():  # rolls back over the network: not on the loop
                    await anyio.to_thread.run_sync(session.close)
                else:
                    session.close()
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            status = status_holder.get("status", 500)
            elapsed = clock.perf_counter() - started
            REQUESTS.labels(method, route_path, str(status)).inc()
            LATENCY.labels(method, route_path).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=_loggable_path(scope, route_path),
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                tenant=state.get("tenant_name"),
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, sessions: list[Session],
        method: str, request_id: str, status_holder: dict[str, Any],
    ) -> None:
        # 1. A declared body above the limit is refused before a byte of it is read.
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() \
                and int(declared) > MAX_BODY_BYTES:
            await self._too_large(send, status_holder, request_id)
            return
        # 2. Authenticate from the headers alone, before the body is read: a request
        # without valid credentials answers 401 whatever (and however much) it sends.
        # Credentials checked a moment ago come from the principal cache (no database,
        # no thread); others are checked in a worker thread with a short read session.
        principal: Principal | None = None
        if str(scope["path"]).startswith(AUTHENTICATED_PREFIXES):
            authorization = _header(scope, b"authorization")
            try:
                principal = cached_principal(authorization) or \
                    await anyio.to_thread.run_sync(self._authenticate, authorization)
            except AuthenticationError as exc:
                status_holder["status"] = exc.status
                response = error_response(exc)
                response.headers["x-request-id"] = request_id
                await response(scope, receive, send)
                return
            scope["state"]["principal"] = principal
        # 3. The body, bounded (a chunked body has no Content-Length to check up front).
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await self._too_large(send, status_holder, request_id)
                return

        key = _header(scope, idempotency.IDEMPOTENCY_HEADER.encode()) if method == "POST" else None
        request_hash = ""
        if key is not None:
            if not key.strip() or len(key) > idempotency.MAX_IDEMPOTENCY_KEY:
                await self._send_json(send, status_holder, 400, error_body(
                    400, "bad_request", "Bad request",
                    f"Idempotency-Key must be 1 to {idempotency.MAX_IDEMPOTENCY_KEY} characters",
                    "Idempotency-Key"), request_id)
                return
            request_hash = idempotency.request_hash(
                method, scope["path"], scope.get("query_string", b"").decode(), body
            )
        # 4. The request's unit of work (SQLite writers queue for the write lock first).
        writes = method in ("POST", "PUT", "PATCH", "DELETE") \
            or str(scope["path"]).endswith(AUDITED_READ_SUFFIXES)
        WRITE_INTENT.set(writes)
        gate = write_gate() if writes else None
        if gate is None:
            await self._unit_of_work(scope, receive, send, sessions, method, request_id,
                                     status_holder, principal, body, key, request_hash,
                                     local=is_sqlite())
            return
        async with gate:
            try:
                await self._unit_of_work(scope, receive, send, sessions, method,
                                         request_id, status_holder, principal, body, key,
                                         request_hash, local=True)
            finally:  # the lock is SQLite's until the transaction is over
                for session in sessions:
                    session.close()

    async def _unit_of_work(
        self, scope: Scope, receive: Receive, send: Send, sessions: list[Session], method: str,
        request_id: str, status_holder: dict[str, Any], principal: Principal | None,
        body: bytes, key: str | None, request_hash: str, *, local: bool = False,
    ) -> None:
        # ``local``: SQLite. The end of the unit of work (commit or rollback) runs on the
        # loop: a local file, no lock to wait for (the transaction holds it already), and
        # SQLite writers are serialized anyway (write_gate), so a thread hop would only
        # add latency to the queue. (An automatic WAL checkpoint may run in a commit: a
        # passive one, which never waits.) On PostgreSQL it runs in a worker thread.
        replayed = False

        async def replay_receive() -> Message:
            # the body once, then what the client does next (a disconnect): a streaming
            # response listens for it, and must not spin on an endless replayed body
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        session: Session = session_factory()()
        sessions.append(session)
        scope["state"]["session"] = session
        # SQLite: `def` endpoints run on the loop (core/routing.py), so the write lock is
        # taken first. When it is free (the usual case: this process's writers queue in
        # write_gate) BEGIN IMMEDIATE runs right here without waiting; when another
        # connection holds it (another process, this process's delivery worker) the
        # wait happens in a thread. Either way no statement of the endpoint then waits
        # for a lock on the loop.
        if local and WRITE_INTENT.get() and not try_begin_write(session):
            await anyio.to_thread.run_sync(session.connection)
        if principal is not None and key is not None:
            # PostgreSQL: the first statement of the transaction, in a thread
            stored = await run_local(idempotency.lookup, session,
                                     principal.tenant_id, key)
            if stored is not None:
                await self._replay(send, status_holder, stored, request_hash, request_id)
                return

        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, replay_receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status < 400:
            response_body = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            try:
                await run_local(self._commit, session, principal, key, request_hash,
                                status, start["headers"] if start else [], response_body)
            except IntegrityError:
                # A concurrent request with the same Idempotency-Key won the race:
                # our transaction is rolled back whole, and the winner's answer replayed.
                await run_local(session.rollback)
                if principal is not None and key is not None:
                    stored = await anyio.to_thread.run_sync(
                        idempotency.lookup, session, principal.tenant_id, key)
                    if stored is not None:
                        await self._replay(send, status_holder, stored, request_hash,
                                           request_id)
                        return
                await self._send_json(send, status_holder, 409, error_body(
                    409, "conflict", "Conflict",
                    "the change conflicts with a concurrent change; retry", None), request_id)
                return
        elif session.in_transaction():
            await run_local(session.rollback)
        status_holder["status"] = status
        for message in messages:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode())]
            await send(message)

    @staticmethod
    def _authenticate(authorization: str | None) -> Principal:
        """Check credentials with a short read-only session of their own (the request's
        session, which may take SQLite's write lock, is opened after the body is read)."""
        WRITE_INTENT.set(False)
        with session_factory()() as session:
            return authenticate(session, authorization)

    async def _too_large(self, send: Send, status_holder: dict[str, Any],
                         request_id: str) -> None:
        await self._send_json(send, status_holder, 413, error_body(
            413, "payload_too_large", "Payload too large",
            f"request bodies are limited to {MAX_BODY_BYTES} bytes", "body"), request_id)

    @staticmethod
    def _commit(
        session: Session, principal: Principal | None, key: str | None, request_hash: str,
        status: int, headers: list[tuple[bytes, bytes]], body: bytes,
    ) -> None:
        if principal is not None and key is not None:
            kept = [
                [k.decode("latin-1"), v.decode("latin-1")]
                for k, v in headers
                if k.lower() in (b"content-type", b"location", b"x-total-count",
                                 b"x-result-count")
            ]
            idempotency.store(
                session, tenant_id=principal.tenant_id, key=key, request_hash=request_hash,
                state="done", status_code=status, response_headers=kept,
                # the stored answer may hold personal data: encrypted at rest
                response_body=crypto.keyring(session, principal.tenant_id).encrypt(
                    body.decode("utf-8")),
            )
        session.commit()

    async def _replay(
        self, send: Send, status_holder: dict[str, Any], stored: IdempotencyRecord,
        request_hash: str, request_id: str,
    ) -> None:
        if stored.request_hash != request_hash:
            exc = IdempotencyKeyReusedError(
                "this Idempotency-Key was already used with a different request; "
                "use a new key for a new request", field="Idempotency-Key")
            await self._send_json(send, status_holder, exc.status, error_body(
                exc.status, exc.code, exc.reason, exc.message, exc.field), request_id)
            return
        status = stored.status_code or 200
        status_holder["status"] = status
        headers = [(k.encode("latin-1"), v.encode("latin-1"))
                   for k, v in (stored.response_headers or [])]
        headers += [(b"idempotent-replayed", b"true"), (b"x-request-id", request_id.encode())]
        payload = crypto.decrypt(stored.response_body or "").encode()
        headers = [h for h in headers if h[0].lower() != b"content-length"]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _send_json(
        send: Send, status_holder: dict[str, Any], status: int, body: dict[str, Any],
        request_id: str,
    ) -> None:
        status_holder["status"] = status
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", request_id.encode()),
        ]})
        await send({"type": "http.response.body", "body": payload})
