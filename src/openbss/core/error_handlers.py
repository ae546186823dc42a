"""TMF630 Error bodies and the exception handlers that turn every error into one."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from openbss.core.errors import OpenBSSError

log = structlog.get_logger("openbss.http")


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
