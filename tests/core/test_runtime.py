"""``core.runtime.batch_gc``: batch thresholds while batch work runs, the old ones after."""

from __future__ import annotations

import gc
import threading

from openbss.core.runtime import BATCH_GC_THRESHOLDS, batch_gc


def test_thresholds_during_batch_work_and_restored_after() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with batch_gc():
            assert gc.get_threshold() == BATCH_GC_THRESHOLDS
            with batch_gc():  # nested: still the batch thresholds
                assert gc.get_threshold() == BATCH_GC_THRESHOLDS
            assert gc.get_threshold() == BATCH_GC_THRESHOLDS
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_restored_after_an_error_and_when_concurrent_uses_end() -> None:
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with batch_gc():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    try:
        thread.start()
        entered.wait(5)
        try:
            with batch_gc():
                raise RuntimeError("a failing batch")
        except RuntimeError:
            pass
        assert gc.get_threshold() == BATCH_GC_THRESHOLDS  # the other batch still runs
        release.set()
        thread.join(5)
        assert gc.get_threshold() == before
    finally:
        release.set()
        thread.join(5)
        gc.set_threshold(*before)
