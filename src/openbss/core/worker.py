"""The event-delivery worker: a loop around :func:`openbss.core.events.deliver_due`."""

from __future__ import annotations

import threading

import httpx
import structlog

from openbss.core.config import get_settings
from openbss.core.db import unit_of_work
from openbss.core.events import deliver_due

log = structlog.get_logger("openbss.worker")


def run_once(client: httpx.Client, limit: int = 100) -> int:
    """Attempt every due delivery once, in its own transaction; return the count."""
    settings = get_settings()
    with unit_of_work() as session:
        return deliver_due(
            session, client=client, max_attempts=settings.webhook_max_attempts, limit=limit
        )


def run_forever(stop: threading.Event) -> None:
    """Deliver events until ``stop`` is set; database errors are logged and retried."""
    settings = get_settings()
    log.info("worker_started", poll_seconds=settings.worker_poll_seconds)
    with httpx.Client(timeout=settings.webhook_timeout_seconds) as client:
        while not stop.is_set():
            try:
                busy = run_once(client)
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
