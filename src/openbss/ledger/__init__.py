"""The ledger context: double-entry journals, the chart of accounts, the receivable
sub-ledger, the trial balance and the general-ledger export (docs/ledger.md)."""
