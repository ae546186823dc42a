"""HTTP routes of this context (filled in by its issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
# (api name, path prefix) of every TMF API this context serves: each gets POST/DELETE /hub.
TMF_APIS: list[tuple[str, str]] = []
