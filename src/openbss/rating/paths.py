"""The API paths of the rating context, defined once (what TMF635 lacks lives under
``/api/v1/rating``)."""

from __future__ import annotations

PREFIX = "/api/v1/rating"
TARIFFS_PATH = f"{PREFIX}/tariffs"
TARIFF_PATH = f"{TARIFFS_PATH}/{{id}}"
TARIFF_BY_NAME_PATH = f"{TARIFFS_PATH}/{{name}}"
COST_PATH = f"{PREFIX}/cost"


def tariff_href(base_url: str, tariff_id: str) -> str:
    """The ``href`` of a stored tariff."""
    return f"{base_url.rstrip('/')}{TARIFFS_PATH}/{tariff_id}"
