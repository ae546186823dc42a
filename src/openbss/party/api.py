"""HTTP routes of the party context: TMF632 Party Management, TMF629 Customer
Management, TMF666 Account Management and the data-protection operations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from openbss.core.context import Context
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.openapi import list_filters, request_body
from openbss.core.permissions import Requires
from openbss.core.resources import validation_error
from openbss.core.routing import ExactRoute
from openbss.core.tmf import list_params, list_response, require_merge_patch, resource_response
from openbss.party import accounts, customers, privacy, schemas, service
from openbss.party.paths import ACCOUNT_PREFIX, CUSTOMER_PREFIX, PARTY_PREFIX

router = APIRouter(route_class=ExactRoute)
# (api name, path prefix) of every TMF API this context serves: each gets POST/DELETE /hub.
TMF_APIS: list[tuple[str, str]] = [
    ("partyManagement", PARTY_PREFIX),
    ("customerManagement", CUSTOMER_PREFIX),
    ("accountManagement", ACCOUNT_PREFIX),
]

# Who may do what: the role matrix in openbss.core.permissions (docs/security.md).
read_party = Requires.to("party", "read")
write_party = Requires.to("party", "write")
delete_party = Requires.to("party", "delete")
read_customer = Requires.to("customer", "read")
write_customer = Requires.to("customer", "write")
remove_customer = Requires.to("customer", "delete")
read_account = Requires.to("account", "read")
write_account = Requires.to("account", "write")
delete_account = Requires.to("account", "delete")
export_personal_data = Requires.to("personalData", "read")
erase_personal_data = Requires.to("personalData", "delete")


def _validate(model: type[BaseModel], payload: Any) -> Any:
    if not isinstance(payload, dict):
        from openbss.core.errors import ValidationError

        raise ValidationError("the request body must be a JSON object", field="body")
    try:
        return model.model_validate(payload)
    except PydanticValidationError as exc:
        raise validation_error(exc, data=payload) from None


def _party_routes(kind: str, model: type[BaseModel]) -> None:
    base = f"{PARTY_PREFIX}/{kind}"
    tag = "partyManagement"
    list_filters(base, ("status", "country", "name", "lastUpdate", "creationDate",
                        *service.SEARCH_PARAMS))

    @router.post(base, status_code=201, tags=[tag], name=f"create_{kind}",
                 openapi_extra=request_body(model))
    def create(request: Request, payload: Any = Body(...),
               ctx: Context = Depends(write_party)) -> JSONResponse:
        row = service.create_party(ctx, kind=kind, data=_validate(model, payload))
        return resource_response(service.render_party(ctx, row), request, 201)

    @router.get(base, tags=[tag], name=f"list_{kind}")
    def list_(request: Request, ctx: Context = Depends(read_party)) -> JSONResponse:
        params = list_params(request)
        rows, total = service.list_parties(ctx, kind=kind, params=params)
        return list_response([service.render_party(ctx, r) for r in rows], total, params)

    @router.get(base + "/{id}", tags=[tag], name=f"get_{kind}")
    def get(id: str, request: Request, ctx: Context = Depends(read_party)) -> JSONResponse:
        row = service.get_party(ctx, kind=kind, party_id=id)
        return resource_response(service.render_party(ctx, row), request)

    @router.patch(base + "/{id}", tags=[tag], name=f"patch_{kind}")
    def patch(id: str, request: Request, payload: Any = Body(...),
              ctx: Context = Depends(write_party)) -> JSONResponse:
        require_merge_patch(request)
        row = service.update_party(ctx, kind=kind, party_id=id, patch=payload)
        return resource_response(service.render_party(ctx, row), request)

    @router.delete(base + "/{id}", status_code=204, tags=[tag], name=f"delete_{kind}")
    def delete(id: str, ctx: Context = Depends(delete_party)) -> Response:
        service.delete_party(ctx, kind=kind, party_id=id)
        return Response(status_code=204)


_party_routes("individual", schemas.Individual)
_party_routes("organization", schemas.Organization)

CUSTOMER = f"{CUSTOMER_PREFIX}/customer"
list_filters(CUSTOMER, ("status", "engagedParty.id", "name", "lastUpdate"))


@router.post(CUSTOMER, status_code=201, tags=["customerManagement"],
             openapi_extra=request_body(schemas.Customer))
def create_customer(request: Request, payload: Any = Body(...),
                    ctx: Context = Depends(write_customer)) -> JSONResponse:
    row = customers.create_customer(ctx, data=_validate(schemas.Customer, payload))
    return resource_response(customers.render_customer(ctx, row), request, 201)


@router.get(CUSTOMER, tags=["customerManagement"])
def list_customers(request: Request, ctx: Context = Depends(read_customer)) -> JSONResponse:
    params = list_params(request)
    rows, total = customers.list_customers(ctx, params=params)
    return list_response([customers.render_customer(ctx, r) for r in rows], total, params)


@router.get(CUSTOMER + "/{id}", tags=["customerManagement"])
def get_customer(id: str, request: Request, ctx: Context = Depends(read_customer)) -> JSONResponse:
    row = customers.get_customer(ctx, customer_id=id)
    return resource_response(customers.render_customer(ctx, row), request)


@router.patch(CUSTOMER + "/{id}", tags=["customerManagement"])
def patch_customer(id: str, request: Request, payload: Any = Body(...),
                   ctx: Context = Depends(write_customer)) -> JSONResponse:
    require_merge_patch(request)
    row = customers.update_customer(ctx, customer_id=id, patch=payload)
    return resource_response(customers.render_customer(ctx, row), request)


@router.delete(CUSTOMER + "/{id}", status_code=204, tags=["customerManagement"])
def delete_customer(id: str, ctx: Context = Depends(remove_customer)) -> Response:
    customers.delete_customer(ctx, customer_id=id)
    return Response(status_code=204)


def _account_routes(kind: str) -> None:
    base = f"{ACCOUNT_PREFIX}/{kind}"
    tag = "accountManagement"
    list_filters(base, ("state", "currency", "name", "parentId", "paidByParent",
                        "lastModified"))

    @router.post(base, status_code=201, tags=[tag], name=f"create_{kind}",
                 openapi_extra=request_body(schemas.Account))
    def create(request: Request, payload: Any = Body(...),
               ctx: Context = Depends(write_account)) -> JSONResponse:
        row = accounts.create_account(ctx, kind=kind,
                                      data=_validate(schemas.Account, payload))
        return resource_response(accounts.render_account(ctx, row), request, 201)

    @router.get(base, tags=[tag], name=f"list_{kind}")
    def list_(request: Request, ctx: Context = Depends(read_account)) -> JSONResponse:
        params = list_params(request)
        rows, total = accounts.list_accounts(ctx, kind=kind, params=params)
        return list_response(accounts.render_accounts(ctx, rows), total, params)

    @router.get(base + "/{id}", tags=[tag], name=f"get_{kind}")
    def get(id: str, request: Request, ctx: Context = Depends(read_account)) -> JSONResponse:
        row = accounts.get_account(ctx, kind=kind, account_id=id)
        return resource_response(accounts.render_account(ctx, row), request)

    @router.patch(base + "/{id}", tags=[tag], name=f"patch_{kind}")
    def patch(id: str, request: Request, payload: Any = Body(...),
              ctx: Context = Depends(write_account)) -> JSONResponse:
        require_merge_patch(request)
        row = accounts.update_account(ctx, kind=kind, account_id=id, patch=payload)
        return resource_response(accounts.render_account(ctx, row), request)

    @router.delete(base + "/{id}", status_code=204, tags=[tag], name=f"delete_{kind}")
    def delete(id: str, ctx: Context = Depends(delete_account)) -> Response:
        accounts.delete_account(ctx, kind=kind, account_id=id)
        return Response(status_code=204)


_account_routes("billingAccount")
_account_routes("partyAccount")


@router.get("/api/v1/parties/{id}/personal-data", tags=["data protection"])
def get_personal_data(id: str, ctx: Context = Depends(export_personal_data)) -> JSONResponse:
    """Data-subject access export: the party, its customers and accounts, and the
    contact history (audit trail) of all of them. The export itself is audited."""
    return ExactJSONResponse(privacy.personal_data(ctx, party_id=id))


@router.post("/api/v1/parties/{id}/anonymize", tags=["data protection"])
def post_anonymize(id: str, ctx: Context = Depends(erase_personal_data)) -> JSONResponse:
    """Irreversibly anonymise an individual (409 while balances or products are open)."""
    return ExactJSONResponse(privacy.anonymize(ctx, party_id=id))
