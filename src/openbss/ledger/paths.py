"""The API paths of the ledger context (TMF has no ledger API: ``/api/v1/ledger``)."""

from __future__ import annotations

ACCOUNTS_PATH = "/api/v1/ledger/accounts"                # the chart of accounts
ACCOUNT_ITEM = "/api/v1/ledger/accounts/{code}"
ENTRIES_PATH = "/api/v1/ledger/journalEntries"          # ?from=&to=&kind=&billingAccount=
ENTRY_ITEM = "/api/v1/ledger/journalEntries/{id}"
TRIAL_BALANCE_PATH = "/api/v1/ledger/trialBalance"      # ?from=&to=&currency=
RECEIVABLES_PATH = "/api/v1/ledger/receivables"         # the sub-ledger per billing account
EXPORT_PATH = "/api/v1/ledger/export"                   # ?period=2026-11&format=csv
