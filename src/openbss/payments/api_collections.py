"""HTTP routes of SEPA direct debit collections and bank statements (``/api/v1``; TMF has
no API for them). Family ``payment``: reading needs ``read``, exporting, importing and
matching by hand need ``write``.

- ``POST /api/v1/payments/sepaCollections`` ``{"collectionDate", "version"?}`` → 201 the
  collection (200 with ``transactions: 0`` and no file when nothing is due); ``GET`` list,
  ``GET …/{id}``, ``GET …/{id}/file`` (the pain.008 XML, ``application/xml``);
- ``POST /api/v1/payments/bankStatements`` (the camt XML as the body, ``Content-Type:
  application/xml``) → 201 the import summary (200 for a file imported before: every
  entry a duplicate, nothing changed); ``GET`` list, ``GET …/{id}`` (with its entries);
- ``GET /api/v1/payments/statementEntries`` (``?state=unmatched``: the manual matching
  queue), ``GET …/{id}``, ``POST …/{id}/match`` ``{"customerBill": {"id"}}`` or
  ``{"billingAccount": {"id"}}``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.errors import UnsupportedMediaTypeError, ValidationError
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import document_response, list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute, RawBodyRoute, json_body, media_type
from openbss.core.tmf import list_params, list_response
from openbss.core.tmf_common import EntityRef, TmfModel
from openbss.payments import collections
from openbss.payments.iso20022.camt import MAX_BYTES
from openbss.payments.paths import (
    ENTRIES_PATH,
    ENTRY_ITEM,
    ENTRY_MATCH_PATH,
    SEPA_COLLECTION_FILE,
    SEPA_COLLECTION_ITEM,
    SEPA_COLLECTIONS_PATH,
    STATEMENT_ITEM,
    STATEMENTS_PATH,
)

router = APIRouter(route_class=ExactRoute)
READ = Requires.to("payment", "read")
WRITE = Requires.to("payment", "write")
TAG = "payments: SEPA and bank statements"
Body = Annotated[Any, Depends(json_body)]
XML_TYPES = ("application/xml", "text/xml")

list_filters(SEPA_COLLECTIONS_PATH, collections.COLLECTION_FILTERS)
list_filters(STATEMENTS_PATH, collections.STATEMENT_FILTERS)
list_filters(ENTRIES_PATH, collections.ENTRY_FILTERS)


class SepaCollectionCreate(TmfModel):
    """Export the due bills of the accounts with a collectable mandate."""

    collection_date: date
    version: Literal["08", "02", "pain.008.001.08", "pain.008.001.02"] = "08"


class EntryMatch(TmfModel):
    """Match a queued statement entry: to one bill, or to an account (oldest due first)."""

    customer_bill: EntityRef | None = None
    billing_account: EntityRef | None = None
    note: Annotated[str, Field(max_length=500)] | None = None


# -- SEPA collections --------------------------------------------------------------------------

@router.post(SEPA_COLLECTIONS_PATH, tags=[TAG], status_code=201,
             openapi_extra=request_body(SepaCollectionCreate))
def create_collection(body: Body, request: Request,
                      ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Export a pain.008 file of every due bill (remaining > 0, due on or before
    ``collectionDate``, not in flight) of the accounts with a collectable mandate. Each
    transaction is a ``pendingAuthorization`` payment until the bank statement credits
    (or returns) it."""
    data = validated(SepaCollectionCreate, body)
    result = collections.export(ctx, collection_date=data.collection_date,
                                version=data.version)
    doc = collections.render_export(ctx, result)
    if result.collection is None:
        return ExactJSONResponse(doc, status_code=200)
    return ExactJSONResponse(doc, status_code=201, headers={"Location": doc["href"]})


@router.get(SEPA_COLLECTIONS_PATH, tags=[TAG])
def list_collections(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Exported collections, newest first (filters ``collectionDate``, ``version``,
    ``messageId``, ``createdAt``)."""
    params = list_params(request)
    rows, total = collections.list_collections(ctx, params)
    return list_response([collections.render_collection(ctx, r) for r in rows], total, params)


@router.get(SEPA_COLLECTION_ITEM, tags=[TAG])
def get_collection(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    row = collections.get_collection(ctx, collection_id=id)
    return ExactJSONResponse({**collections.render_collection(ctx, row),
                              "groups": collections.collection_groups(ctx, row)})


@router.get(SEPA_COLLECTION_FILE, tags=[TAG], response_class=Response, responses={
    200: {"description": "The pain.008 file", "content": {"application/xml": {
        "schema": {"type": "string"}}}}})
def collection_file(id: str, ctx: Annotated[Context, Depends(READ)]) -> Response:
    """The pain.008 XML exactly as exported."""
    row = collections.get_collection(ctx, collection_id=id)
    return Response(content=row.content, media_type="application/xml",
                    headers={"Content-Disposition":
                             f'attachment; filename="{row.message_id}.xml"'})


# -- bank statements ---------------------------------------------------------------------------

async def xml_body(request: Request) -> bytes:
    """The raw XML body (``application/xml``), at most the statement size limit."""
    media = media_type(request)
    if media not in XML_TYPES:
        got = f"got {media!r}" if media else "none was sent"
        raise UnsupportedMediaTypeError(
            f"Content-Type: a statement is sent as application/xml ({got}); e.g. curl -H "
            "'Content-Type: application/xml' --data-binary @statement.xml",
            field="Content-Type")
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise ValidationError(f"body: a statement file is at most {MAX_BYTES} bytes",
                              field="body")
    if not raw.strip():
        raise ValidationError("body: the camt XML file is required", field="body")
    return raw


def import_statement(request: Request, ctx: Annotated[Context, Depends(WRITE)],
                     content: Annotated[bytes, Depends(xml_body)]) -> JSONResponse:
    """Import a camt.053 / camt.054 file (.001.02 or .001.08) and match its entries. 201
    with the summary and the entries; 200 when the same file was imported before (every
    entry a duplicate, nothing changed)."""
    filename = request.headers.get("x-filename") or request.query_params.get("filename")
    result = collections.import_statement(ctx, content=content, filename=filename)
    entries = collections.statement_entries(ctx, result.statement.id) if result.created \
        else []
    doc: dict[str, Any] = {
        **result.summary,
        "bankStatement": collections.render_statement(ctx, result.statement),
        "entryDetails": [collections.render_entry(ctx, e) for e in entries]}
    if not result.created:
        return ExactJSONResponse(doc, status_code=200)
    return ExactJSONResponse(doc, status_code=201,
                             headers={"Location": doc["bankStatement"]["href"]})


router.add_api_route(
    STATEMENTS_PATH, import_statement, methods=["POST"], tags=[TAG], status_code=201,
    route_class_override=RawBodyRoute,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/xml": {"schema": {"type": "string"}}}}})


@router.get(STATEMENTS_PATH, tags=[TAG])
def list_statements(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    params = list_params(request)
    rows, total = collections.list_statements(ctx, params)
    return list_response([collections.render_statement(ctx, r) for r in rows], total, params)


@router.get(STATEMENT_ITEM, tags=[TAG])
def get_statement(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    row = collections.get_statement(ctx, statement_id=id)
    return ExactJSONResponse(collections.render_statement(
        ctx, row, collections.statement_entries(ctx, row.id)))


# -- statement entries and manual matching -----------------------------------------------------

@router.get(ENTRIES_PATH, tags=[TAG])
def list_entries(request: Request, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Statement entries (``?state=unmatched``: the manual matching queue)."""
    params = list_params(request)
    rows, total = collections.list_entries(ctx, params)
    return list_response([collections.render_entry(ctx, r) for r in rows], total, params)


@router.get(ENTRY_ITEM, tags=[TAG])
def get_entry(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    return ExactJSONResponse(collections.render_entry(
        ctx, collections.get_entry(ctx, entry_id=id)))


@router.post(ENTRY_MATCH_PATH, tags=[TAG], status_code=200,
             openapi_extra=request_body(EntryMatch))
def match_entry(id: str, body: Body, ctx: Annotated[Context, Depends(WRITE)]) -> JSONResponse:
    """Record the entry's payment: allocated to ``customerBill`` (at most its remaining
    amount), or to ``billingAccount``'s open bills oldest due first; the rest is kept as
    the account's credit. 409 ``ENTRY_NOT_MATCHABLE`` for an entry not in the queue."""
    collections.get_entry(ctx, entry_id=id)  # another tenant's id: 404 before the body
    data = validated(EntryMatch, body)
    row = collections.match_entry(
        ctx, entry_id=id, bill_id=data.customer_bill.id if data.customer_bill else None,
        account_id=data.billing_account.id if data.billing_account else None)
    return ExactJSONResponse(collections.render_entry(ctx, row))


_COLLECTION = {"type": "object", "required": ["messageId", "version", "transactions"],
               "properties": {"id": {"type": "string"}, "messageId": {"type": "string"},
                              "version": {"type": "string"},
                              "collectionDate": {"type": "string", "format": "date"},
                              "transactions": {"type": "integer"},
                              "total": {"type": "object"}, "groups": {"type": "array"}}}
_STATEMENT = {"type": "object", "properties": {
    "id": {"type": "string"}, "format": {"type": "string"}, "sha256": {"type": "string"},
    "results": {"type": "object"}}}
_ENTRY = {"type": "object", "required": ["id", "state", "amount"], "properties": {
    "id": {"type": "string"}, "state": {"type": "string"}, "direction": {"type": "string"},
    "amount": {"type": "object"}, "endToEndId": {"type": "string"},
    "remittanceInformation": {"type": "string"}}}
_IMPORT = {"type": "object", "required": ["entries", "matched", "unmatched", "returned",
                                          "duplicates"],
           "properties": {**{k: {"type": "integer"} for k in (
               "entries", "matched", "unmatched", "returned", "duplicates")},
               "bankStatement": {"$ref": "#/components/schemas/SepaBankStatement"},
               "entryDetails": {"type": "array", "items": {
                   "$ref": "#/components/schemas/StatementEntry"}}}}
document_response("get", SEPA_COLLECTION_ITEM, _COLLECTION, component="SepaCollection")
document_response("post", SEPA_COLLECTIONS_PATH, {"$ref": "#/components/schemas/SepaCollection"})
document_response("get", SEPA_COLLECTIONS_PATH, {"type": "array", "items": {
    "$ref": "#/components/schemas/SepaCollection"}}, listing=True)
document_response("get", STATEMENT_ITEM, _STATEMENT, component="SepaBankStatement")
document_response("get", STATEMENTS_PATH, {"type": "array", "items": {
    "$ref": "#/components/schemas/SepaBankStatement"}}, listing=True)
document_response("post", STATEMENTS_PATH, _IMPORT, component="StatementImport")
document_response("get", ENTRY_ITEM, _ENTRY, component="StatementEntry")
document_response("post", ENTRY_MATCH_PATH, {"$ref": "#/components/schemas/StatementEntry"})
document_response("get", ENTRIES_PATH, {"type": "array", "items": {
    "$ref": "#/components/schemas/StatementEntry"}}, listing=True)
