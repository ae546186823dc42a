"""The API path of the assurance context (TMF has no reconciliation API)."""

from __future__ import annotations

RECONCILIATION_PATH = "/api/v1/reconciliation"   # ?period=2026-11&currency=EUR
