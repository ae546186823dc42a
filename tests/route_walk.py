"""Every API route of the app, whatever FastAPI version assembles it.

Newer FastAPI (0.16x) keeps included routers as ``_IncludedRouter`` entries in
``app.routes`` instead of copying their routes, so ``[r for r in app.routes if
isinstance(r, APIRoute)]`` finds nothing and a test that walks it checks nothing. This
walks through included routers (``fastapi.routing.iter_route_contexts`` where it
exists) and refuses to answer an empty list.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute


def api_routes(app: Any) -> list[APIRoute]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        routes = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = []
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute):
                # Routers are included without a prefix: the route's own path is the URL.
                assert context.path in (None, route.path), (context.path, route.path)
                routes.append(route)
    paths = {r.path for r in routes}
    assert "/api/v1/audit" in paths and len(routes) > 50, f"route walk found only {paths}"
    return routes
