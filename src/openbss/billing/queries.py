"""Every SQL statement of the billing context, through core's tenant-scoped helpers."""

from __future__ import annotations

# -- invoices, lines, charges, documents, numbering (invoices.py, numbering.py) -------------


# -- the billing-events junction and bill runs (junction.py, billrun.py) ---------------------
