"""The route class of every openbss router (exact JSON numbers in request bodies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from openbss.core import jsonx


class ExactJSONRequest(Request):
    """A request whose JSON body keeps non-integer numbers as exact ``Decimal``s."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsonx.loads(await self.body())
        return self._json


class ExactRoute(APIRoute):
    """Route class of every openbss router: JSON numbers in request bodies never pass
    through a float (``{"value": 0.1}`` arrives as ``Decimal("0.1")``)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            response: Response = await handler(ExactJSONRequest(request.scope, request.receive))
            return response

        return exact_handler
