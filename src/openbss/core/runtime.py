"""Process-wide settings of the Python runtime for openbss's batch work.

:func:`batch_gc`: CPython's default garbage-collector thresholds (700, 10, 10) start a
young-generation collection every 700 net allocations and a full one every 100 of those.
A bill run or a usage import allocates millions of short-lived objects (decimals, dicts,
rows) that die by reference counting, so with the defaults the collector keeps walking
the live heap for nothing: on bench_billrun (4,000 accounts, SQLite) it took a fifth of
the run. :data:`BATCH_GC_THRESHOLDS` collect cycles just as surely, less often
(docs/benchmarks.md, "Garbage collection"). Requests keep the defaults: measured on
bench_http and bench_usage_api, larger thresholds gave nothing there (the server
freezes what startup built instead).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: (young generation, middle, old) while batch work runs.
BATCH_GC_THRESHOLDS = (20_000, 50, 100)
_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def batch_gc() -> Iterator[None]:
    """:data:`BATCH_GC_THRESHOLDS` for the duration (nested or concurrent uses keep them
    until the last ends; the thresholds before are then restored)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*BATCH_GC_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
