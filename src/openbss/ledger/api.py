"""HTTP routes of the ledger context (TMF has no ledger API: ``/api/v1/ledger``).

- ``GET /api/v1/ledger/accounts`` — the chart of accounts (the default chart is seeded
  on first use); ``POST`` adds an account, ``PATCH …/{code}`` renames or deactivates one;
- ``GET /api/v1/ledger/journalEntries`` (``from``, ``to``, ``kind``,
  ``billingAccount.id``, ``sourceType``, ``sourceId``), ``GET …/{id}``: entries with
  their lines, in number order;
- ``GET /api/v1/ledger/trialBalance?from=&to=&currency=`` — debits and credits per
  account; ``totalDebit`` always equals ``totalCredit``;
- ``GET /api/v1/ledger/receivables`` — the receivable sub-ledger per billing account;
- ``GET /api/v1/ledger/export?period=2026-11&format=csv`` — the journal lines as CSV;
- the settings group ``ledger``.

Family ``ledger`` of the role matrix.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field, StrictBool

from openbss.core import audit
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.db import new_id
from openbss.core.errors import ConflictError, NotFoundError, ValidationError
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import document_response, list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.queries import scoped
from openbss.core.routing import ExactRoute, json_body
from openbss.core.tenant_settings import add_settings_routes
from openbss.core.tmf import list_params, list_response
from openbss.core.tmf_common import TmfModel
from openbss.ledger import reports, service
from openbss.ledger import settings as ledger_settings
from openbss.ledger.models import AccountType, JournalEntry, LedgerAccount
from openbss.ledger.paths import (
    ACCOUNT_ITEM,
    ACCOUNTS_PATH,
    ENTRIES_PATH,
    ENTRY_ITEM,
    EXPORT_PATH,
    RECEIVABLES_PATH,
    TRIAL_BALANCE_PATH,
)

router = APIRouter(route_class=ExactRoute)
READ = Requires.to("ledger", "read")
WRITE = Requires.to("ledger", "write")
TAG = "ledger"
Body = Annotated[Any, Depends(json_body)]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._-]+$")]

list_filters(ENTRIES_PATH, reports.ENTRY_FILTERS)


class AccountCreate(TmfModel):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["asset", "liability", "equity", "revenue", "expense"]


class AccountUpdate(TmfModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    active: StrictBool | None = None


def _date(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValidationError(f"{field}: {value!r} is not a date (2026-11-30)",
                              field=field) from None


@router.get(ACCOUNTS_PATH, tags=[TAG])
def list_accounts(ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The tenant's chart of accounts (code, name, type, the posting role it plays)."""
    rows = [reports.chart_doc(a) for a in service.ensure_chart(ctx)]
    return ExactJSONResponse(rows, headers={"X-Total-Count": str(len(rows)),
                                            "X-Result-Count": str(len(rows))})


@router.post(ACCOUNTS_PATH, tags=[TAG], status_code=201,
             openapi_extra=request_body(AccountCreate))
def create_account(body: Body, ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Add an account to the chart (e.g. a revenue account to map a line type to with
    ``PATCH /api/v1/settings/ledger``). 409 when the code exists."""
    data = validated(AccountCreate, body)
    chart = service.ensure_chart(ctx)
    if any(a.code == data.code for a in chart):
        raise ConflictError(f"code: account {data.code} exists", field="code")
    row = LedgerAccount(id=new_id(), tenant_id=ctx.tenant_id, code=data.code, name=data.name,
                        type=str(AccountType(data.type)), role=None, subledger=False,
                        active=True, created_at=ctx.now, row_version=1)
    ctx.session.add(row)
    ctx.session.flush()
    service.forget_chart(ctx)
    audit.record(ctx, action="create", resource_type="ledgerAccount", resource_id=row.id,
                 after=reports.chart_doc(row))
    return ExactJSONResponse(reports.chart_doc(row), status_code=201)


@router.patch(ACCOUNT_ITEM, tags=[TAG], openapi_extra=request_body(AccountUpdate, patch=True))
def update_account(code: str, body: Body, ctx: Annotated[Context, Depends(WRITE)]
                   ) -> JSONResponse:
    """Rename an account, or deactivate one that plays no posting role."""
    service.ensure_chart(ctx)
    row = ctx.session.scalars(scoped(ctx, LedgerAccount).where(
        LedgerAccount.code == code)).first()
    if row is None:
        raise NotFoundError(f"ledger account {code!r} not found", field="code")
    data = validated(AccountUpdate, body)
    before = reports.chart_doc(row)
    if data.name is not None:
        row.name = data.name
    if data.active is not None:
        if not data.active and row.role:
            raise ConflictError(f"active: account {code} plays the posting role "
                                f"{row.role!r} and cannot be deactivated", field="active")
        row.active = data.active
    row.row_version += 1
    ctx.session.flush()
    audit.record(ctx, action="update", resource_type="ledgerAccount", resource_id=row.id,
                 before=before, after=reports.chart_doc(row))
    return ExactJSONResponse(reports.chart_doc(row))


@router.get(ENTRIES_PATH, tags=[TAG])
def list_entries(request: Request, ctx: Annotated[Context, Depends(READ)],
                 from_: Annotated[str | None, Query(alias="from")] = None,
                 to: str | None = None) -> JSONResponse:
    """Journal entries in number order with their lines (``from``/``to``: entry dates,
    both included)."""
    parsed = list_params(request)
    params = replace(parsed, filters=tuple(f for f in parsed.filters
                                           if f[0] not in ("from", "to")))
    rows, total = reports.list_entries(ctx, params, start=_date(from_, "from"),
                                       end=_date(to, "to"))
    return list_response(reports.render_entries(ctx, rows), total, params)


@router.get(ENTRY_ITEM, tags=[TAG])
def get_entry(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    row = ctx.session.scalars(scoped(ctx, JournalEntry).where(JournalEntry.id == id)).first()
    if row is None:
        raise NotFoundError(f"journalEntry {id!r} not found", field="id")
    return ExactJSONResponse(reports.render_entries(ctx, [row])[0])


@router.get(TRIAL_BALANCE_PATH, tags=[TAG])
def trial_balance(ctx: Annotated[Context, Depends(READ)],
                  from_: Annotated[str | None, Query(alias="from")] = None,
                  to: str | None = None, currency: str | None = None) -> JSONResponse:
    """Debits and credits per account of the entries dated ``from``..``to``."""
    return ExactJSONResponse(reports.trial_balance(
        ctx, start=_date(from_, "from"), end=_date(to, "to"), currency=currency))


@router.get(RECEIVABLES_PATH, tags=[TAG])
def receivables(ctx: Annotated[Context, Depends(READ)],
                billing_account: Annotated[str | None, Query(alias="billingAccount.id")
                                           ] = None,
                currency: str | None = None) -> JSONResponse:
    """The receivable sub-ledger: per billing account, receivable − customer credit."""
    rows = reports.receivables(ctx, account_ids=[billing_account] if billing_account
                               else None, currency=currency)
    return ExactJSONResponse(rows, headers={"X-Total-Count": str(len(rows)),
                                            "X-Result-Count": str(len(rows))})


@router.get(EXPORT_PATH, tags=[TAG], response_class=StreamingResponse, responses={
    200: {"description": "The journal lines", "content": {"text/csv": {
        "schema": {"type": "string"}}}}})
def export(ctx: Annotated[Context, Depends(READ)], period: str,
           format: Literal["csv"] = "csv") -> StreamingResponse:
    """The journal lines of ``period`` (``2026-11`` or ``2026``) as CSV."""
    start, end = reports.period_bounds(period)
    body = "".join(reports.export_csv(ctx, start=start, end=end))
    return StreamingResponse(iter([body]), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="journal-{period}.csv"'})


add_settings_routes(router, ledger_settings.GROUP, ledger_settings.LedgerSettings,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))


_LEDGER_ACCOUNT = {"type": "object", "required": ["code", "name", "type"], "properties": {
    "code": {"type": "string"}, "name": {"type": "string"}, "type": {"type": "string"},
    "role": {"type": ["string", "null"]}, "subledger": {"type": "boolean"},
    "active": {"type": "boolean"}}}
_ENTRY = {"type": "object", "required": ["id", "number", "entryDate", "kind", "lines"],
          "properties": {"id": {"type": "string"}, "number": {"type": "integer"},
                         "entryDate": {"type": "string", "format": "date"},
                         "kind": {"type": "string"}, "currency": {"type": "string"},
                         "lines": {"type": "array", "items": {"type": "object"}}}}
_TRIAL = {"type": "object", "required": ["accounts", "totalDebit", "totalCredit"],
          "properties": {"from": {"type": ["string", "null"]},
                         "to": {"type": ["string", "null"]},
                         "currency": {"type": ["string", "null"]},
                         "accounts": {"type": "array", "items": {
                             "type": "object", "required": ["code", "name", "debit",
                                                            "credit"]}},
                         "totalDebit": {"type": "number"}, "totalCredit": {"type": "number"},
                         "balanced": {"type": "boolean"}}}
_RECEIVABLE = {"type": "object", "required": ["billingAccount", "balance"], "properties": {
    "billingAccount": {"type": "object"}, "currency": {"type": "string"},
    "receivable": {"type": "number"}, "customerCredit": {"type": "number"},
    "balance": {"type": "number"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


document_response("get", ACCOUNT_ITEM, _LEDGER_ACCOUNT, component="LedgerAccount")
document_response("patch", ACCOUNT_ITEM, _ref("LedgerAccount"))
document_response("post", ACCOUNTS_PATH, _ref("LedgerAccount"))
document_response("get", ACCOUNTS_PATH, {"type": "array", "items": _ref("LedgerAccount")})
document_response("get", ENTRY_ITEM, _ENTRY, component="JournalEntry")
document_response("get", ENTRIES_PATH, {"type": "array", "items": _ref("JournalEntry")},
                  listing=True)
document_response("get", TRIAL_BALANCE_PATH, _TRIAL, component="TrialBalance")
document_response("get", RECEIVABLES_PATH, {"type": "array", "items": _RECEIVABLE})
document_response("get", "/api/v1/settings/ledger", _ref("ledger.LedgerSettings"))
document_response("patch", "/api/v1/settings/ledger", _ref("ledger.LedgerSettings"))
