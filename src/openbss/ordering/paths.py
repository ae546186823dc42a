"""The API paths of the ordering context, defined once."""

from __future__ import annotations

INVENTORY_API = "productInventory"
INVENTORY_PREFIX = "/tmf-api/productInventory/v4"
PRODUCT_PATH = f"{INVENTORY_PREFIX}/product"
PRODUCT_HISTORY_PATH = "/api/v1/products/{id}/history"
