"""(being written)"""

from __future__ import annotations

from fastapi import APIRouter

from openbss.core.routing import ExactRoute

router = APIRouter(route_class=ExactRoute)
