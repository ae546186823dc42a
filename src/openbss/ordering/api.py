"""HTTP routes of the ordering context: TMF637 Product Inventory and the product history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from openbss.core.context import Context
from openbss.core.crud import TmfResource, add_resource_routes
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute
from openbss.ordering import inventory, schemas
from openbss.ordering.paths import (
    INVENTORY_API,
    INVENTORY_PREFIX,
    PRODUCT_CHARGES_PATH,
    PRODUCT_HISTORY_PATH,
    PRODUCT_PATH,
)
from openbss.ordering.queries import CHARACTERISTIC_VALUE, PRODUCT_FILTERS

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [(INVENTORY_API, INVENTORY_PREFIX)]
READ = Requires.to("product", "read")
TAG = "productInventory (TMF637)"

add_resource_routes(router, TmfResource(
    name="product", path=PRODUCT_PATH, tag=TAG, schema=schemas.Product,
    filters=(*PRODUCT_FILTERS, CHARACTERISTIC_VALUE),
    read=READ, write=Requires.to("product", "write"), delete=Requires.to("product", "delete"),
    create=lambda ctx, data: inventory.create_product(ctx, data=data),
    find=lambda ctx, params: inventory.list_products(ctx, params=params),
    get=lambda ctx, id: inventory.get_product(ctx, product_id=id),
    update=lambda ctx, id, patch: inventory.update_product(ctx, product_id=id, patch=patch),
    remove=lambda ctx, id: inventory.delete_product(ctx, product_id=id),
    render=inventory.render_product,
))


@router.get(PRODUCT_HISTORY_PATH, tags=["productInventory"])
def product_history(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """Every change of the product, oldest first, in business time: what changed (from
    and to), the status after it, the product order item behind it, and who."""
    return ExactJSONResponse(inventory.product_history(ctx, product_id=id))


@router.get(PRODUCT_CHARGES_PATH, tags=["productInventory"])
def product_charges(id: str, ctx: Annotated[Context, Depends(READ)]) -> JSONResponse:
    """The product's one-time charges for billing (early-termination fees), oldest first:
    kind, exact amount with its currency, business time, the order item, billed or not."""
    return ExactJSONResponse([inventory.render_charge(c)
                              for c in inventory.product_charges(ctx, product_id=id)])


# -- TMF622 product ordering (helper ORDERS) ---------------------------------------------
from openbss.ordering import order_events, orders  # noqa: E402
from openbss.ordering.paths import (  # noqa: E402
    CANCEL_ORDER_PATH,
    ORDERING_API,
    ORDERING_PREFIX,
    PRODUCT_ORDER_PATH,
)
from openbss.ordering.queries import CANCEL_FILTERS, ORDER_FILTERS  # noqa: E402

TMF_APIS.append((ORDERING_API, ORDERING_PREFIX))
ORDER_TAG = "productOrdering (TMF622)"
ORDER_READ = Requires.to("productOrder", "read")
ORDER_WRITE = Requires.to("productOrder", "write")

add_resource_routes(router, TmfResource(
    name="productOrder", path=PRODUCT_ORDER_PATH, tag=ORDER_TAG,
    schema=schemas.ProductOrderCreate, filters=tuple(ORDER_FILTERS),
    read=ORDER_READ, write=ORDER_WRITE, delete=Requires.to("productOrder", "delete"),
    create=lambda ctx, data: orders.create_order(ctx, data=data),
    find=lambda ctx, params: orders.list_orders(ctx, params=params),
    get=lambda ctx, id: orders.get_order(ctx, order_id=id),
    update=lambda ctx, id, patch: orders.update_order(ctx, order_id=id, patch=patch),
    remove=lambda ctx, id: orders.delete_order(ctx, order_id=id),
    render=order_events.render_order,
))
add_resource_routes(router, TmfResource(
    name="cancelProductOrder", path=CANCEL_ORDER_PATH, tag=ORDER_TAG,
    schema=schemas.CancelProductOrderCreate, filters=tuple(CANCEL_FILTERS),
    read=ORDER_READ, write=ORDER_WRITE,
    create=lambda ctx, data: orders.cancel_order(ctx, data=data),
    find=lambda ctx, params: orders.list_cancels(ctx, params=params),
    get=lambda ctx, id: orders.get_cancel(ctx, cancel_id=id),
    render=order_events.render_cancel,
))


# -- TMF648 quotes (helper QUOTES) ------------------------------------------------------
from typing import Any  # noqa: E402

from fastapi import Request  # noqa: E402

from openbss.core.crud import validated  # noqa: E402
from openbss.core.routing import optional_json_body  # noqa: E402
from openbss.core.tmf import resource_response  # noqa: E402
from openbss.ordering import quotes  # noqa: E402
from openbss.ordering.paths import (  # noqa: E402
    QUOTE_API,
    QUOTE_ORDER_PATH,
    QUOTE_PATH,
    QUOTE_PREFIX,
)
from openbss.ordering.queries import QUOTE_FILTERS  # noqa: E402

TMF_APIS.append((QUOTE_API, QUOTE_PREFIX))
QUOTE_TAG = "quoteManagement (TMF648)"
QUOTE_WRITE = Requires.to("quote", "write")

add_resource_routes(router, TmfResource(
    name="quote", path=QUOTE_PATH, tag=QUOTE_TAG, schema=schemas.QuoteCreate,
    filters=tuple(QUOTE_FILTERS),
    read=Requires.to("quote", "read"), write=QUOTE_WRITE, delete=Requires.to("quote", "delete"),
    create=lambda ctx, data: quotes.create_quote(ctx, data=data),
    find=lambda ctx, params: quotes.list_quotes(ctx, params=params),
    get=lambda ctx, id: quotes.get_quote(ctx, quote_id=id),
    update=lambda ctx, id, patch: quotes.update_quote(ctx, quote_id=id, patch=patch),
    remove=lambda ctx, id: quotes.delete_quote(ctx, quote_id=id),
    render=quotes.render_quote,
))


@router.post(QUOTE_ORDER_PATH, status_code=201, tags=[QUOTE_TAG])
def order_quote(id: str, request: Request, body: Annotated[Any, Depends(optional_json_body)],
                ctx: Annotated[Context, Depends(QUOTE_WRITE)]) -> JSONResponse:
    """Turn an accepted quote into a TMF622 product order (201, the order). Optional body:
    ``requestedStartDate``, ``requestedCompletionDate``, ``externalId``, ``description``,
    ``priority``, ``category``, ``note``. 409 ``quote_not_orderable`` (not accepted),
    ``quote_already_ordered`` (the second time, naming the order)."""
    data = None if body is None else validated(schemas.QuoteOrderRequest, body)
    order = quotes.order_quote(ctx, quote_id=id, request=data)
    return resource_response(order_events.render_order(ctx, order), request, 201)


# -- provisioning (TMF641 client) ----------------------------------------------------------
# The settings group ``provisioning`` (adapter, OSS baseUrl, timeouts, polls), the listener
# registration on the OSS's hub, and the endpoint the OSS notifies (authenticated by the
# tenant's callback secret in its URL, not by a bearer token: the OSS has none).
from typing import Any  # noqa: E402, F811

from fastapi import Request, Response  # noqa: E402, F811
from sqlalchemy.orm import Session  # noqa: E402

from openbss.core.context import load_tenant, system_context  # noqa: E402
from openbss.core.errors import AuthenticationError  # noqa: E402
from openbss.core.routing import json_body, off_loop  # noqa: E402
from openbss.core.tenant_settings import add_settings_routes  # noqa: E402
from openbss.ordering import tmf641  # noqa: E402
from openbss.ordering.paths import (  # noqa: E402
    PROVISIONING_SETTINGS_GROUP,
    TMF641_EVENTS_PATH,
    TMF641_LISTENER_PATH,
)
from openbss.ordering.provisioning import ProvisioningSettings  # noqa: E402

add_settings_routes(router, PROVISIONING_SETTINGS_GROUP, ProvisioningSettings,
                    read_dep=Requires.to("settings", "read"),
                    write_dep=Requires.to("settings", "write"))


@router.get(TMF641_LISTENER_PATH, tags=["provisioning"])
def get_tmf641_listener(
        ctx: Annotated[Context, Depends(Requires.to("settings", "read"))]) -> JSONResponse:
    """The tenant's listener on the OSS's TMF641 hub (its id, the OSS, when registered;
    never the callback secret)."""
    return ExactJSONResponse(tmf641.get_listener(ctx))


@router.post(TMF641_LISTENER_PATH, tags=["provisioning"], status_code=201,
             openapi_extra={"requestBody": {"required": False, "content": {
                 "application/json": {"schema": {
                     "type": "object", "description": "No attributes: everything comes "
                     "from the settings group provisioning"}}}}})
@off_loop
def register_tmf641_listener(
        ctx: Annotated[Context, Depends(Requires.to("settings", "write"))]) -> JSONResponse:
    """Register (again) on ``{baseUrl}/hub`` of the tenant's OSS, with a fresh callback
    secret; the previous listener is removed. 422 (``adapter``) unless the tenant's
    adapter is ``tmf641``; 503 when the OSS cannot be reached."""
    return ExactJSONResponse(tmf641.register_listener(ctx), status_code=201)


@router.post(TMF641_EVENTS_PATH, tags=["provisioning"], status_code=204, responses={
    401: {"description": "Not the tenant's callback URL (unknown tenant or secret)",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "description": "A TMF641 event (ServiceOrder"
                   "StateChangeEvent …): event.serviceOrder.id and .state are read",
                   "required": ["event"], "properties": {"event": {
                       "type": "object", "required": ["serviceOrder"], "properties": {
                           "serviceOrder": {"type": "object", "required": ["id", "state"],
                                            "properties": {"id": {"type": "string"},
                                                           "state": {"type": "string"}}}}}}}
    }}}})
def tmf641_event(tenant: str, secret: str, request: Request,
                 body: Annotated[Any, Depends(json_body)]) -> Response:
    """A TMF641 notification from the tenant's OSS (``ServiceOrderStateChangeEvent`` …):
    the new state is recorded on the fulfilment step of that serviceOrder and the worker
    polls it at once. 401 unless the URL carries the tenant's callback secret."""
    session: Session = request.state.session
    owner = load_tenant(session, tenant) if len(tenant) <= 64 else None
    if owner is None:
        raise AuthenticationError("unknown callback")
    ctx = system_context(session, owner, actor="oss:tmf641")
    tmf641.record_notification(ctx, secret=secret, body=body)
    return Response(status_code=204)
