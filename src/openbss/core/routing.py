"""The route class of every openbss router: one rule for request bodies.

Every route of the app goes through :class:`ExactRoute`, which, before the endpoint or
FastAPI's own body handling sees the request:

- refuses a body sent with another ``Content-Type`` than ``application/json`` (PATCH:
  ``application/merge-patch+json`` or ``application/json``), or with none (``curl -d``
  sends ``application/x-www-form-urlencoded``): 415 naming ``Content-Type``. Bodyless
  requests pass; form routes (``/oauth/token``) keep their form;
- parses the JSON once with :func:`openbss.core.jsonx.loads_bounded`: numbers stay exact
  (``Decimal``), malformed JSON or nesting deeper than ``jsonx.MAX_DEPTH`` is a 400 naming
  ``body``, a number beyond ``jsonx.MAX_NUMBER_DIGITS`` digits or ``jsonx.MAX_EXPONENT``
  a 422 naming its field.

Routes that read the body themselves use :func:`json_body` (the same parsed value).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from openbss.core import jsonx
from openbss.core.errors import (
    BadRequestError,
    NotFoundError,
    UnsupportedMediaTypeError,
    ValidationError,
)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
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
    except jsonx.NumberOutOfRangeError as exc:
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


class ExactRoute(APIRoute):
    """Route class of every openbss router: the body rule above, and JSON numbers in
    request bodies never pass through a float (``{"value": 0.1}`` arrives as
    ``Decimal("0.1")``)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        form = self.body_field is not None and isinstance(self.body_field.field_info,
                                                          params.Form)

        async def exact_handler(request: Request) -> Response:
            exact = ExactJSONRequest(request.scope, request.receive)
            for name, value in request.path_params.items():
                if "\x00" in str(value):  # no resource has such an id (PostgreSQL would fail)
                    raise NotFoundError(f"no resource with that {name}", field=name)
            if not form and request.method in BODY_METHODS:
                raw = await exact.body()
                if raw:
                    check_content_type(exact)
                    await exact.json()
            response: Response = await handler(exact)
            return response

        return exact_handler
