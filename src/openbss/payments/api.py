"""HTTP routes of the payments context (being written): TMF676 ``payment`` and
``refund``; the routers of the other payments modules are included here."""

from __future__ import annotations

from fastapi import APIRouter

from openbss.core.routing import ExactRoute
from openbss.payments import api_collections, api_dunning, api_gateways, api_methods
from openbss.payments.paths import METHOD_API, METHOD_PREFIX, PAYMENT_API, PAYMENT_PREFIX

router = APIRouter(route_class=ExactRoute)
TMF_APIS: list[tuple[str, str]] = [(PAYMENT_API, PAYMENT_PREFIX), (METHOD_API, METHOD_PREFIX)]

for _sub in (api_methods, api_collections, api_dunning, api_gateways):
    router.include_router(_sub.router)
