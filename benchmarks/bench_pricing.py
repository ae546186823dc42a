"""Benchmark of the pure pricing calculator (:mod:`openbss.catalog.pricing`).

Prices N quantities (default 200,000; ``--smoke``: 2,000) under each of four charge models
-- graduated (4 tiers with flat fees), volume (4 tiers), package (with free units) and
percentage (one transaction per period, fixed fee, min / max per transaction) -- one
``price()`` call per quantity, on one core. The quantities are generated up front
(deterministic, decimals with up to 3 places, 0 to 60,000) and only the pricing is timed.

Prints ONE JSON line on stdout::

    {"metric": "pricing_quantities_per_second", "value": ..., "unit": "ops/s", "n": N,
     "machine": "...", "details": {"graduated": ..., "volume": ..., ...}}

``value`` is all models together (4 * N prices / total pricing time); ``details`` gives each
model's own rate. A Rich progress bar goes to stderr (not with ``--smoke``).

    .venv/bin/python benchmarks/bench_pricing.py [--smoke] [-n N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from openbss.catalog.pricing import ChargeModel, parse_charge_model, price

DEFAULT_N = 200_000
SMOKE_N = 2_000
CHUNK = 1_000

MODELS: dict[str, dict[str, Any]] = {
    "graduated": {
        "type": "graduated",
        "tiers": [
            {"upTo": "1000", "unitPrice": "0.05", "flatFee": "2"},
            {"upTo": "10000", "unitPrice": "0.04", "flatFee": "1"},
            {"upTo": "50000", "unitPrice": "0.025"},
            {"upTo": None, "unitPrice": "0.0125"},
        ],
    },
    "volume": {
        "type": "volume",
        "tiers": [
            {"upTo": "1000", "unitPrice": "0.05", "flatFee": "2"},
            {"upTo": "10000", "unitPrice": "0.04", "flatFee": "1"},
            {"upTo": "50000", "unitPrice": "0.025"},
            {"upTo": None, "unitPrice": "0.0125"},
        ],
    },
    "package": {"type": "package", "packageSize": "1000", "packagePrice": "4.5",
                "freeUnits": "500"},
    "percentage": {"type": "percentage", "rate": "1.4", "fixedFee": "0.25",
                   "minPerTransaction": "0.5", "maxPerTransaction": "250"},
}


def machine() -> str:
    """``platform, CPU model, CPU count`` of this machine."""
    model = platform.processor() or ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    parts = [platform.platform(), f"Python {platform.python_version()}"]
    if model:
        parts.append(model)
    parts.append(f"{os.cpu_count()} CPUs")
    return ", ".join(parts)


def quantities(n: int, seed: int = 20261126) -> list[Decimal]:
    rng = random.Random(seed)
    return [Decimal(rng.randrange(0, 60_000_000)).scaleb(-3) for _ in range(n)]


def pricer(model: ChargeModel) -> Callable[[Decimal], Decimal]:
    if model.type == "percentage":
        return lambda q: price(model, events=[q]).amount
    return lambda q: price(model, quantity=q).amount


def run(n: int, progress: bool) -> dict[str, Any]:
    qs = quantities(n)
    models = {name: parse_charge_model(params) for name, params in MODELS.items()}
    elapsed: dict[str, float] = {}
    checksum = Decimal(0)

    def timed(name: str, advance: Callable[[int], None]) -> None:
        nonlocal checksum
        one = pricer(models[name])
        total = 0.0
        for start in range(0, n, CHUNK):
            chunk = qs[start:start + CHUNK]
            began = time.perf_counter()
            for q in chunk:
                checksum += one(q)
            total += time.perf_counter() - began
            advance(len(chunk))
        elapsed[name] = total

    if progress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            for name in models:
                task = bar.add_task(name, total=n)

                def advance(k: int, task: TaskID = task) -> None:
                    bar.advance(task, k)

                timed(name, advance)
    else:
        for name in models:
            timed(name, lambda _k: None)

    assert checksum > 0
    details = {name: round(n / seconds, 1) for name, seconds in elapsed.items()}
    return {
        "metric": "pricing_quantities_per_second",
        "value": round(len(models) * n / sum(elapsed.values()), 1),
        "unit": "ops/s",
        "n": n,
        "machine": machine(),
        "details": details,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"quick run, N={SMOKE_N}")
    parser.add_argument("-n", type=int, default=None, help=f"quantities (default {DEFAULT_N})")
    args = parser.parse_args(argv)
    n = args.n or (SMOKE_N if args.smoke else DEFAULT_N)
    result = run(n, progress=not args.smoke)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
