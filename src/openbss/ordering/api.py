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
