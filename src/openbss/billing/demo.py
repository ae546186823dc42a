"""The billing demo (``openbss demo``, after the party, catalog and ordering demo data):
usage on a demo line, two monthly bill runs and a credit note, so the demo tenant shows
real invoices with proration, usage, a discount, tax and a credit note. The steps are
called by :func:`openbss.demo.load_demo` on the demo's timeline (the tenant's test clock
is moved to each bill date before its run).

* Usage: Lena Schneider's Mobile L line (the ordering demo's upgrade) uses 52 GB of data
  in its first month — two records through the usage context's own use case
  (:func:`openbss.usage.records.create_usage`, rated on arrival). Mobile L includes 50 GB;
  the 2 GB beyond are priced by the catalog's "Data beyond 50 GB" (2.00 per started GB).
* Bill runs (:func:`bill_dates`): as of the 1st of the two months that follow the demo
  products' start (local midnight in the demo accounts' zone, Europe/Berlin), for the
  demo billing accounts only. The demo products start when the ordering demo places
  them, mid-month unless that is the 1st, so the first invoice has a leading pro-rated
  period, then the next period in advance; Mobile L's "-50 % for 3 months" is the
  discount; the catalog prices include German VAT.
* Credit note: a partial goodwill credit (5.00 before tax) on Lena's first invoice,
  through billing's own use case (:func:`openbss.billing.invoices.create_credit_note`).

Idempotent: the dates derive from the demo products' start (not from the clock), a bill
run that completed for a date is not run again (and would add nothing: the calculation
only proposes what is missing), usage records carry ``recordId`` ``demo-…`` (a second copy
is a duplicate), and an invoice that already has a credit note gets none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openbss.billing import billrun, invoices
from openbss.billing import queries as billing_queries
from openbss.billing.schemas import CreditNoteCreate
from openbss.core.context import Context
from openbss.core.crud import validated
from openbss.core.periods import add_months
from openbss.core.queries import scoped
from openbss.core.tmf import ListParams
from openbss.ordering import demo as ordering_demo
from openbss.ordering import queries as ordering_queries
from openbss.party import queries as party_queries
from openbss.usage import records
from openbss.usage.models import UsageRecord
from openbss.usage.schemas import Usage

#: The zone the demo accounts bill in (party demo: Europe/Berlin for the German accounts).
DEMO_TZ = "Europe/Berlin"
#: The demo accounts billed (the party demo's accounts that have demo orders).
DEMO_ACCOUNTS = (ordering_demo.LENA, ordering_demo.HEADQUARTERS, ordering_demo.HAMBURG,
                 ordering_demo.MUNICH)
#: Lena's data records: (record id, GB, minutes after the line started).
USAGE = (("demo-usage-lena-1", 30, 60), ("demo-usage-lena-2", 22, 120))
CREDIT_REASON = "Goodwill credit: network maintenance on the first weekend"
CREDIT_AMOUNT = "5.00"


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _params(*filters: tuple[str, str, list[str]], limit: int = 1000) -> ListParams:
    return ListParams(offset=0, limit=limit, fields=None, sort=(), filters=tuple(filters))


def accounts(ctx: Context) -> list[str]:
    found = [party_queries.account_named(ctx, name) for name in DEMO_ACCOUNTS]
    return [str(row.id) for row in found if row is not None]


def lena_line(ctx: Context) -> Any:
    account = party_queries.account_named(ctx, ordering_demo.LENA)
    if account is None:
        return None
    for row in ordering_queries.products_of_account(ctx, account.id):
        chars = row.body.get("productCharacteristic") or []
        if any(c.get("value") == ordering_demo.LENA_MSISDN for c in chars):
            return row
    return None


def bill_dates(start: datetime, tz: str = DEMO_TZ) -> tuple[datetime, datetime]:
    """The 1st of the two months after ``start``'s month, local midnight in ``tz``, UTC."""
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    first = datetime(local.year, local.month, 1, tzinfo=zone)
    return tuple(add_months(first, n, anchor_day=1).astimezone(UTC)  # type: ignore[return-value]
                 for n in (1, 2))


def usage(ctx: Context, lines: list[str], line: Any) -> None:
    start = line.start_date
    created = 0
    for record_id, gigabytes, minutes in USAGE:
        if ctx.session.scalar(scoped(ctx, UsageRecord.id).where(
                UsageRecord.record_id == record_id).limit(1)) is not None:
            continue  # sent once: sending it again would only count a duplicate
        when = min(start + timedelta(minutes=minutes), ctx.now) if ctx.now > start else start
        outcome = records.create_usage(ctx, data=validated(Usage, {
            "usageDate": _iso(when), "usageType": "data",
            "description": "demo: mobile data",
            "usageCharacteristic": [
                {"name": "recordId", "value": record_id},
                {"name": "msisdn", "value": ordering_demo.LENA_MSISDN},
                {"name": "volume", "value": f"{gigabytes}GB"}]}))
        created += outcome.status != "duplicate"
    ctx.session.commit()
    total = sum(gb for _, gb, _ in USAGE)
    lines.append(f"billing: usage {total} GB on Lena's line "
                 + (f"({created} records rated)" if created else "(ready)"))


def bill_run(ctx: Context, lines: list[str], as_of: datetime, accounts: list[str]) -> None:
    runs, _ = billing_queries.list_bill_runs(ctx, _params(limit=1000))
    if any(r.as_of == as_of and not r.dry_run and r.state == "completed" for r in runs):
        lines.append(f"billing: bill run as of {_iso(as_of)} (ready)")
        return
    run = billrun.run_now(ctx, as_of=as_of, account_ids=accounts)
    results = run.results or {}
    lines.append(f"billing: bill run as of {_iso(as_of)} — {run.state}, "
                 f"{results.get('invoices', 0)} invoices")


def credit_note(ctx: Context, lines: list[str]) -> None:
    account = party_queries.account_named(ctx, ordering_demo.LENA)
    if account is None:
        return
    bills, _ = billing_queries.list_invoices(ctx, _params(
        ("billingAccount.id", "eq", [str(account.id)]), ("category", "eq", ["invoice"])))
    if not bills:
        lines.append("billing: no invoice of Lena's to credit")
        return
    invoice = min(bills, key=lambda b: (b.bill_date, b.bill_no))
    existing = billing_queries.credit_notes_of(ctx, invoice.id)
    if existing:
        lines.append(f"billing: credit note {existing[0].bill_no} on {invoice.bill_no} (ready)")
        return
    note = invoices.create_credit_note(ctx, bill_id=invoice.id, data=validated(
        CreditNoteCreate, {"amount": {"unit": invoice.currency, "value": CREDIT_AMOUNT},
                           "reason": CREDIT_REASON}))
    ctx.session.commit()
    lines.append(f"billing: credit note {note.bill_no} on {invoice.bill_no}")


def documents(ctx: Context, lines: list[str]) -> None:
    """Render (and store) the PDF of every demo bill that has none yet."""
    bills, _ = billing_queries.list_invoices(ctx, _params())
    made = invoices.render_documents(ctx, [bill.id for bill in bills])
    ctx.session.commit()
    lines.append(f"billing: {len(bills)} bill documents (PDF)"
                 + (f", {made} rendered" if made else " (ready)"))

