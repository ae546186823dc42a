"""The API paths of the party context (TMF632, TMF629, TMF666), defined once."""

from __future__ import annotations

PARTY_PREFIX = "/tmf-api/partyManagement/v4"
CUSTOMER_PREFIX = "/tmf-api/customerManagement/v4"
ACCOUNT_PREFIX = "/tmf-api/accountManagement/v4"

#: Collection path of each party kind.
PATHS = {"individual": f"{PARTY_PREFIX}/individual",
         "organization": f"{PARTY_PREFIX}/organization"}
CUSTOMER_PATH = f"{CUSTOMER_PREFIX}/customer"


def account_path(kind: str) -> str:
    """Collection path of an account kind (``billingAccount``, ``partyAccount`` …)."""
    return f"{ACCOUNT_PREFIX}/{kind}"
