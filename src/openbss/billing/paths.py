"""The API paths of the billing context, defined once (TMF678 and what it lacks)."""

from __future__ import annotations

BILL_API = "customerBillManagement"
BILL_PREFIX = "/tmf-api/customerBillManagement/v4"
CUSTOMER_BILL_PATH = f"{BILL_PREFIX}/customerBill"
CUSTOMER_BILL_ITEM = f"{CUSTOMER_BILL_PATH}/{{id}}"
BILLING_RATE_PATH = f"{BILL_PREFIX}/appliedCustomerBillingRate"
BILLING_RATE_ITEM = f"{BILLING_RATE_PATH}/{{id}}"
ON_DEMAND_PATH = f"{BILL_PREFIX}/customerBillOnDemand"
ON_DEMAND_ITEM = f"{ON_DEMAND_PATH}/{{id}}"

CREDIT_NOTES_PATH = "/api/v1/customerBills/{id}/creditNotes"
DOCUMENT_PATH = "/api/v1/customerBills/{id}/document"
CHARGES_PATH = "/api/v1/billingAccounts/{id}/charges"
CHARGE_ITEM = "/api/v1/billingAccounts/{id}/charges/{charge_id}"
BILL_RUNS_PATH = "/api/v1/billRuns"
BILL_RUN_ITEM = "/api/v1/billRuns/{id}"

ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"
PAYMENT_PATH = "/tmf-api/paymentManagement/v4/payment"
PRODUCT_PATH = "/tmf-api/productInventory/v4/product"


def document_href(base_url: str, invoice_id: str) -> str:
    return base_url.rstrip("/") + DOCUMENT_PATH.replace("{id}", invoice_id)


def charge_href(base_url: str, account_id: str, charge_id: str) -> str:
    return base_url.rstrip("/") + CHARGE_ITEM.replace("{id}", account_id).replace(
        "{charge_id}", charge_id)
