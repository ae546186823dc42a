"""The usage demo (``openbss demo``): two CDR files, written under
``<home>/var/demo/<tenant>/`` and imported through mediation and rating exactly as
``openbss usage import`` does (:func:`openbss.usage.batch.import_into`), one per month of
the demo's timeline (:func:`openbss.demo.load_demo` calls them at the end of each month):

* ``Master-<month>.csv`` — Nordwind's PBX in Asterisk's cdr_csv layout (the ``asterisk``
  preset, local time Europe/Berlin), its lines identified by the caller id ``src`` (the
  mobile numbers of the ordering demo; the mapping is the preset with ``msisdn: src``):
  answered calls of the Hamburg and headquarters lines (rated at zero: Mobile L's calls
  are unlimited), an unanswered call, a call from the suspended Hamburg line
  (``product_inactive``), one from a number nobody holds (``unknown_identifier``) and a
  record the PBX wrote twice (``duplicate``);
* ``usage-<month>.csv`` — a mediation export in the ``generic`` layout: 53 GB of data on
  a Hamburg line (3 GB beyond Mobile L's 50, 2.00 per started GB), SMS and a call on the
  headquarters line, a record without a readable volume (``invalid_quantity``), an
  unknown number and a duplicate.

Idempotent: a file whose source already has records is not imported again (importing it
again would change nothing but count its records as duplicates).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openbss.core.config import openbss_home
from openbss.core.context import Context
from openbss.core.money import round_amount
from openbss.core.queries import scoped
from openbss.ordering import demo as ordering_demo
from openbss.usage import batch
from openbss.usage.mapping import load_mapping
from openbss.usage.models import UsageRecord

PBX_SOURCE, MEDIATION_SOURCE = "demo-pbx", "demo-mediation"
ZONE = ZoneInfo("Europe/Berlin")
HAMBURG_1, HAMBURG_2 = ordering_demo.NORDWIND_MSISDNS
HQ = ordering_demo.QUOTE_MSISDN
UNKNOWN = "+4915100000099"


def folder(ctx: Context) -> Path:
    path = openbss_home() / "var" / "demo" / ctx.tenant.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _imported(ctx: Context, source: str) -> bool:
    return ctx.session.scalar(scoped(ctx, UsageRecord.id).where(
        UsageRecord.source == source).limit(1)) is not None


def _summary(what: str, path: Path, s: batch.Summary) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.rejected_by_reason.items()))
    amounts = ", ".join(f"{round_amount(v, k)} {k}" for k, v in sorted(s.amounts.items()))
    return (f"usage: {what} {path.name} — read {s.read}, accepted {s.accepted}, duplicates "
            f"{s.duplicates}, rejected {s.rejected}" + (f" ({reasons})" if reasons else "")
            + f", rated {s.rated}" + (f" for {amounts}" if amounts else ""))


def _asterisk_rows(start: datetime) -> list[list[str]]:
    """Master.csv rows (Asterisk's column order: accountcode, src, dst, dcontext, clid,
    channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
    disposition, amaflags, uniqueid, userfield)."""
    local = start.astimezone(ZONE).replace(hour=9, minute=0, second=0, microsecond=0)
    rows = []
    calls = ((HAMBURG_1, "+4930123456", 1, 185, "ANSWERED"),
             (HAMBURG_1, "+4940987654", 4, 62, "ANSWERED"),
             (HQ, "+4989555123", 2, 600, "ANSWERED"),
             (HQ, "+4989555123", 3, 0, "NO ANSWER"),
             (HAMBURG_2, "+4930123456", 2, 95, "ANSWERED"),
             (UNKNOWN, "+4930123456", 5, 40, "ANSWERED"))
    for n, (src, dst, days, billsec, disposition) in enumerate(calls, start=1):
        begin = local + timedelta(days=days, hours=n)
        answer = begin + timedelta(seconds=7) if billsec else None
        end = (answer or begin) + timedelta(seconds=billsec or 30)
        rows.append(["nordwind", src, dst, "from-internal", f'"Nordwind" <{src}>',
                     f"PJSIP/{src}-{n:08d}", "PJSIP/trunk", "Dial", f"PJSIP/{dst}@trunk,60",
                     f"{begin:%Y-%m-%d %H:%M:%S}",
                     f"{answer:%Y-%m-%d %H:%M:%S}" if answer else "",
                     f"{end:%Y-%m-%d %H:%M:%S}", str((end - begin).seconds), str(billsec),
                     disposition, "DOCUMENTATION", f"demo-{begin:%Y%m%d}.{n}", ""])
    rows.append(rows[0])  # the PBX wrote the first call twice
    return rows


def pbx(ctx: Context, lines: list[str], month_start: datetime) -> None:
    """Import the PBX's Master.csv of the month starting ``month_start``."""
    if _imported(ctx, PBX_SOURCE):
        lines.append(f"usage: PBX CDRs from {PBX_SOURCE} (ready)")
        return
    path = folder(ctx) / f"Master-{month_start.astimezone(ZONE):%Y-%m}.csv"
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").writerows(
        _asterisk_rows(month_start))
    path.write_text(out.getvalue(), encoding="utf-8")
    preset = load_mapping("asterisk")
    columns = {k: v for k, v in preset.columns.items() if k != "accountNumber"}
    mapping = replace(preset, name="asterisk-by-src", time_zone="Europe/Berlin",
                      columns={**columns, "msisdn": ("src",)})
    summary = batch.import_into(ctx, path, mapping=mapping, source=PBX_SOURCE)
    lines.append(_summary("Asterisk", path, summary))


def mediation(ctx: Context, lines: list[str], month_start: datetime) -> None:
    """Import the mediation export (generic CSV) of the month starting ``month_start``."""
    if _imported(ctx, MEDIATION_SOURCE):
        lines.append(f"usage: mediation file from {MEDIATION_SOURCE} (ready)")
        return
    path = folder(ctx) / f"usage-{month_start.astimezone(ZONE):%Y-%m}.csv"
    base = month_start.astimezone(ZONE).replace(hour=8, minute=0, second=0, microsecond=0)
    records = (("d1", 2, "data", HAMBURG_1, "", "", "30GB"),
               ("d2", 9, "data", HAMBURG_1, "", "", "23GB"),
               ("s1", 3, "sms", HQ, "+4917612345678", "", ""),
               ("v1", 5, "voice", HQ, "+4930123456", "240", ""),
               ("d3", 6, "data", HAMBURG_1, "", "", "a lot"),
               ("d4", 7, "data", UNKNOWN, "", "", "1GB"))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["recordId", "usageDate", "usageType", "msisdn", "calledNumber",
                     "duration", "volume"])
    rows = [[f"demo-{base:%Y%m}-{key}", (base + timedelta(days=days)).isoformat(), kind,
             msisdn, called, duration, volume]
            for key, days, kind, msisdn, called, duration, volume in records]
    writer.writerows([*rows, rows[0]])  # the first record exported twice
    path.write_text(out.getvalue(), encoding="utf-8")
    summary = batch.import_into(ctx, path, mapping=load_mapping("generic"),
                                source=MEDIATION_SOURCE)
    lines.append(_summary("generic", path, summary))
