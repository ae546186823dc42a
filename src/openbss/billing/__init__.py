"""Billing (TMF678): bill cycles, idempotent bill runs, invoices with proration, usage,
discounts and tax, credit notes, manual charges and invoice documents. It reads the
ordering context's product history and one-time charges and the rating context's rated
usage as one stream of billing events per account. See docs/billing.md."""
