"""Shared helpers of the catalog API tests: paths, factories and swagger validation."""

from __future__ import annotations

from typing import Any

from tmf_schema import assert_valid

P = "/tmf-api/productCatalogManagement/v4"
SWAGGER = "TMF620-ProductCatalog-v4.0.0.swagger.json"
TYPES = {"catalog": "Catalog", "category": "Category",
         "productSpecification": "ProductSpecification", "productOffering": "ProductOffering",
         "productOfferingPrice": "ProductOfferingPrice", "importJob": "ImportJob",
         "exportJob": "ExportJob"}


def assert_tmf(kind: str, resource: Any) -> None:
    """Validate a response body (object or list) against the TMF620 swagger definition."""
    assert_valid(SWAGGER, TYPES[kind], resource)


def post(client, tenant, kind: str, body: dict[str, Any], status: int = 201,
         role: str = "catalog_manager") -> dict[str, Any]:
    r = client.post(f"{P}/{kind}", json=body, headers=tenant.headers(role))
    assert r.status_code == status, r.text
    return r.json()


def patch(client, tenant, kind: str, id: str, body: dict[str, Any], status: int = 200
          ) -> dict[str, Any]:
    r = client.patch(f"{P}/{kind}/{id}", json=body, headers=tenant.headers(
        **{"Content-Type": "application/merge-patch+json"}))
    assert r.status_code == status, r.text
    return r.json()


def price(client, tenant, **extra: Any) -> dict[str, Any]:
    body = {"name": "Monthly fee", "priceType": "recurring",
            "price": {"unit": "EUR", "value": "25.00"}, **extra}
    return post(client, tenant, "productOfferingPrice", body)


def offering(client, tenant, prices: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"name": "Mobile M", **extra}
    if prices:
        body["productOfferingPrice"] = [{"id": p} for p in prices]
    return post(client, tenant, "productOffering", body)


def active_offering(client, tenant, **extra: Any) -> dict[str, Any]:
    pop = price(client, tenant)
    return offering(client, tenant, [pop["id"]], lifecycleStatus="Active", **extra)
