"""Per-tenant settings groups (``provisioning``, ``billing`` …) behind one pair of routes.

A context declares a group once — its name, a Pydantic schema whose defaults are the
defaults, and who may read and change it — and :func:`add_settings_routes` serves
``GET /api/v1/settings/{name}`` (the stored values over the defaults) and ``PATCH
/api/v1/settings/{name}`` (a JSON merge-patch, validated as a whole; audited). Use cases
read a group with :func:`read`. Unknown keys are refused (422 naming them).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from openbss.core import audit
from openbss.core.context import Context
from openbss.core.jsonx import ExactJSONResponse
from openbss.core.models import TenantSetting
from openbss.core.openapi import request_body
from openbss.core.queries import scoped
from openbss.core.resources import patched
from openbss.core.routing import json_body
from openbss.core.tmf import require_merge_patch

M = TypeVar("M", bound=BaseModel)
SETTINGS_PATH = "/api/v1/settings/{name}"


def _row(ctx: Context, name: str) -> TenantSetting | None:
    row: TenantSetting | None = ctx.session.scalar(
        scoped(ctx, TenantSetting).where(TenantSetting.name == name))
    return row


def read(ctx: Context, name: str, schema: type[M]) -> M:
    """The tenant's settings of group ``name`` (the schema's defaults where unset)."""
    row = _row(ctx, name)
    return schema.model_validate(row.value if row is not None else {})


def _view(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def update(ctx: Context, name: str, schema: type[M], patch: Any) -> M:
    """Apply a merge-patch to the group and store the validated result (audited)."""
    row = _row(ctx, name)
    current = _view(read(ctx, name, schema))
    model = patched(current, patch, schema, readonly=frozenset())
    after = _view(model)
    if after == current:
        return model
    if row is None:
        row = TenantSetting(tenant_id=ctx.tenant_id, name=name, value=after)
        ctx.session.add(row)
    else:
        row.value = after
    row.updated_at = ctx.now
    audit.record(ctx, action="update", resource_type="settings", resource_id=name,
                 before=current, after=after)
    return model


def add_settings_routes(router: APIRouter, name: str, schema: type[BaseModel], *,
                        read_dep: Callable[..., Any], write_dep: Callable[..., Any],
                        tag: str = "settings") -> None:
    """``GET``/``PATCH /api/v1/settings/{name}`` for one group."""
    path = SETTINGS_PATH.replace("{name}", name)

    @router.get(path, tags=[tag], name=f"get {name} settings")
    def get_settings(ctx: Annotated[Context, Depends(read_dep)]) -> JSONResponse:
        return ExactJSONResponse(_view(read(ctx, name, schema)))

    @router.patch(path, tags=[tag], name=f"patch {name} settings",
                  openapi_extra=request_body(schema, patch=True))
    def patch_settings(request: Request, body: Annotated[Any, Depends(json_body)],
                       ctx: Annotated[Context, Depends(write_dep)]) -> JSONResponse:
        require_merge_patch(request)
        return ExactJSONResponse(_view(update(ctx, name, schema, body)))
