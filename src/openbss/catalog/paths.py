"""The API path of the catalog context (TMF620), defined once."""

from __future__ import annotations

PREFIX = "/tmf-api/productCatalogManagement/v4"


def path_of(kind: str) -> str:
    """Collection path of a catalog resource kind (``productOffering`` …)."""
    return f"{PREFIX}/{kind}"
