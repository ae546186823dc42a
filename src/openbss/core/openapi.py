"""Request-body schemas in the OpenAPI document for routes that parse their JSON body
themselves (to keep numbers exact or to validate with a context-specific model)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

_models: dict[str, type[BaseModel]] = {}


def _namespace(model: type[BaseModel]) -> str:
    """Component names are namespaced by context (``party.Money``, ``catalog.Money``)."""
    parts = model.__module__.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "openbss" else parts[0]


def _ref(namespace: str) -> str:
    return "#/components/schemas/" + namespace + ".{model}"


def request_body(model: type[BaseModel], *, patch: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a route: its JSON body is ``model`` (merge-patch for PATCH)."""
    name = f"{_namespace(model)}.{model.__name__}"
    _models[name] = model
    media = "application/merge-patch+json" if patch else "application/json"
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    content = {media: {"schema": schema}}
    if patch:
        content["application/json"] = {"schema": schema}
    return {"requestBody": {"required": True, "content": content}}


def install(app: FastAPI) -> None:
    """Add the registered models (and the models they use) to ``components.schemas``."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = original()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _models.items():
            namespace = _namespace(model)
            schema = model.model_json_schema(by_alias=True, ref_template=_ref(namespace))
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(f"{namespace}.{def_name}", definition)
            schemas[name] = schema
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
