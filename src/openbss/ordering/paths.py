"""The API paths of the ordering context, defined once."""

from __future__ import annotations

INVENTORY_API = "productInventory"
INVENTORY_PREFIX = "/tmf-api/productInventory/v4"
PRODUCT_PATH = f"{INVENTORY_PREFIX}/product"
PRODUCT_HISTORY_PATH = "/api/v1/products/{id}/history"
PRODUCT_CHARGES_PATH = "/api/v1/products/{id}/charges"

# -- product orders (TMF622) ---------------------------------------------------------------
ORDERING_API = "productOrderingManagement"
ORDERING_PREFIX = "/tmf-api/productOrderingManagement/v4"
PRODUCT_ORDER_PATH = f"{ORDERING_PREFIX}/productOrder"
CANCEL_ORDER_PATH = f"{ORDERING_PREFIX}/cancelProductOrder"

# -- quotes (TMF648) -----------------------------------------------------------------------
QUOTE_API = "quoteManagement"
QUOTE_PREFIX = "/tmf-api/quoteManagement/v4"
QUOTE_PATH = f"{QUOTE_PREFIX}/quote"
QUOTE_ORDER_PATH = "/api/v1/quotes/{id}/order"

# -- provisioning (TMF641 client) ----------------------------------------------------------
PROVISIONING_SETTINGS_GROUP = "provisioning"
TMF641_LISTENER_PATH = "/api/v1/provisioning/tmf641/listener"
#: Where the OSS sends its TMF641 notifications: the tenant and its callback secret (outside
#: ``/api/``: no bearer token, the secret in the URL is the credential).
TMF641_EVENTS_PATH = "/callbacks/tmf641/{tenant}/{secret}"
