"""TM Forum REST conventions (TMF630): hrefs, paging, field projection, filters,
sorting and JSON merge-patch."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    Select,
    SmallInteger,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from openbss.core.config import get_settings
from openbss.core.db import ExactDecimal
from openbss.core.errors import BadRequestError
from openbss.core.jsonx import ExactJSONResponse, number_problem
from openbss.core.routing import check_content_type

RESERVED_PARAMS = frozenset({"offset", "limit", "fields", "sort", "depth", "expand"})
OPERATORS = ("gt", "gte", "lt", "lte", "ne", "eq")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_FIELD_RE = re.compile(r"^[A-Za-z@][A-Za-z0-9_.@]*$")


@dataclass(frozen=True)
class ListParams:
    offset: int
    limit: int
    fields: frozenset[str] | None
    sort: tuple[str, ...]
    filters: tuple[tuple[str, str, list[str]], ...] = field(default=())


def _int_param(name: str, raw: str | None, default: int, minimum: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw[:60]!r}",
                              field=name) from None
    if value < minimum or value > maximum:
        raise BadRequestError(f"{name} must be between {minimum} and {maximum}", field=name)
    return value


def list_params(request: Request) -> ListParams:
    """Parse ``offset``, ``limit``, ``fields``, ``sort`` and attribute filters."""
    settings = get_settings()
    q = request.query_params
    for name in ("offset", "limit", "fields", "sort"):
        if len(q.getlist(name)) > 1:
            raise BadRequestError(f"{name} may be given only once", field=name)
    offset = _int_param("offset", q.get("offset"), 0, 0, 10**9)
    limit = _int_param("limit", q.get("limit"), settings.default_page_size, 1,
                       settings.max_page_size)
    fields = field_selection(q.get("fields"))
    for name in fields or ():
        if not _FIELD_RE.match(name):
            raise BadRequestError(f"invalid field name {name!r}", field="fields")
    sort = tuple(s.strip() for s in q.get("sort", "").split(",") if s.strip())
    filters: list[tuple[str, str, list[str]]] = []
    for key, value in q.multi_items():
        if key in RESERVED_PARAMS:
            continue
        name, op = key, "eq"
        head, _, tail = key.rpartition(".")
        if head and tail in OPERATORS:
            name, op = head, tail
        if not _FIELD_RE.match(name):
            raise BadRequestError(f"invalid filter attribute {key!r}", field=key)
        if "\x00" in value:  # no database stores it; PostgreSQL refuses it outright
            raise BadRequestError(f"{key} must not contain NUL characters", field=key)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # ?lastUpdate="2026-01-01T00:00:00Z" as TMF CTKs send
        filters.append((name, op, value.split(",") if op == "eq" else [value]))
    return ListParams(offset, limit, fields, sort, tuple(filters))


def _numeric(column: Any) -> Any:
    """An exact-decimal column as a number in SQL.

    ``ExactDecimal`` is text on SQLite, where comparing and sorting would be
    alphabetical ("10.00" < "9"); ``CAST(… AS NUMERIC) + 0`` compares numbers there (to
    double precision) and exactly on PostgreSQL.
    """
    return type_coerce(column, Numeric(asdecimal=True)) + 0


def _is_exact_decimal(column: Any) -> bool:
    return isinstance(getattr(column, "type", None), ExactDecimal)


def _int_range(column_type: Any) -> tuple[int, int]:
    """The values an integer column holds on every database (``INTEGER`` is 32-bit on
    PostgreSQL, ``BIGINT`` 64-bit), so a filter beyond them is a 400, not a database
    error."""
    if isinstance(column_type, BigInteger):
        return INT64_MIN, INT64_MAX
    if isinstance(column_type, SmallInteger):
        return -(2**15), 2**15 - 1
    if isinstance(column_type, Integer):
        return -(2**31), 2**31 - 1
    return INT64_MIN, INT64_MAX


def _coerce(column: Any, raw: Any, attr: str) -> Any:
    if not isinstance(raw, str):
        return raw  # already parsed by the caller (e.g. a normalized status)
    if _is_exact_decimal(column):
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise BadRequestError(f"filter {attr} needs a number, got {raw!r}",
                                  field=attr) from None
        problem = number_problem(value)
        if problem:
            raise BadRequestError(f"filter {attr}: {problem}, got {raw[:60]!r}", field=attr)
        return value
    column_type = getattr(column, "type", None)
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type  # type: ignore[union-attr]
    except (NotImplementedError, AttributeError):
        return raw
    try:
        if python_type is bool:
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if python_type is int:
            # (a string longer than any 64-bit integer is not even parsed)
            number = int(raw) if len(raw.strip()) <= 21 else INT64_MAX + 1
            low, high = _int_range(column_type)
            if not low <= number <= high:
                raise BadRequestError(
                    f"filter {attr} must be an integer between {low} and {high}, "
                    f"got {raw[:60]!r}", field=attr)
            return number
        if python_type is Decimal:
            decimal = Decimal(raw)
            problem = number_problem(decimal)
            if problem:
                raise BadRequestError(f"filter {attr}: {problem}, got {raw[:60]!r}",
                                      field=attr)
            return decimal
        if python_type is datetime:
            instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if instant.tzinfo is None:
                example = raw + ("Z" if "T" in raw.upper() else "T00:00:00Z")
                raise BadRequestError(
                    f"filter {attr} needs a time zone offset, e.g. {example}", field=attr
                )
            instant.astimezone(UTC)  # (OverflowError: no instant in years 1-9999 UTC)
            return instant
        if python_type is date:  # a day; an instant's date part is taken (2026-03-01T…)
            if len(raw) > 10 and raw[10] != "T":
                raise ValueError(raw)
            return date.fromisoformat(raw[:10])
    except (ValueError, InvalidOperation, OverflowError):
        raise BadRequestError(
            f"filter {attr} has an invalid value {raw[:60]!r}", field=attr
        ) from None
    return raw


def apply_filters(
    stmt: Select[Any], params: ListParams, columns: Mapping[str, Any]
) -> Select[Any]:
    """Apply ``attr=value[,value]``, ``attr.gt=`` … filters on the declared columns.

    ``columns`` maps an API attribute name to a SQLAlchemy column; any other attribute
    answers 400 naming it, so a typo never silently returns everything.
    """
    for name, op, values in params.filters:
        column = columns.get(name)
        if column is None:
            allowed = ", ".join(sorted(columns)) or "none"
            raise BadRequestError(
                f"cannot filter on {name!r}; filterable attributes: {allowed}", field=name
            )
        coerced = [_coerce(column, v, name) for v in values]
        if _is_exact_decimal(column):
            column = _numeric(column)
        clause: ColumnElement[bool]
        if op == "eq":
            clause = column == coerced[0] if len(coerced) == 1 else column.in_(coerced)
        elif op == "ne":
            clause = column != coerced[0]
        elif op == "gt":
            clause = column > coerced[0]
        elif op == "gte":
            clause = column >= coerced[0]
        elif op == "lt":
            clause = column < coerced[0]
        else:
            clause = column <= coerced[0]
        stmt = stmt.where(clause)
    for key in params.sort:
        desc = key.startswith("-")
        name = key.lstrip("+-")
        column = columns.get(name)
        if column is None:
            raise BadRequestError(f"cannot sort on {name!r}", field="sort")
        if _is_exact_decimal(column):
            column = _numeric(column)
        stmt = stmt.order_by(column.desc() if desc else column.asc())
    return stmt


def paginate(
    session: Session, stmt: Select[Any], params: ListParams, default_order: Sequence[Any]
) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page; return the rows and the total count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    page = stmt.order_by(*default_order).offset(params.offset).limit(params.limit)
    return list(session.scalars(page)), int(total or 0)


def field_selection(value: str | None) -> frozenset[str] | None:
    """The attribute names of a ``fields=`` selection; None (everything) when it names
    none (``fields=`` or ``fields=,``)."""
    names = frozenset(f.strip() for f in (value or "").split(",") if f.strip())
    return names or None


def project(resource: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """Keep only the requested top-level fields (plus ``id``, ``href`` and ``@type``)."""
    if not fields:
        return resource
    keep = {f.split(".", 1)[0] for f in fields} | {"id", "href", "@type"}
    return {k: v for k, v in resource.items() if k in keep}


def list_response(
    items: Sequence[dict[str, Any]], total: int, params: ListParams
) -> JSONResponse:
    body = [project(item, params.fields) for item in items]
    return ExactJSONResponse(
        body,
        status_code=200,
        headers={"X-Total-Count": str(total), "X-Result-Count": str(len(body))},
    )


def resource_response(
    resource: dict[str, Any], request: Request, status_code: int = 200
) -> JSONResponse:
    selected = field_selection(request.query_params.get("fields"))
    headers = {"Location": str(resource["href"])} if status_code == 201 and "href" in resource \
        else None
    return ExactJSONResponse(project(resource, selected), status_code=status_code,
                             headers=headers)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge-patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def require_merge_patch(request: Request) -> None:
    """415 unless the request is sent as ``application/merge-patch+json`` (or
    ``application/json``); :class:`openbss.core.routing.ExactRoute` applies the same rule
    to every route that receives a body."""
    check_content_type(request)


def href(base_url: str, path: str, resource_id: str) -> str:
    return f"{base_url.rstrip('/')}{path.rstrip('/')}/{resource_id}"


def is_foreign_ref(href_value: str | None, base_url: str) -> bool:
    """True when a reference's ``href`` points at another system than this one.

    Such references (a partner's party, another catalog) are kept as given instead of
    being checked against this tenant's resources.
    """
    return bool(href_value) and not str(href_value).startswith(base_url.rstrip("/") + "/")


def iso(dt: datetime | None) -> str | None:
    """Render an aware datetime as TMF does: ISO 8601 in UTC with a ``Z``."""
    if dt is None:
        return None
    return dt.isoformat().replace("+00:00", "Z")
