"""Demo catalogs: a mobile operator, a fibre ISP and a SaaS API product.

They are YAML catalog files shipped in ``demo_data/`` and loaded through the importer,
so the demo also exercises the import path. Idempotent: a catalog whose key already
exists in the tenant is skipped.
"""

from __future__ import annotations

from importlib import resources

from openbss.catalog import importer, queries
from openbss.core.context import Context

DEMO_FILES = {"demo-mobile": "mobile.yaml", "demo-fibre": "fibre.yaml", "demo-saas": "saas.yaml"}


def load(ctx: Context) -> list[str]:
    """Create the demo catalogs unless they exist; return summary lines."""
    lines = []
    for key, filename in DEMO_FILES.items():
        if queries.key_taken(ctx, "catalog", key):
            lines.append(f"catalog {key!r} already loaded")
            continue
        text = resources.files("openbss.catalog").joinpath("demo_data", filename).read_text(
            encoding="utf-8")
        counts = importer.import_catalog(ctx, data=importer.parse(text))
        lines.append(f"catalog {key!r}: {counts['productOffering']['created']} offerings, "
                     f"{counts['productOfferingPrice']['created']} prices")
    return lines
