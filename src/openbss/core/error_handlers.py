"""TMF630 Error bodies and the exception handlers that turn every error into one."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
    headers = None
    field = exc.field
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
        field = field or "Authorization"  # what was wrong is the credentials sent there
    return JSONResponse(
        error_body(exc.status, exc.code, exc.reason, exc.message, field, exc.details),
        status_code=exc.status,
        headers=headers,
    )


_ABSENT = 1 << 30


def _position(data: Any, loc: Sequence[Any]) -> tuple[int, ...]:
    """Where the value at ``loc`` sits in ``data``, in document order (absent: last)."""
    positions: list[int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            positions.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            positions.append(part)
            node = node[part]
        else:
            positions.append(_ABSENT)
            break
    return tuple(positions)


def order_errors(errors: Sequence[Any], data: Any = None, skip: int = 0) -> list[Any]:
    """Pydantic errors with the first problem first: errors about values that were sent
    come first, in the order they appear in ``data`` (the body), then missing fields.

    ``skip`` leading parts of each ``loc`` are not paths into ``data`` (FastAPI's
    ``"body"``). Without ``data`` only the present/missing order applies.
    """

    def key(error: Any) -> tuple[bool, tuple[int, ...]]:
        missing = error.get("type") == "missing"
        loc = tuple(error.get("loc", ()))[skip:]
        return missing, (_position(data, loc) if data is not None else ())

    return sorted(errors, key=key)


_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")
_CONSTRAINT = re.compile(r'constraint "?(\w+)"?')


def _camel(column: str) -> str:
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def conflict_target(exc: IntegrityError) -> tuple[str | None, str | None]:
    """(resource table, API field) an integrity error is about, when the database says."""
    orig = exc.orig
    text = str(orig)
    diag = getattr(orig, "diag", None)  # psycopg: the constraint and table by name
    table = getattr(diag, "table_name", None)
    column = getattr(diag, "column_name", None)
    constraint = getattr(diag, "constraint_name", None)
    match = _UNIQUE.search(text)
    if match:  # SQLite: "UNIQUE constraint failed: party.tenant_id, party.external_id"
        columns = [c.split(".")[-1] for c in match.group(1).split(", ")]
        table = match.group(1).split(", ")[0].split(".")[0]
        named = [c for c in columns if c not in ("tenant_id", "id")]
        column = named[-1] if named else columns[-1]
    elif constraint is None and (found := _CONSTRAINT.search(text)):
        constraint = found.group(1)
    if constraint and not column:
        # naming convention: uq_<table>_<column>, fk_<table>_<column>_<referred table>
        for prefix in ("uq_", "fk_", "ck_", "pk_"):
            if constraint.startswith(prefix) and table and \
                    constraint[len(prefix):].startswith(table + "_"):
                rest = constraint[len(prefix) + len(table) + 1:]
                column = rest if prefix == "uq_" else rest.split("_")[0] or None
                break
    return table, (_camel(column) if column and column != "tenant_id" else None)


# Pydantic names the member of a union an error is about inside ``loc``
# (``birthDate.datetime``, ``value.function-after[...]``): not a field of the body.
_UNION_TAG = re.compile(
    r"^(?:str|int|float|bool|bytes|date|datetime|time|timedelta|decimal|none|uuid|url"
    r"|(?:list|dict|set|tuple|frozenset|function-(?:after|before|wrap|plain)|lax-or-strict"
    r"|json-or-python|literal|is-instance|chain|nullable|default|union|tagged-union"
    r"|constrained-\w+|model|dataclass|typed-dict)\[.*\]|constrained-\w+)$")


def clean_loc(loc: Sequence[Any]) -> tuple[Any, ...]:
    """``loc`` without pydantic's union-member tags."""
    return tuple(p for p in loc if not (isinstance(p, str) and _UNION_TAG.match(p)))


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    loc = clean_loc(loc)
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    parts = [str(p) for p in loc]
    path = ""
    for part in parts:
        if part.isdigit():
            path += f"[{part}]"
        else:
            path += ("." if path else "") + part
    return path or "body"


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
        errors = order_errors(errors, exc.body, skip=1)
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
        table, field = conflict_target(exc)
        what = f"{table}.{field}" if table and field else (table or field)
        text = str(exc.orig).lower()
        kind = "a duplicate value" if "unique" in text or "duplicate" in text else \
            "a missing reference" if "foreign key" in text else "conflicting data"
        message = (f"the change conflicts with existing data: {kind}"
                   + (f" in {what}" if what else "") + "; reload and retry")
        return JSONResponse(
            error_body(409, "conflict", "Conflict", message, field),
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
