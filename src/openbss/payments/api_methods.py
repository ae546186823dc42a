"""HTTP routes of TMF670 Payment Methods: ``paymentMethod`` create, list (``account.id``,
``status``, ``@type``, ``isPreferred``), get, patch (name, description, status,
preference, validity), delete (deactivates). Family ``payment`` (personal: IBAN and
holder in clear)."""

from __future__ import annotations

from fastapi import APIRouter

from openbss.core.crud import TmfResource, add_resource_routes
from openbss.core.permissions import Requires
from openbss.core.routing import ExactRoute
from openbss.payments import methods
from openbss.payments.paths import METHOD_PATH

router = APIRouter(route_class=ExactRoute)

add_resource_routes(router, TmfResource(
    name="paymentMethod", path=METHOD_PATH, tag="paymentMethods (TMF670)",
    schema=methods.PaymentMethodCreate, read=Requires.to("payment", "read"),
    write=Requires.to("payment", "write"), delete=Requires.to("payment", "delete"),
    create=methods.create_method, find=methods.list_methods, get=methods.get_method,
    update=methods.update_method, remove=methods.deactivate_method,
    render=methods.render_method, filters=tuple(methods.FILTERS)))
