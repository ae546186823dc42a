"""The API paths of the usage context, defined once."""

from __future__ import annotations

USAGE_API = "usageManagement"
USAGE_PREFIX = "/tmf-api/usageManagement/v4"
USAGE_PATH = f"{USAGE_PREFIX}/usage"
USAGE_SPECIFICATION_PATH = f"{USAGE_PREFIX}/usageSpecification"

# -- what TMF635 lacks ----------------------------------------------------------------------
BULK_PATH = "/api/v1/usage/bulk"
REJECTS_PATH = "/api/v1/usage/rejects"
REPROCESS_PATH = "/api/v1/usage/rejects/reprocess"
SETTINGS_GROUP = "usage"

#: Where the rated usage's ``productRef`` points (the product inventory, TMF637).
PRODUCT_PATH = "/tmf-api/productInventory/v4/product"
