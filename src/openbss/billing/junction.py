"""The billing-events junction: one :class:`~openbss.billing.book.AccountInput` per
billing account, for many accounts in a few statements (Kill Bill's "billing events").

:func:`inputs_for` reads, per chunk of at most :data:`~openbss.billing.queries.CHUNK`
accounts, a fixed number of statements whatever the number of accounts or products
(accounts, paid children, products, their history, unbilled product charges, unbilled
manual charges, unbilled rated usage, the invoiced generations of corrected usage, the
issued lines) plus two per distinct price version for the plans (cached for the call):

* **terms** (:class:`AccountTerms`): the account's currency, name, ``paymentTerms.dueDays``
  and its cycle from ``billStructure.cycleSpecification``
  (:func:`openbss.party.accounts.cycle_of`; an anniversary cycle without an anchor day is
  anchored on the account's first product start);
* **children paid by parent** (``paidByParent`` and a parent): their products, charges,
  usage and issued lines go into the parent's stream with their own ``account_id``; the
  child itself gets no input (no invoice of its own);
* **subscription events** from the products' history (the kinds of
  :class:`~openbss.ordering.intervals.ChangeKind`), each carrying the price version and
  quantity in force after it;
* **plans**: for every price version (offering id) seen, the offering's prices that apply
  in the account's currency at ``until`` (``catalog.selling.select_prices`` →
  ``ordering.pricing.prices_from_catalog``, as quotes and orders price them), with the
  catalog extensions ``billingTiming`` (or ``billingMode``: ``inAdvance`` | ``inArrears``,
  on the price; default in advance), ``minimumCommitment`` ``{unit, value}``,
  ``downgradeTiming`` (``endOfTerm`` | ``immediate``; else the offering's
  ``planChangePolicy``: ``endOfPeriod`` → ``endOfTerm``) and ``rank`` (an integer), each
  read from the offering, a price's value winning over the offering's;
* **charge events**: unbilled early-termination fees (``productCharge:<id>``, one-time)
  and unbilled manual charges and credits (``billingCharge:<id>``, kind ``adjustment``; a
  credit's amount is negative);
* **usage summaries**: the current, not invoiced rated rows used before ``until``, summed
  exactly (``Decimal``) per account, product, price, usage type, metric, service period,
  tax category and correction flag, with the ids of the rows summed; key
  ``usage:<product>|<price>|<usage type>|<metric>|<start ISO>|<end ISO>`` (``|correction``
  appended for corrections), then ``|r<first rated row id>`` so late usage of an invoiced
  period is a summary of its own; ``taxIncluded`` comes from the usage price in force.
  A correction row re-rates a record whose earlier generation
  was invoiced: it counts for the new amount minus the latest invoiced generation's;
* **invoiced items**: the issued lines charged to the accounts (invoices and credit
  notes), the amount in the catalog's basis (``body.basisAmount``, as issuing stores it).

An account whose data cannot be read into an input (an offering without a price in the
account's currency, say) is left out; with ``errors`` given, its reason is put there
(else the error is raised).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from openbss.billing import queries
from openbss.billing.book import (
    AccountInput,
    AccountTerms,
    BillingEvent,
    BillingMode,
    BillingPrice,
    ChargeEvent,
    InvoicedItem,
    LineKind,
    Plan,
    SubscriptionEvent,
    UsageSummary,
)
from openbss.core.context import Context
from openbss.core.errors import OpenBSSError, ValidationError
from openbss.core.money import Money
from openbss.core.periods import to_utc
from openbss.ordering.intervals import ChangeKind
from openbss.party.accounts import cycle_of

__all__ = ["inputs_for", "iso", "plan_of", "usage_key"]

_KINDS = {k.value: k for k in ChangeKind}
_LINE_KINDS = {k.value: k for k in LineKind}
#: the catalog's ``planChangePolicy`` as a downgrade timing
_POLICY = {"immediate": "immediate", "endOfPeriod": "endOfTerm"}
_CHARGE_NAMES = {"earlyTerminationFee": "Early termination fee"}


def iso(instant: datetime) -> str:
    return to_utc(instant).isoformat().replace("+00:00", "Z")


def usage_key(product_id: str, price_id: str | None, usage_type: str, metric: str | None,
              start: datetime, end: datetime, correction: bool, first_row: int) -> str:
    """The key of a usage summary: the product, price, usage type, metric and service
    period, and the first rated row summed — so usage of an invoiced period that arrives
    later is a summary (and a line) of its own."""
    key = (f"usage:{product_id}|{price_id or ''}|{usage_type}|{metric or ''}|"
           f"{iso(start)}|{iso(end)}")
    return (key + "|correction" if correction else key) + f"|r{first_row}"


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i:i + queries.CHUNK]) for i in range(0, len(ids), queries.CHUNK)]


# -- plans --------------------------------------------------------------------------------


def _extension(offering: dict[str, Any], pops: Sequence[dict[str, Any]], name: str) -> Any:
    for pop in pops:
        if pop.get(name) is not None:
            return pop[name]
    return offering.get(name)


def plan_of(offering: dict[str, Any], pops: Sequence[dict[str, Any]]) -> Plan:
    """A :class:`Plan` from an offering's TMF620 document and the price documents that
    apply (pure; module docstring for the extensions)."""
    from openbss.ordering.pricing import prices_from_catalog

    where = f"productOffering[{offering.get('id')}]"
    specs = prices_from_catalog(pops)
    modes = {str(p.get("id")): p.get("billingMode") or p.get("billingTiming") for p in pops}
    prices = []
    for spec in specs:
        mode = modes.get(spec.id) or "inAdvance"
        if mode not in ("inAdvance", "inArrears"):
            raise ValidationError(f"{where}: billingMode must be inAdvance or inArrears",
                                  field=f"productOfferingPrice[{spec.id}].billingMode")
        prices.append(BillingPrice(spec, cast(BillingMode, mode)))
    minimum = _extension(offering, pops, "minimumCommitment")
    commitment = None
    if minimum is not None:
        try:
            commitment = Money(Decimal(str(minimum["value"])), str(minimum["unit"]))
        except (KeyError, TypeError, ArithmeticError, ValueError):
            raise ValidationError(f"{where}: minimumCommitment needs unit and value",
                                  field=f"{where}.minimumCommitment") from None
    timing = _extension(offering, pops, "downgradeTiming")
    if timing is None:
        timing = _POLICY.get(str(offering.get("planChangePolicy")))
    if timing not in (None, "endOfTerm", "immediate"):
        raise ValidationError(f"{where}: downgradeTiming must be endOfTerm or immediate",
                              field=f"{where}.downgradeTiming")
    rank = _extension(offering, pops, "rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)):
        raise ValidationError(f"{where}: rank must be an integer", field=f"{where}.rank")
    return Plan(price_version=str(offering.get("id")), name=str(offering.get("name") or ""),
                prices=tuple(prices), minimum_commitment=commitment,
                downgrade_timing=cast(Literal["endOfTerm", "immediate"] | None, timing),
                rank=rank)


def _load_plan(ctx: Context, version: str, currency: str, at: datetime) -> Plan:
    from openbss.catalog import selling
    from openbss.catalog import service as catalog

    offering = catalog.get_resource(ctx, kind="productOffering", resource_id=version)
    pops = selling.select_prices(ctx, offering_id=version, currency=currency, at=at)
    return plan_of(catalog.render_resource(ctx, offering),
                   [catalog.render_resource(ctx, p) for p in pops])


@dataclass
class _Plans:
    ctx: Context
    at: datetime
    found: dict[tuple[str, str], Plan | OpenBSSError] = field(default_factory=dict)

    def get(self, version: str, currency: str) -> Plan:
        key = (version, currency)
        if key not in self.found:
            try:
                self.found[key] = _load_plan(self.ctx, version, currency, self.at)
            except OpenBSSError as exc:
                self.found[key] = exc
        plan = self.found[key]
        if isinstance(plan, OpenBSSError):
            raise plan
        return plan


# -- the streams ---------------------------------------------------------------------------


def _subscription_events(history: Sequence[Any],
                         products: dict[str, tuple[str | None, str | None]]
                         ) -> dict[str, list[SubscriptionEvent]]:
    """Per billing account: its products' life events, the version and quantity in force
    carried on every event (``products``: id -> (billing account, name))."""
    by_account: dict[str, list[SubscriptionEvent]] = defaultdict(list)
    state: dict[str, tuple[str, int]] = {}
    for product_id, seq, at, change, after in history:
        kind = _KINDS.get(change)
        if kind is None:
            continue
        account_id, name = products.get(product_id, (None, None))
        if account_id is None:
            continue
        after = after or {}
        version, quantity = state.get(product_id, ("", 1))
        version = str(after.get("priceVersion") or version)
        quantity = int(after.get("quantity") or quantity)
        state[product_id] = (version, quantity)
        by_account[account_id].append(SubscriptionEvent(
            at=at, kind=kind, account_id=account_id, product_id=product_id,
            price_version=version, quantity=quantity, product_name=name or "", seq=seq))
    return by_account


def _usage_summaries(rows: Sequence[Any], invoiced: Sequence[Any]
                     ) -> dict[str, list[UsageSummary]]:
    latest: dict[str, tuple[int, Decimal, Decimal]] = {}
    for usage_id, generation, charged, amount in invoiced:
        if usage_id not in latest or generation > latest[usage_id][0]:
            latest[usage_id] = (generation, Decimal(charged), Decimal(amount))
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for (row_id, usage_id, account, product, price, usage_type, metric, start, end, category,
         correction, charged, amount, currency) in rows:
        key = (account, product, price, usage_type, metric, start, end, category,
               bool(correction), currency)
        group = groups.get(key)
        if group is None:
            group = groups[key] = [Decimal(0), Decimal(0), 0, []]
        charged, amount = Decimal(charged), Decimal(amount)
        if correction and usage_id in latest:
            _, old_charged, old_amount = latest[usage_id]
            charged, amount = charged - old_charged, amount - old_amount
        group[0] += charged
        group[1] += amount
        group[2] += 1
        group[3].append(int(row_id))
    by_account: dict[str, list[UsageSummary]] = defaultdict(list)
    for (account, product, price, usage_type, metric, start, end, category, correction,
         currency), (charged, amount, count, ids) in groups.items():
        by_account[account].append(UsageSummary(
            key=usage_key(product, price, usage_type, metric, start, end, correction,
                          min(ids)),
            account_id=account, product_id=product, usage_type=usage_type, price_id=price,
            start=start, end=end, quantity=charged, amount=Money(amount, currency),
            name=f"{usage_type} usage", metric=metric, records=count,
            tax_category=category or "standard", correction=correction,
            rated_ids=tuple(sorted(ids))))
    return by_account


def _charge_events(product_charges: Sequence[Any], manual: Sequence[Any]
                   ) -> dict[str, list[ChargeEvent]]:
    by_account: dict[str, list[ChargeEvent]] = defaultdict(list)
    for c in product_charges:
        if c.billing_account_id is None:
            continue
        by_account[c.billing_account_id].append(ChargeEvent(
            at=c.at, key=f"productCharge:{c.id}", account_id=c.billing_account_id,
            amount=Money(Decimal(c.amount), c.currency),
            name=_CHARGE_NAMES.get(c.kind, c.kind), line_kind=LineKind.ONE_TIME,
            product_id=c.product_id, price_id=c.price_id, description=c.description))
    for c in manual:
        amount = Decimal(c.amount)
        by_account[c.billing_account_id].append(ChargeEvent(
            at=c.at, key=f"billingCharge:{c.id}", account_id=c.billing_account_id,
            amount=Money(-amount if c.kind == "credit" else amount, c.currency),
            name=c.name, line_kind=LineKind.ADJUSTMENT, product_id=c.product_id,
            description=c.description, tax_category=c.tax_category or "standard",
            tax_included=bool(c.tax_included)))
    return by_account


def _invoiced_items(lines: Sequence[Any]) -> dict[str, list[InvoicedItem]]:
    by_account: dict[str, list[InvoicedItem]] = defaultdict(list)
    for (_, _, line_id, type_, account_id, product_id, price_id, start, end, quantity,
         tax_excluded, currency, corrects, source_key, basis, price_version) in lines:
        amount = Decimal(str(basis)) if basis is not None else Decimal(tax_excluded)
        by_account[account_id].append(InvoicedItem(
            line_id=line_id, kind=_LINE_KINDS.get(type_) or LineKind(type_),
            account_id=account_id, amount=Money(amount, currency), product_id=product_id,
            price_id=price_id, start=start, end=end, quantity=Decimal(quantity),
            corrects=corrects, source_key=source_key, price_version=price_version))
    return by_account


def _sort_key(event: BillingEvent) -> tuple[datetime, int, str, int]:
    return event.sort_key


def inputs_for(ctx: Context, account_ids: Sequence[str], *, until: datetime,
               errors: dict[str, str] | None = None) -> dict[str, AccountInput]:
    """The input of every billing account among ``account_ids`` that gets an invoice of
    its own (module docstring); unknown ids and children paid by their parent are left
    out."""
    until = to_utc(until, "asOf")
    plans = _Plans(ctx, until)
    result: dict[str, AccountInput] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        accounts = {a.id: a for a in queries.billing_account_terms(ctx, chunk)
                    if not (a.paid_by_parent and a.parent_id)}
        if not accounts:
            continue
        children = queries.paid_children(ctx, list(accounts))
        payer = {a: a for a in accounts}
        kids: dict[str, list[str]] = defaultdict(list)
        for child in children:
            assert child.parent_id is not None
            payer[child.id] = child.parent_id
            kids[child.parent_id].append(child.id)
        ids = list(payer)
        products = {product_id: (account_id, name) for product_id, account_id, name
                    in queries.products_of_accounts(ctx, ids)}
        subscriptions = _subscription_events(queries.history_of_accounts(ctx, ids), products)
        charges = _charge_events(queries.unbilled_product_charges(ctx, ids),
                                 queries.unbilled_billing_charges(ctx, ids))
        usage = _usage_summaries(queries.unbilled_usage(ctx, ids, until),
                                 queries.invoiced_generations(ctx, ids, until))
        invoiced = _invoiced_items(queries.issued_lines(ctx, ids))
        events: dict[str, list[BillingEvent]] = defaultdict(list)
        items: dict[str, list[InvoicedItem]] = defaultdict(list)
        starts: dict[str, datetime] = {}
        for account_id in ids:
            owner = payer[account_id]
            for sub in subscriptions.get(account_id, ()):
                if sub.kind is ChangeKind.STARTED and (owner not in starts
                                                       or sub.at < starts[owner]):
                    starts[owner] = sub.at
            events[owner].extend(subscriptions.get(account_id, ()))
            events[owner].extend(charges.get(account_id, ()))
            events[owner].extend(usage.get(account_id, ()))
            items[owner].extend(invoiced.get(account_id, ()))
        for account_id, account in sorted(accounts.items()):
            try:
                result[account_id] = _input(account, kids.get(account_id, []),
                                            events[account_id], items[account_id],
                                            starts.get(account_id), plans)
            except OpenBSSError as exc:
                if errors is None:
                    raise
                errors[account_id] = exc.message
    return result


def _input(account: Any, children: list[str], events: list[BillingEvent],
           invoiced: list[InvoicedItem], first_start: datetime | None,
           plans: _Plans) -> AccountInput:
    body = account.body or {}
    spec = (body.get("billStructure") or {}).get("cycleSpecification")
    due = (body.get("paymentTerms") or {}).get("dueDays")
    terms = AccountTerms(id=account.id, currency=account.currency,
                         cycle=cycle_of(spec, first_start=first_start),
                         due_days=due if isinstance(due, int) and due >= 0 else 0,
                         name=account.name or "", children=tuple(sorted(children)))
    events.sort(key=_sort_key)
    versions = sorted({e.price_version for e in events
                       if isinstance(e, SubscriptionEvent) and e.price_version})
    found = {}
    for version in versions:
        try:
            found[version] = plans.get(version, account.currency)
        except OpenBSSError as exc:
            raise ValidationError(f"productOffering {version}: {exc.message}",
                                  field=exc.field or "productOffering.id") from None
    # a usage summary's price is the one rating used: found by its id in any plan the
    # account's products had (usage rated on a plan a product left since is billed by
    # that plan's price, tax included or not)
    included = {p.spec.id: p.spec.tax_included for plan in found.values()
                for p in plan.prices}
    for i, event in enumerate(events):
        if isinstance(event, UsageSummary) and event.price_id:
            tax_included = included.get(event.price_id, event.tax_included)
            if tax_included != event.tax_included:
                events[i] = replace(event, tax_included=tax_included)
    return AccountInput(terms=terms, events=tuple(events), plans=found,
                        invoiced=tuple(invoiced))
