"""Benchmark of invoice documents (:func:`openbss.billing.documents.render_document`).

Renders N invoices (default 2,000; ``--smoke``: 50) of 20 lines each — a parent with two
children paid by it (three groups with subtotals), two tax rates, a reverse-charge note,
payment instructions, ``de-DE`` formats — in-process on one core. Every invoice has its own
number and amounts (a bill run's documents differ), so the formatting caches only help with
what really repeats (prices, periods, labels). The inputs are built up front; only the
rendering is timed.

The baseline, measured in the same run on the same inputs' count: a bare ReportLab canvas
page with 20 lines of plain text (``drawString`` per line) saved to bytes — the floor of
any ReportLab document. ``ratio`` = docs_per_s / baseline_per_s.

Prints ONE JSON line on stdout::

    {"benchmark": "documents", "metric": "documents_per_second", "value": ..., "unit":
     "docs/s", "n": N, "seconds": ..., "docs_per_s": ..., "baseline_per_s": ..., "ratio":
     ..., "bytes_per_doc": ..., "accelerated": false, "machine": "..."}

``accelerated`` says whether ReportLab's C accelerator (the ``rl-accel`` package) is
installed. A Rich progress bar goes to stderr (not with ``--smoke``).

    .venv/bin/python benchmarks/bench_documents.py [--smoke] [-n N]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rating import machine
from reportlab.pdfgen.canvas import Canvas

from openbss.billing.documents import Buyer, render_document
from openbss.billing.settings import SellerSettings

DEFAULT_N = 2_000
SMOKE_N = 50
CHUNK = 50
LINES = 20

SELLER = SellerSettings(
    name="Nordwind Telecom GmbH", address=["Friedrichstraße 68", "10117 Berlin", "Germany"],
    country="DE", vat_id="DE811907980",
    payment_instructions="IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX")
BUYER = Buyer(name="Acme Consulting GmbH", address=("Torstraße 12", "10119 Berlin"),
              country="DE", vat_id="DE136695976", email="billing@acme.example",
              time_zone="Europe/Berlin")
MARCH = {"startDateTime": "2026-02-28T23:00:00Z", "endDateTime": "2026-03-31T22:00:00Z"}
CHILDREN = [("acc-parent", "Acme Consulting GmbH"), ("acc-c1", "Acme Berlin"),
            ("acc-c2", "Acme Hamburg")]


def _money(value: Decimal) -> dict[str, str]:
    return {"unit": "EUR", "value": str(value)}


def invoice(k: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The k-th invoice: 20 lines (recurring, usage, a discount), amounts varying with k."""
    lines = []
    net_by_rate: dict[Decimal, Decimal] = {}
    tax_by_rate: dict[Decimal, Decimal] = {}
    for i in range(LINES):
        account = CHILDREN[i * len(CHILDREN) // LINES]
        rate = Decimal(7) if i % 5 == 4 else Decimal(19)
        net = (Decimal(990 + 137 * i + (k * 31 + i * 7) % 5000).scaleb(-2)
               * (-1 if i == LINES - 1 else 1))
        tax = (net * rate / 100).quantize(Decimal("0.01"))
        net_by_rate[rate] = net_by_rate.get(rate, Decimal(0)) + net
        tax_by_rate[rate] = tax_by_rate.get(rate, Decimal(0)) + tax
        kind = ("discount" if i == LINES - 1 else "usage" if i % 4 == 3 else "recurring")
        lines.append({
            "type": kind, "name": f"{kind.title()} — Business mobile {i}",
            "description": "prorated 17/31 days" if i % 6 == 0 else None,
            "periodCoverage": MARCH, "quantity": str(1 + i % 3),
            "taxExcludedAmount": _money(net), "taxIncludedAmount": _money(net + tax),
            "appliedTax": [{"taxCategory": "standard" if rate == 19 else "reduced",
                            "taxRate": str(rate), "taxAmount": _money(tax)}],
            "product": {"id": f"prod-{i}", "name": f"Business mobile {i}"},
            "billedAccount": {"id": account[0], "name": account[1]}})
    net = sum(net_by_rate.values(), Decimal(0))
    gross = net + sum(tax_by_rate.values(), Decimal(0))
    bill = {
        "id": f"bill-{k}", "billNo": f"INV-2026-{k + 1:06d}", "billDate": MARCH["endDateTime"],
        "billingPeriod": MARCH, "paymentDueDate": "2026-04-14T22:00:00Z",
        "amountDue": _money(gross), "remainingAmount": _money(gross),
        "taxExcludedAmount": _money(net), "taxIncludedAmount": _money(gross),
        "taxItem": [{"taxCategory": "standard" if r == 19 else "reduced", "taxRate": str(r),
                     "taxAmount": _money(t)} for r, t in tax_by_rate.items()],
        "category": "invoice", "billingAccount": {"id": "acc-parent", "name": BUYER.name},
        "note": [{"key": "reverseCharge", "text": "Reverse charge"}] if k % 10 == 0 else []}
    return bill, lines


def baseline_page(texts: list[str]) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1)
    canvas.setFont("Helvetica", 9)
    for i, text in enumerate(texts):
        canvas.drawString(50, 780 - 14 * i, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def run(n: int, progress: bool) -> dict[str, Any]:
    inputs = [invoice(k) for k in range(n)]
    plain = [[f"{line['name']}  {line['quantity']}  {line['taxExcludedAmount']['value']} EUR"
              for line in lines] for _, lines in inputs]
    sizes = 0

    def documents(start: int, stop: int) -> None:
        nonlocal sizes
        for bill, lines in inputs[start:stop]:
            sizes += len(render_document(bill, lines, seller=SELLER, buyer=BUYER,
                                         locale="de-DE"))

    def baseline(start: int, stop: int) -> None:
        for texts in plain[start:stop]:
            baseline_page(texts)

    def timed(work: Callable[[int, int], None], advance: Callable[[int], None]) -> float:
        total = 0.0
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            began = time.perf_counter()
            work(start, stop)
            total += time.perf_counter() - began
            advance(stop - start)
        return total

    render_document(*inputs[0], seller=SELLER, buyer=BUYER, locale="de-DE")  # warm imports
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("documents", total=n)
            seconds = timed(documents, lambda k: bar.advance(task, k))
            task = bar.add_task("baseline", total=n)
            base_seconds = timed(baseline, lambda k: bar.advance(task, k))
    else:
        seconds = timed(documents, lambda k: None)
        base_seconds = timed(baseline, lambda k: None)
    accelerated = importlib.util.find_spec("_rl_accel") is not None
    docs_per_s = n / seconds
    baseline_per_s = n / base_seconds
    return {
        "benchmark": "documents",
        "metric": "documents_per_second",
        "value": round(docs_per_s, 1),
        "unit": "docs/s",
        "n": n,
        "lines": LINES,
        "seconds": round(seconds, 3),
        "docs_per_s": round(docs_per_s, 1),
        "baseline_per_s": round(baseline_per_s, 1),
        "ratio": round(docs_per_s / baseline_per_s, 3),
        "bytes_per_doc": sizes // n,
        "accelerated": accelerated,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"quick run, N={SMOKE_N}")
    parser.add_argument("-n", type=int, default=None, help=f"documents (default {DEFAULT_N})")
    args = parser.parse_args(argv)
    n = args.n or (SMOKE_N if args.smoke else DEFAULT_N)
    result = run(n, progress=not args.smoke)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
