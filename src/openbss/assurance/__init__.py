"""Revenue assurance: the reconciliation of usage, rating, billing, payments and the
ledger (``openbss reconcile``, ``GET /api/v1/reconciliation``)."""
