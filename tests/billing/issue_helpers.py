"""Helpers of the invoice tests: a billing account over HTTP, hand-made proposed lines and
issuing them through :func:`openbss.billing.invoices.issue_many` in one unit of work.

``FlatVat`` is a minimal implementation of the tax port (one rate per category, line
rounding), so the invoice tests check issuing, numbering and totals on their own; the
built-in engine (part B) has its own tests, and one test here runs issuing through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openbss.billing import invoices
from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    AppliedTax,
    LineKind,
    ProposedLine,
    TaxedLine,
    TaxItem,
    TaxParty,
    TaxResult,
)
from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.core.money import Money, round_amount
from openbss.core.periods import Alignment, Frequency, cycle_for_subscription

ACCOUNTS = "/tmf-api/accountManagement/v4/billingAccount"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
RATES = "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate"
SWAGGER = "TMF678-CustomerBillManagement-v4.0.0.swagger.json"
MERGE = {"Content-Type": "application/merge-patch+json"}
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)
APR1 = datetime(2026, 4, 1, tzinfo=UTC)
RATES_BY_CATEGORY = {"standard": Decimal(19), "reduced": Decimal(7), "zero": Decimal(0),
                     "exempt": Decimal(0)}


class FlatVat:
    """DE VAT, per line: tax = round(net × rate); a tax-included amount is split into
    net = round(gross / (1 + rate)) and tax = gross − net."""

    def __call__(self, *, seller: TaxParty, buyer: TaxParty, on: Any, lines: Sequence[Any],
                 rounding: str, per: str) -> TaxResult:
        taxed = []
        per_rate: dict[tuple[str, Decimal], list[Decimal]] = {}
        for line in lines:
            cur = line.amount.currency
            rate = RATES_BY_CATEGORY[line.tax_category]
            if line.tax_included:
                gross = line.amount.amount
                net = round_amount(gross * 100 / (100 + rate), cur, rounding)
                tax = gross - net
            else:
                net = line.amount.amount
                tax = round_amount(net * rate / 100, cur, rounding)
                gross = net + tax
            applied = AppliedTax("VAT", "DE", line.tax_category, rate, Money(net, cur),
                                 Money(tax, cur))
            taxed.append(TaxedLine(line.key, Money(net, cur), Money(gross, cur), (applied,)))
            acc = per_rate.setdefault((line.tax_category, rate), [Decimal(0), Decimal(0)])
            acc[0] += net
            acc[1] += tax
        cur = lines[0].amount.currency
        breakdown = tuple(TaxItem("VAT", "DE", cat, rate, Money(n, cur), Money(t, cur))
                          for (cat, rate), (n, t) in per_rate.items())
        return TaxResult(tuple(taxed), breakdown)


@contextmanager
def flat_vat() -> Iterator[None]:
    """Issue with :class:`FlatVat` instead of the configured engine."""
    saved = invoices._tax_engine, invoices._tax_party_of
    invoices._tax_engine = FlatVat  # type: ignore[assignment]
    invoices._tax_party_of = lambda account, party: TaxParty(country="DE")  # type: ignore[assignment]
    try:
        yield
    finally:
        invoices._tax_engine, invoices._tax_party_of = saved  # type: ignore[assignment]


def billing_account(client: Any, tenant: Any, *, currency: str = "EUR", due_days: int = 14,
                    name: str = "Home", **extra: Any) -> dict[str, Any]:
    person = client.post("/tmf-api/partyManagement/v4/individual",
                         json={"givenName": "Erika", "familyName": "Mustermann"},
                         headers=tenant.headers()).json()
    body = {"name": name, "currency": currency,
            "paymentTerms": {"name": "net", "dueDays": due_days},
            "relatedParty": [{"id": person["id"], "@referredType": "Individual",
                              "role": "owner"}], **extra}
    r = client.post(ACCOUNTS, json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def terms(account_id: str, *, currency: str = "EUR", due_days: int = 14,
          tz: str = "Europe/Berlin") -> AccountTerms:
    cycle = cycle_for_subscription(Frequency.MONTHLY, MAR1, Alignment.CALENDAR, tz)
    return AccountTerms(id=account_id, currency=currency, cycle=cycle, due_days=due_days,
                        name="Home")


def line(account_id: str, amount: str, *, kind: LineKind = LineKind.RECURRING,
         currency: str = "EUR", name: str = "Mobile M", **extra: Any) -> ProposedLine:
    value = Decimal(amount)
    return ProposedLine(kind=kind, name=name, account_id=account_id,
                        amount=Money(value, currency), exact=value,
                        start=extra.pop("start", MAR1), end=extra.pop("end", APR1), **extra)


def issue(tenant: Any, batch: Sequence[tuple[AccountInput, Sequence[ProposedLine]]], *,
          as_of: datetime = MAR1, dry_run: bool = False, now: datetime | None = None
          ) -> list[dict[str, Any]]:
    """Issue in one committed unit of work; the TMF renderings of what was issued."""
    with unit_of_work() as session:
        row = load_tenant(session, tenant.id)
        ctx = system_context(session, row)
        ctx.now = now or as_of
        issued = invoices.issue_many(ctx, batch, as_of=as_of, dry_run=dry_run)
        return [{"invoice_id": i.invoice.id if i.invoice else None, "bill": i.bill,
                 "lines": i.lines} for i in issued]


def input_for(account_id: str, **kw: Any) -> AccountInput:
    return AccountInput(terms=terms(account_id, **kw), events=(), plans={})
