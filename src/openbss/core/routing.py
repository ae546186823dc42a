"""The route class of every openbss router: one rule for request bodies.

Every route of the app goes through :class:`ExactRoute`, which, before the endpoint or
FastAPI's own body handling sees the request:

- refuses a body sent with another ``Content-Type`` than ``application/json`` (PATCH:
  ``application/merge-patch+json`` or ``application/json``), or with none (``curl -d``
  sends ``application/x-www-form-urlencoded``): 415 naming ``Content-Type``. Bodyless
  requests pass; form routes (``/oauth/token``) keep their form;
- parses the JSON once with :func:`openbss.core.jsonx.loads_bounded`: numbers stay exact
  (``Decimal``), malformed JSON or nesting deeper than ``jsonx.MAX_DEPTH`` is a 400 naming
  ``body``, a number beyond ``jsonx.MAX_NUMBER_DIGITS`` digits or ``jsonx.MAX_EXPONENT``,
  or a string with a NUL character (``\u0000``: PostgreSQL cannot store it), a 422
  naming its field.

Routes that read the body themselves use :func:`json_body` (the same parsed value).

Where a plain ``def`` endpoint runs: FastAPI runs every ``def`` endpoint in its thread
pool, one thread hop per request (and, on a busy 2-core machine, GIL hand-offs that cost
milliseconds). :class:`ExactRoute` runs it inline on the event loop instead when the
database is SQLite: a local file, whose writers are serialized anyway (``db.write_gate``)
and whose write lock the middleware takes off the loop before the endpoint starts, so a
statement never waits for a lock on the loop (WAL readers never wait). On PostgreSQL,
where every statement is a network round trip, it stays in the thread pool. An endpoint
that waits on something else — the network (a hub registration resolves its callback's
host), a long computation — is marked :func:`off_loop` and always runs in the pool.
``async def`` endpoints are left as they are.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from openbss.core import jsonx
from openbss.core.db import run_local
from openbss.core.errors import (
    BadRequestError,
    NotFoundError,
    UnsupportedMediaTypeError,
    ValidationError,
)

F = TypeVar("F", bound=Callable[..., Any])
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
OFF_LOOP_ATTRIBUTE = "__openbss_off_loop__"
JSON_MEDIA_TYPES = ("application/json",)
PATCH_MEDIA_TYPES = ("application/merge-patch+json", "application/json")


class MalformedJSONError(BadRequestError):
    code = "malformed_json"
    reason = "Malformed JSON"


def media_type(request: Request) -> str:
    """The request's media type without parameters (``charset``), lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def accepted_media_types(method: str) -> tuple[str, ...]:
    return PATCH_MEDIA_TYPES if method == "PATCH" else JSON_MEDIA_TYPES


def check_content_type(request: Request) -> None:
    """415 unless a body-carrying request declares a JSON media type."""
    accepted = accepted_media_types(request.method)
    media = media_type(request)
    if media in accepted:
        return
    expected = " or ".join(accepted)
    got = f"got {media!r}" if media else "none was sent"
    raise UnsupportedMediaTypeError(
        f"Content-Type: a {request.method} body must be sent as {expected} ({got}); "
        f"e.g. curl -H 'Content-Type: {accepted[0]}' -d '{{...}}'",
        field="Content-Type",
    )


def parse_json(raw: bytes) -> Any:
    """Parse an untrusted request body (see the module docstring for the errors)."""
    try:
        return jsonx.loads_bounded(raw)
    except (jsonx.NumberOutOfRangeError, jsonx.NulCharacterError) as exc:
        raise ValidationError(f"{exc.field}: {exc.message}", field=exc.field) from None
    except jsonx.TooDeepError as exc:
        raise BadRequestError(f"request body: {exc.message}", field="body") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN
        raise MalformedJSONError(f"request body: malformed JSON ({exc})", field="body") \
            from None


class ExactJSONRequest(Request):
    """A request whose JSON body keeps non-integer numbers as exact ``Decimal``s."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


async def json_body(request: Request) -> Any:
    """Dependency: the request's JSON body (parsed by the kernel); 422 if there is none."""
    raw = await request.body()
    if not raw.strip():
        raise ValidationError("a JSON body is required", field="body")
    return await request.json()


async def optional_json_body(request: Request) -> Any:
    """Dependency: the request's JSON body, or ``{}`` when none was sent."""
    raw = await request.body()
    return await request.json() if raw.strip() else {}


def off_loop(endpoint: F) -> F:
    """Mark a ``def`` endpoint that waits on the network (or computes for long): it always
    runs in the thread pool, never inline on the event loop."""
    setattr(endpoint, OFF_LOOP_ATTRIBUTE, True)
    return endpoint


def runs_inline(endpoint: Callable[..., Any]) -> bool:
    """Whether :class:`ExactRoute` may run ``endpoint`` on the event loop (on SQLite)."""
    return inspect.isfunction(endpoint) and not (
        inspect.iscoroutinefunction(endpoint) or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint) or getattr(endpoint, OFF_LOOP_ATTRIBUTE, False))


def _loop_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function: inline on SQLite, in the thread pool
    otherwise. FastAPI reads the signature and annotations through ``__wrapped__``."""

    @functools.wraps(endpoint)
    async def on_loop(*args: Any, **kwargs: Any) -> Any:
        return await run_local(endpoint, *args, **kwargs)

    return on_loop


class ExactRoute(APIRoute):
    """Route class of every openbss router: the body rule above, JSON numbers in
    request bodies never pass through a float (``{"value": 0.1}`` arrives as
    ``Decimal("0.1")``), and ``def`` endpoints inline on SQLite (see the module
    docstring)."""

    #: True for a route whose endpoint reads a non-JSON body itself (:class:`RawBodyRoute`)
    raw_body = False

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.original_endpoint = endpoint
        if runs_inline(endpoint):
            endpoint = _loop_endpoint(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        form = self.body_field is not None and isinstance(self.body_field.field_info,
                                                          params.Form)

        async def exact_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            for name, value in request.path_params.items():
                if "\x00" in str(value):  # no resource has such an id (PostgreSQL would fail)
                    raise NotFoundError(f"no resource with that {name}", field=name)
            if not form and not self.raw_body and request.method in BODY_METHODS:
                raw = await exact.body()
                if raw:
                    check_content_type(exact)
                    await exact.json()
            response: Response = await handler(exact)
            return response

        return exact_handler


class RawBodyRoute(ExactRoute):
    """A route whose endpoint reads and checks its own non-JSON body (an XML bank
    statement, a gateway's signed webhook): no JSON ``Content-Type`` rule, no parsing."""

    raw_body = True


# --- the route index ------------------------------------------------------------------
# FastAPI walks the routes of every included router in order, calling each route's
# ``matches`` (regex, path parameters, scope bookkeeping): ~75 calls for a catalog GET,
# twice for the router that matches. The index keeps FastAPI's own matching, on the few
# routes that can match: a route's path matches only paths that start with its static
# prefix (everything before its first ``{param}``), a test Starlette does with an
# anchored regex anyway. Order, first-match-wins, PARTIAL (405) and redirect-slash
# matching are FastAPI's, unchanged; routes without a known prefix are always tried.


class _Candidates:
    """What ``_IncludedRouter._match`` reads from its router: the candidates, here a
    filtered list."""

    __slots__ = ("_candidates",)

    def __init__(self, candidates: list[Any]) -> None:
        self._candidates = candidates

    def effective_candidates(self) -> list[Any]:
        return self._candidates


def _static_prefix(candidate: Any) -> str | None:
    """The static start of the paths ``candidate`` can match, or None (always try it)."""
    from fastapi import routing as fastapi_routing
    from starlette import routing as starlette_routing

    if not isinstance(candidate, fastapi_routing._EffectiveRouteContext):
        return None  # a nested included router
    path: Any = None
    if isinstance(candidate.original_route, APIRoute):
        path = candidate.path
    elif isinstance(candidate.starlette_route, (starlette_routing.Route,
                                                starlette_routing.Mount,
                                                starlette_routing.WebSocketRoute)):
        path = candidate.starlette_route.path
    if not isinstance(path, str):
        return None
    return path.split("{", 1)[0]


def install_route_index(app: Any) -> int:
    """Index the routers included in ``app`` (after every ``include_router``); returns
    how many were indexed (0 when this FastAPI's router internals differ: the stock
    matching is kept)."""
    try:
        from fastapi.routing import _EffectiveRouteContext, _IncludedRouter  # noqa: F401
        from starlette._utils import get_route_path
    except ImportError:  # pragma: no cover - another FastAPI: keep its matching
        return 0
    base_match: Callable[..., Any] | None = getattr(_IncludedRouter, "_match", None)
    if base_match is None:  # pragma: no cover
        return 0
    match_among = base_match

    class IndexedIncludedRouter(_IncludedRouter):
        """An included router that tries only the routes whose static prefix the path
        starts with, through FastAPI's own ``_match``."""

        def _match(self, scope: Any) -> Any:
            # FastAPI matches the selected router twice per request (once to pick it,
            # once to handle it): the second time is answered from the first.
            path = get_route_path(scope)
            memo = scope.setdefault("openbss.route_match", {})
            key = (id(self), path, scope.get("method"))
            if key in memo:
                return memo[key]
            memo[key] = result = self._match_narrowed(scope, path)
            return result

        def _match_narrowed(self, scope: Any, path: str) -> Any:
            candidates = self.effective_candidates()
            index = self.__dict__.get("_openbss_index")
            if index is None or index[0] is not candidates:
                index = (candidates, [(c, _static_prefix(c)) for c in candidates])
                self.__dict__["_openbss_index"] = index
            narrowed = [c for c, prefix in index[1]
                        if prefix is None or path.startswith(prefix)]
            return match_among(_Candidates(narrowed), scope)

    count = 0
    for route in app.router.routes:
        if type(route) is _IncludedRouter:
            route.__class__ = IndexedIncludedRouter
            count += 1
    return count
