"""Assemble the FastAPI application from the contexts' routers."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from openbss import __version__
from openbss.assurance import api as assurance_api
from openbss.billing import api as billing_api
from openbss.catalog import api as catalog_api
from openbss.catalog import preview as pricing_preview
from openbss.core import api as core_api
from openbss.core import openapi, plugins
from openbss.core.config import HOW_TO_SET_SECRET_KEY, get_settings, secret_key_problem
from openbss.core.db import start_checkpointer
from openbss.core.error_handlers import install_error_handlers
from openbss.core.logging import configure_logging
from openbss.core.middleware import UnitOfWorkMiddleware
from openbss.core.routing import install_route_index
from openbss.ledger import api as ledger_api
from openbss.ordering import api as ordering_api
from openbss.party import api as party_api
from openbss.payments import api as payments_api
from openbss.rating import api as rating_api
from openbss.usage import api as usage_api

# Every TMF API mounted here gets its hub (listener registration) automatically.
TMF_APIS: list[tuple[str, str]] = [
    ("event", "/tmf-api/event/v4"),
    *party_api.TMF_APIS,
    *catalog_api.TMF_APIS,
    *ordering_api.TMF_APIS,
    *usage_api.TMF_APIS,
    *billing_api.TMF_APIS,
    *payments_api.TMF_APIS,
]
CONTEXT_ROUTERS = [party_api.router, catalog_api.router, pricing_preview.router,
                   ordering_api.router, rating_api.router, usage_api.router,
                   usage_api.bulk_router, billing_api.router, payments_api.router,
                   ledger_api.router, assurance_api.router]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    worker = None
    if os.environ.get("OPENBSS_RUN_WORKER") == "1":
        from openbss.core.worker import start_in_thread
        from openbss.ordering.orchestration import register_worker_pass
        from openbss.payments.dunning import register_worker_pass as register_dunning_pass

        register_worker_pass()
        register_dunning_pass()
        worker = start_in_thread()
    checkpointer = start_checkpointer()  # SQLite: WAL checkpoints off the request path
    gc.freeze()  # what startup built (routes, schemas, mappers) is never collected again
    yield
    if checkpointer is not None:
        checkpointer[1].set()
        checkpointer[0].join(timeout=10)
    if worker is not None:
        thread, stop = worker
        stop.set()
        thread.join(timeout=10)


def create_app() -> FastAPI:
    plugins.load()
    settings = get_settings()
    problem = secret_key_problem(settings)
    if problem:  # never serve tokens signed with a guessable key
        raise RuntimeError(f"{problem}; {HOW_TO_SET_SECRET_KEY}")
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="openbss",
        version=__version__,
        description="Open-source Business Support System: TM Forum Open APIs for catalog, "
        "customers, ordering, usage, billing and payments.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(UnitOfWorkMiddleware)
    app.include_router(core_api.router)
    for router in CONTEXT_ROUTERS:
        app.include_router(router)
    for api, prefix in TMF_APIS:
        app.include_router(core_api.hub_router(api, prefix))
    openapi.install(app)
    install_route_index(app)  # after every include_router: the routes are known
    return app
