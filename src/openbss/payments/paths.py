"""The API paths of the payments context, defined once (TMF676, TMF670 and what TMF
lacks under ``/api/v1``)."""

from __future__ import annotations

PAYMENT_API = "paymentManagement"
PAYMENT_PREFIX = "/tmf-api/paymentManagement/v4"
PAYMENT_PATH = f"{PAYMENT_PREFIX}/payment"
PAYMENT_ITEM = f"{PAYMENT_PATH}/{{id}}"
REFUND_PATH = f"{PAYMENT_PREFIX}/refund"
REFUND_ITEM = f"{REFUND_PATH}/{{id}}"

METHOD_API = "paymentMethods"
METHOD_PREFIX = "/tmf-api/paymentMethods/v4"
METHOD_PATH = f"{METHOD_PREFIX}/paymentMethod"
METHOD_ITEM = f"{METHOD_PATH}/{{id}}"

# payments: what TMF676 lacks
ALLOCATIONS_PATH = "/api/v1/payments/{id}/allocations"    # POST: allocate unapplied money
REVERSAL_PATH = "/api/v1/payments/{id}/reversal"          # POST: returned / bounced
CHARGEBACK_PATH = "/api/v1/payments/{id}/chargeback"      # POST: card chargeback
WRITE_OFF_PATH = "/api/v1/customerBills/{id}/writeOff"    # POST: bad debt
#: a gateway's webhooks (signed by the gateway: no API key); {tenant}: the tenant id
GATEWAY_WEBHOOK_PATH = "/callbacks/payments/{gateway}/{tenant}"

# SEPA direct debit and bank statements (ISO 20022)
SEPA_COLLECTIONS_PATH = "/api/v1/payments/sepaCollections"       # POST export, GET list
SEPA_COLLECTION_ITEM = "/api/v1/payments/sepaCollections/{id}"
SEPA_COLLECTION_FILE = "/api/v1/payments/sepaCollections/{id}/file"  # the pain.008 XML
STATEMENTS_PATH = "/api/v1/payments/bankStatements"              # POST import, GET list
STATEMENT_ITEM = "/api/v1/payments/bankStatements/{id}"
ENTRIES_PATH = "/api/v1/payments/statementEntries"               # ?state=unmatched: queue
ENTRY_ITEM = "/api/v1/payments/statementEntries/{id}"
ENTRY_MATCH_PATH = "/api/v1/payments/statementEntries/{id}/match"  # POST manual match

# dunning and the aging report
DUNNING_POLICIES_PATH = "/api/v1/dunning/policies"
DUNNING_POLICY_ITEM = "/api/v1/dunning/policies/{id}"
DUNNING_RUNS_PATH = "/api/v1/dunning/runs"                       # POST {asOf}
DUNNING_CASES_PATH = "/api/v1/dunning/cases"
DUNNING_CASE_ITEM = "/api/v1/dunning/cases/{id}"
HOLDS_PATH = "/api/v1/dunning/holds"                             # disputes, payment plans
HOLD_ITEM = "/api/v1/dunning/holds/{id}"
HANDOVERS_PATH = "/api/v1/dunning/handovers"                     # CSV for the agency
AGING_PATH = "/api/v1/reports/aging"

ACCOUNT_PATH = "/tmf-api/accountManagement/v4/billingAccount"
CUSTOMER_BILL_PATH = "/tmf-api/customerBillManagement/v4/customerBill"
