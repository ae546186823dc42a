"""HTTP routes of the party context: TMF632 Party Management, TMF629 Customer
Management, TMF666 Account Management (from the route factory of
:mod:`openbss.core.crud`) and the data-protection operations. No SQL and no validation
here: the factory validates bodies, the use cases do the work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from openbss.core.context import Context
from openbss.core.crud import TmfResource, add_resource_routes
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute
from openbss.party import accounts, customers, parties, privacy, schemas
from openbss.party.paths import (
    ACCOUNT_PREFIX,
    CUSTOMER_PATH,
    CUSTOMER_PREFIX,
    PARTY_PREFIX,
    PATHS,
    account_path,
)

router = APIRouter(route_class=ExactRoute)
# (api name, path prefix) of every TMF API this context serves: each gets POST/DELETE /hub.
TMF_APIS: list[tuple[str, str]] = [
    ("partyManagement", PARTY_PREFIX),
    ("customerManagement", CUSTOMER_PREFIX),
    ("accountManagement", ACCOUNT_PREFIX),
]

# Who may do what: the role matrix in openbss.core.permissions (docs/security.md).
export_personal_data = Requires.to("personalData", "read")
erase_personal_data = Requires.to("personalData", "delete")


def _access(family: str) -> dict[str, Any]:
    """The read/write/delete dependencies of a permission family."""
    return {"read": Requires.to(family, "read"), "write": Requires.to(family, "write"),
            "delete": Requires.to(family, "delete")}


def _party_resource(kind: str) -> TmfResource:
    return TmfResource(
        name=kind, path=PATHS[kind], tag="partyManagement", schema=parties.SCHEMAS[kind],
        filters=("status", "country", "name", "lastUpdate", "creationDate",
                 *sorted(parties.SEARCH_PARAMS)),
        **_access("party"),
        create=lambda ctx, data: parties.create_party(ctx, kind=kind, data=data),
        find=lambda ctx, params: parties.list_parties(ctx, kind=kind, params=params),
        get=lambda ctx, id: parties.get_party(ctx, kind=kind, party_id=id),
        update=lambda ctx, id, patch: parties.update_party(ctx, kind=kind, party_id=id,
                                                           patch=patch),
        remove=lambda ctx, id: parties.delete_party(ctx, kind=kind, party_id=id),
        render=parties.render_party,
    )


def _account_resource(kind: str) -> TmfResource:
    return TmfResource(
        name=kind, path=account_path(kind), tag="accountManagement", schema=schemas.Account,
        filters=("state", "currency", "name", "parentId", "paidByParent", "lastModified"),
        **_access("account"),
        create=lambda ctx, data: accounts.create_account(ctx, kind=kind, data=data),
        find=lambda ctx, params: accounts.list_accounts(ctx, kind=kind, params=params),
        get=lambda ctx, id: accounts.get_account(ctx, kind=kind, account_id=id),
        update=lambda ctx, id, patch: accounts.update_account(ctx, kind=kind, account_id=id,
                                                              patch=patch),
        remove=lambda ctx, id: accounts.delete_account(ctx, kind=kind, account_id=id),
        render=accounts.render_account,
        render_many=accounts.render_accounts,
    )


for _kind in ("individual", "organization"):
    add_resource_routes(router, _party_resource(_kind))

add_resource_routes(router, TmfResource(
    name="customer", path=CUSTOMER_PATH, tag="customerManagement", schema=schemas.Customer,
    filters=("status", "engagedParty.id", "name", "lastUpdate"),
    **_access("customer"),
    create=lambda ctx, data: customers.create_customer(ctx, data=data),
    find=lambda ctx, params: customers.list_customers(ctx, params=params),
    get=lambda ctx, id: customers.get_customer(ctx, customer_id=id),
    update=lambda ctx, id, patch: customers.update_customer(ctx, customer_id=id, patch=patch),
    remove=lambda ctx, id: customers.delete_customer(ctx, customer_id=id),
    render=customers.render_customer,
))

for _kind in accounts.KINDS:
    add_resource_routes(router, _account_resource(_kind))


@router.get("/api/v1/parties/{id}/personal-data", tags=["data protection"])
def get_personal_data(id: str, ctx: Context = Depends(export_personal_data)) -> JSONResponse:
    """Data-subject access export: the party, its customers and accounts, and the
    contact history (audit trail) of all of them. The export itself is audited."""
    return ExactJSONResponse(privacy.personal_data(ctx, party_id=id))


@router.post("/api/v1/parties/{id}/anonymize", tags=["data protection"])
def post_anonymize(id: str, ctx: Context = Depends(erase_personal_data)) -> JSONResponse:
    """Irreversibly anonymise an individual (409 while balances or products are open)."""
    return ExactJSONResponse(privacy.anonymize(ctx, party_id=id))
