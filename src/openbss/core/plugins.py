"""The modules that register hooks into the contexts below them (the ledger posting
billing's invoices, payments using credit on new invoices and counting in the account
balance, dunning closing cases): imported by name once per process, by whatever starts
openbss — the app, the CLI, a bill-run worker process — so a hook is never missing in
one of them. The kernel imports no context: the names are data here.
"""

from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = (
    "openbss.ledger.postings",
    "openbss.payments.service",
    "openbss.payments.dunning",
)
_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    for name in MODULES:
        importlib.import_module(name)
    _loaded = True
