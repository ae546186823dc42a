"""The TMF resource routes of every context, from one factory.

A context describes a resource once — its path, who may read/write/delete it, its request
schema and the use cases that do the work — and :func:`add_resource_routes` mounts the TMF
operations on its router::

    add_resource_routes(router, TmfResource(
        name="individual", path=f"{PARTY_PREFIX}/individual", tag="partyManagement",
        schema=schemas.Individual, filters=("status", "name", ...),
        read=Requires.to("party", "read"), write=Requires.to("party", "write"),
        delete=Requires.to("party", "delete"),
        create=lambda ctx, data: service.create_party(ctx, kind="individual", data=data),
        find=lambda ctx, params: service.list_parties(ctx, kind="individual", params=params),
        get=lambda ctx, id: service.get_party(ctx, kind="individual", party_id=id),
        update=lambda ctx, id, patch: service.update_party(ctx, kind="individual",
                                                             party_id=id, patch=patch),
        remove=lambda ctx, id: service.delete_party(ctx, kind="individual", party_id=id),
        render=service.render_party,
    ))

which gives ``POST path`` (201, ``Location``; the body validated by ``schema`` through
:func:`validated` before the use case sees it), ``GET path`` (``offset``/``limit``/
``fields``/``sort``/attribute filters, ``X-Total-Count``/``X-Result-Count``),
``GET path/{id}`` (``fields=``), ``PATCH path/{id}`` (JSON merge-patch; the use case
applies it to the stored document and validates the result) and ``DELETE path/{id}``
(204). Leave ``update`` or ``remove`` out for a resource without them. Bodies are parsed
by the kernel (:class:`~openbss.core.routing.ExactRoute`: exact decimals, bounded depth
and numbers, one ``Content-Type`` rule).
"""

# No ``from __future__ import annotations``: the routes' ``Depends(res.…)`` annotations
# name a closure variable, which FastAPI can only see when they are evaluated here.
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from openbss.core.context import Context
from openbss.core.errors import ValidationError
from openbss.core.openapi import list_filters, request_body
from openbss.core.resources import validation_error
from openbss.core.routing import json_body, off_loop
from openbss.core.tmf import (
    ListParams,
    list_params,
    list_response,
    require_merge_patch,
    resource_response,
)

M = TypeVar("M", bound=BaseModel)
Row = Any  # a context's mapped row; the factory only hands it from use case to renderer
Body = Annotated[Any, Depends(json_body)]


def validated(schema: type[M], payload: Any, *, prefix: str = "") -> M:
    """``payload`` validated by ``schema``, or the 422 naming the first offending field."""
    if not isinstance(payload, dict):
        raise ValidationError("the request body must be a JSON object", field=prefix or "body")
    try:
        return schema.model_validate(payload)
    except PydanticValidationError as exc:
        raise validation_error(exc, prefix=prefix, data=payload) from None


@dataclass(frozen=True)
class TmfResource:
    """One TMF resource as the route factory sees it (see the module docstring)."""

    name: str
    path: str
    tag: str
    schema: type[BaseModel]
    read: Callable[..., Any]
    write: Callable[..., Any]
    create: Callable[[Context, Any], Row]
    find: Callable[[Context, ListParams], tuple[Sequence[Row], int]]  # the list operation
    get: Callable[[Context, str], Row]
    render: Callable[[Context, Row], dict[str, Any]]
    update: Callable[[Context, str, Any], Row] | None = None
    remove: Callable[[Context, str], None] | None = None
    delete: Callable[..., Any] | None = None  # the dependency authorizing DELETE
    render_many: Callable[[Context, Sequence[Row]], list[dict[str, Any]]] | None = None
    filters: Iterable[str] = ()
    #: ``False`` when the use case validates the raw body itself (it needs the tenant).
    validate_create: bool = True
    #: ``True`` when creating computes for long or waits on the network (an import job):
    #: the endpoint then always runs in the thread pool (``core.routing.off_loop``).
    create_off_loop: bool = False


def add_resource_routes(router: APIRouter, res: TmfResource) -> None:
    """Mount ``res``'s TMF operations on ``router``."""
    list_filters(res.path, res.filters)
    item = res.path + "/{id}"

    def render_many(ctx: Context, rows: Sequence[Row]) -> list[dict[str, Any]]:
        if res.render_many is not None:
            return res.render_many(ctx, rows)
        return [res.render(ctx, row) for row in rows]

    def create(request: Request, body: Body,
               ctx: Annotated[Context, Depends(res.write)]) -> JSONResponse:
        data = validated(res.schema, body) if res.validate_create else body
        return resource_response(res.render(ctx, res.create(ctx, data)), request, 201)

    router.post(res.path, status_code=201, tags=[res.tag], name=f"create {res.name}",
                openapi_extra=request_body(res.schema))(
        off_loop(create) if res.create_off_loop else create)

    @router.get(res.path, tags=[res.tag], name=f"list {res.name}")
    def list_(request: Request, ctx: Annotated[Context, Depends(res.read)]) -> JSONResponse:
        params = list_params(request)
        rows, total = res.find(ctx, params)
        return list_response(render_many(ctx, rows), total, params)

    @router.get(item, tags=[res.tag], name=f"get {res.name}")
    def get(id: str, request: Request,
            ctx: Annotated[Context, Depends(res.read)]) -> JSONResponse:
        return resource_response(res.render(ctx, res.get(ctx, id)), request)

    if res.update is not None:
        update = res.update

        @router.patch(item, tags=[res.tag], name=f"patch {res.name}",
                      openapi_extra=request_body(res.schema, patch=True))
        def patch(id: str, request: Request, body: Body,
                  ctx: Annotated[Context, Depends(res.write)]) -> JSONResponse:
            require_merge_patch(request)
            return resource_response(res.render(ctx, update(ctx, id, body)), request)

    if res.remove is not None:
        if res.delete is None:
            raise TypeError(f"{res.name}: remove needs its delete dependency")
        remove = res.remove

        @router.delete(item, status_code=204, tags=[res.tag], name=f"delete {res.name}")
        def delete(id: str, ctx: Annotated[Context, Depends(res.delete)]) -> Response:
            remove(ctx, id)
            return Response(status_code=204)
