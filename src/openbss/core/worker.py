"""The worker: a loop around :func:`openbss.core.events.deliver_due` and the passes the
contexts register with :func:`register_periodic` (core imports none of them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import structlog

from openbss.core import clock
from openbss.core.config import get_settings
from openbss.core.db import unit_of_work
from openbss.core.events import deliver_due
from openbss.core.netguard import guarded_client

log = structlog.get_logger("openbss.worker")


def run_once(client: httpx.Client | None = None, limit: int = 100) -> int:
    """Attempt every due delivery once, in its own transaction; return the count.
    ``client`` must come from :func:`openbss.core.netguard.guarded_client`."""
    settings = get_settings()
    with unit_of_work() as session:
        return deliver_due(
            session, client=client, max_attempts=settings.webhook_max_attempts, limit=limit
        )


def purge_expired(now: datetime | None = None, tenant_id: str | None = None) -> int:
    """Housekeeping: forget idempotent answers older than ``OPENBSS_IDEMPOTENCY_TTL_HOURS``."""
    from openbss.core.idempotency import purge_idempotency_records

    cutoff = (now or clock.utcnow()) - timedelta(hours=get_settings().idempotency_ttl_hours)
    with unit_of_work() as session:
        purged = purge_idempotency_records(session, older_than=cutoff, tenant_id=tenant_id)
    if purged:
        log.info("idempotency_records_purged", count=purged)
    return purged


HOUSEKEEPING_SECONDS = 300

#: Other passes of the loop, by name: each does one batch of due work in its own
#: transactions and returns how much it did (contexts register theirs; core imports none).
PERIODIC: dict[str, Callable[[], int]] = {}


def register_periodic(name: str, fn: Callable[[], int]) -> None:
    """Run ``fn`` on every iteration of :func:`run_forever` (registering a name again
    replaces it). A pass that raises is logged; the others still run."""
    PERIODIC[name] = fn


def run_periodic() -> int:
    """Every registered pass once; the work they did."""
    busy = 0
    for name, fn in list(PERIODIC.items()):
        try:
            busy += fn()
        except Exception:
            log.exception("worker_pass_failed", name=name)
    return busy


def run_forever(stop: threading.Event) -> None:
    """Deliver events, run the registered passes (and do housekeeping) until ``stop`` is
    set; database errors are logged and retried. The loop sleeps ``worker_poll_seconds``
    only when an iteration found nothing to do."""
    settings = get_settings()
    log.info("worker_started", poll_seconds=settings.worker_poll_seconds)
    next_housekeeping = 0.0
    # Every connection goes through the SSRF guard: resolved once, validated, connected
    # to the validated address; no redirects, no proxies from the environment.
    with guarded_client(allow_private=settings.webhook_allow_private,
                        timeout=settings.webhook_timeout_seconds) as client:
        while not stop.is_set():
            try:
                if clock.monotonic() >= next_housekeeping:
                    purge_expired()
                    next_housekeeping = clock.monotonic() + HOUSEKEEPING_SECONDS
                busy = run_once(client)
                busy += run_periodic()
            except Exception:
                log.exception("worker_iteration_failed")
                busy = 0
            if not busy:
                stop.wait(settings.worker_poll_seconds)
    log.info("worker_stopped")


def start_in_thread() -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(stop,), name="openbss-worker",
                              daemon=True)
    thread.start()
    return thread, stop
