"""HTTP plumbing shared by every router: the unit-of-work and idempotency middleware,
TMF630 error bodies, request context and role checks."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram
from sqlalchemy import delete, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbss.core import jsonx
from openbss.core.auth import ROLES, Principal, authenticate
from openbss.core.config import get_settings
from openbss.core.context import Context, tenant_now
from openbss.core.db import WRITE_INTENT, session_factory
from openbss.core.errors import (
    AuthenticationError,
    IdempotencyKeyReusedError,
    NotFoundError,
    OpenBSSError,
    PermissionDeniedError,
)
from openbss.core.models import IdempotencyRecord, Tenant

log = structlog.get_logger("openbss.http")

REQUESTS = Counter(
    "openbss_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
LATENCY = Histogram(
    "openbss_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_BODY_BYTES = 20 * 1024 * 1024
# Every route under these prefixes needs a bearer token (health, metrics, docs and
# /oauth/token are outside them).
AUTHENTICATED_PREFIXES = ("/tmf-api/", "/api/")
# GET routes that write (an audit row of the read itself).
AUDITED_READ_SUFFIXES = ("/personal-data",)
MAX_IDEMPOTENCY_KEY = 255


def error_body(
    status: int, code: str, reason: str, message: str, field: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A TMF630 Error resource."""
    body: dict[str, Any] = {
        "@type": "Error",
        "code": code,
        "reason": reason,
        "message": message,
        "status": str(status),
        "referenceError": "https://openbss.dev/errors#" + code,
    }
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    return body


def error_response(exc: OpenBSSError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(
        error_body(exc.status, exc.code, exc.reason, exc.message, exc.field, exc.details),
        status_code=exc.status,
        headers=headers,
    )


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    parts = [str(p) for p in loc]
    path = ""
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += ("." if path else "") + part
    return path or ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenBSSError)
    async def _openbss(_: Request, exc: OpenBSSError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            msg = first.get("ctx", {}).get("error", "malformed JSON")
            return JSONResponse(
                error_body(400, "malformed_json", "Malformed JSON", f"request body: {msg}",
                           "body"),
                status_code=400,
            )
        details = [
            {"field": _loc_to_path(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in errors
        ]
        first = details[0]
        status = 400 if errors[0]["loc"] and errors[0]["loc"][0] in ("query", "header") else 422
        return JSONResponse(
            error_body(
                status,
                "invalid_value" if status == 422 else "bad_request",
                "Invalid value" if status == 422 else "Bad request",
                f"{first['field']}: {first['message']}",
                first["field"],
                details,
            ),
            status_code=status,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(exc.status_code, code, str(exc.detail), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity_error", error=str(exc.orig))
        return JSONResponse(
            error_body(409, "conflict", "Conflict",
                       "the change conflicts with existing data (duplicate or missing "
                       "reference); reload and retry"),
            status_code=409,
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        log.warning("data_error", error=str(exc.orig))
        return JSONResponse(
            error_body(422, "invalid_value", "Invalid value",
                       "a value is out of range or too long for its field"),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database_unavailable", error=str(exc.orig))
        return JSONResponse(
            error_body(503, "unavailable", "Service unavailable",
                       "the database is busy or unreachable; retry shortly"),
            status_code=503,
            headers={"Retry-After": "1"},
        )


def _request_hash(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


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
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        method: str = scope["method"]

        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await self._send_json(send, {}, 413, error_body(
                    413, "payload_too_large", "Payload too large",
                    f"request bodies are limited to {MAX_BODY_BYTES} bytes", "body"),
                    request_id)
                return

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        WRITE_INTENT.set(method in ("POST", "PUT", "PATCH", "DELETE")
                         or str(scope["path"]).endswith(AUDITED_READ_SUFFIXES))
        session: Session = session_factory()()
        state = scope.setdefault("state", {})
        state["session"] = session
        state["request_id"] = request_id
        status_holder: dict[str, Any] = {}
        try:
            await self._handle(scope, replay_receive, send, session, body, method,
                               request_id, status_holder)
        finally:
            if session.in_transaction():  # rolls back over the network: not on the loop
                await anyio.to_thread.run_sync(session.close)
            else:
                session.close()
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            status = status_holder.get("status", 500)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(method, route_path, str(status)).inc()
            LATENCY.labels(method, route_path).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope.get("path"),
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                tenant=state.get("tenant_name"),
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, session: Session, body: bytes,
        method: str, request_id: str, status_holder: dict[str, Any],
    ) -> None:
        key = _header(scope, IDEMPOTENCY_HEADER.encode()) if method == "POST" else None
        principal: Principal | None = None
        request_hash = ""
        if key is not None:
            if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY:
                await self._send_json(send, status_holder, 400, error_body(
                    400, "bad_request", "Bad request",
                    f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
                    "Idempotency-Key"), request_id)
                return
            request_hash = _request_hash(
                method, scope["path"], scope.get("query_string", b"").decode(), body
            )
        if str(scope["path"]).startswith(AUTHENTICATED_PREFIXES):
            # Authenticate before anything reads the body, so that a request without a
            # valid token answers 401 whatever it sends (never 400/422 about the body);
            # the stored idempotent answer is looked up in the same trip to the database.
            try:
                principal, stored = await anyio.to_thread.run_sync(
                    self._prepare, session, _header(scope, b"authorization"), key
                )
            except AuthenticationError as exc:
                response = error_response(exc)
                status_holder["status"] = exc.status
                await response(scope, receive, send)
                return
            scope["state"]["principal"] = principal
            if stored is not None:
                await self._replay(send, status_holder, stored, request_hash, request_id)
                return

        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status < 400:
            response_body = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            try:
                await anyio.to_thread.run_sync(
                    self._commit, session, principal, key, request_hash, status,
                    start["headers"] if start else [], response_body,
                )
            except IntegrityError:
                # A concurrent request with the same Idempotency-Key won the race:
                # our transaction is rolled back whole, and the winner's answer replayed.
                await anyio.to_thread.run_sync(session.rollback)
                if principal is not None and key is not None:
                    stored = await anyio.to_thread.run_sync(
                        self._lookup, session, principal.tenant_id, key
                    )
                    if stored is not None:
                        await self._replay(send, status_holder, stored, request_hash,
                                           request_id)
                        return
                await self._send_json(send, status_holder, 409, error_body(
                    409, "conflict", "Conflict",
                    "the change conflicts with a concurrent change; retry", None), request_id)
                return
        else:
            await anyio.to_thread.run_sync(session.rollback)
        status_holder["status"] = status
        for message in messages:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode())]
            await send(message)

    @classmethod
    def _prepare(
        cls, session: Session, authorization: str | None, key: str | None
    ) -> tuple[Principal, IdempotencyRecord | None]:
        principal = authenticate(session, authorization)
        stored = cls._lookup(session, principal.tenant_id, key) if key is not None else None
        return principal, stored

    @staticmethod
    def _lookup(session: Session, tenant_id: str, key: str) -> IdempotencyRecord | None:
        return session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key
            )
        )

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
            session.add(IdempotencyRecord(
                tenant_id=principal.tenant_id, key=key, request_hash=request_hash,
                state="done", status_code=status, response_headers=kept,
                response_body=body.decode("utf-8"),
            ))
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
        payload = (stored.response_body or "").encode()
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


def purge_idempotency_records(
    session: Session, *, older_than: datetime, tenant_id: str | None = None
) -> int:
    """Forget stored idempotent answers created before ``older_than`` (of one tenant, or
    all); returns the count."""
    stmt = delete(IdempotencyRecord).where(IdempotencyRecord.created_at < older_than)
    if tenant_id is not None:
        stmt = stmt.where(IdempotencyRecord.tenant_id == tenant_id)
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


class Requires:
    """Dependency that authenticates the caller, checks its role and builds the Context.

    ``Depends(Requires("catalog_manager"))`` lets that role and ``admin`` call the route;
    the allowed roles are kept on the object so tests and docs can enumerate them.
    """

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles) | {"admin"}

    def __call__(self, request: Request) -> Context:
        session: Session = request.state.session
        principal = getattr(request.state, "principal", None)  # set by the middleware
        if principal is None:
            principal = authenticate(session, request.headers.get("authorization"))
        if principal.role not in self.roles:
            raise PermissionDeniedError(
                f"role {principal.role!r} may not call this operation; allowed: "
                + ", ".join(sorted(self.roles)),
            )
        tenant = session.get(Tenant, principal.tenant_id)
        if tenant is None:
            raise NotFoundError("tenant no longer exists")
        request.state.tenant_name = tenant.name
        structlog.contextvars.bind_contextvars(tenant=tenant.name, actor=principal.actor)
        return Context(
            session=session,
            tenant=tenant,
            actor=principal.actor,
            role=principal.role,
            now=tenant_now(tenant),
            request_id=request.state.request_id,
            base_url=get_settings().base_url,
            correlation_id=request.headers.get("x-correlation-id", "") or
            request.state.request_id,
        )


ANY_ROLE: tuple[str, ...] = ROLES
Handler = Callable[..., Any]


class ExactJSONRequest(Request):
    """A request whose JSON body keeps non-integer numbers as exact ``Decimal``s."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsonx.loads(await self.body())
        return self._json


class ExactRoute(APIRoute):
    """Route class of every openbss router: JSON numbers in request bodies never pass
    through a float (``{"value": 0.1}`` arrives as ``Decimal("0.1")``)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            response: Response = await handler(ExactJSONRequest(request.scope, request.receive))
            return response

        return exact_handler
