"""Validation rules of a product order (TMF622), each failure a 422 naming the item and
the attribute (``productOrderItem[1].product.productCharacteristic[MSISDN]``).

The pure rules (characteristic values against a product specification, monthly
equivalents of recurring charges, the failure policy of an offering, the MSISDN check)
take plain values; :func:`check_item` / :func:`check_credit` ask the catalog and party
contexts through their use cases (:mod:`openbss.ordering.references`,
:mod:`openbss.catalog.selling`) and the inventory through :mod:`openbss.ordering.queries`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from openbss.catalog import selling
from openbss.catalog import service as catalog
from openbss.catalog.errors import NoPriceInCurrency, NotOrderable, OfferingNotSellable
from openbss.core.context import Context
from openbss.core.errors import NotFoundError, ValidationError
from openbss.ordering import queries
from openbss.ordering.errors import (
    CharacteristicInvalid,
    CharacteristicMissing,
    CreditLimitExceeded,
    CustomerNotEligible,
    InvalidReference,
    OfferingNotOrderable,
)
from openbss.ordering.graph import FailurePolicy
from openbss.ordering.models import HOLDING, PRODUCT_STATES, Product, ProductStatus
from openbss.ordering.pricing import PriceSpec, prices_from_catalog
from openbss.ordering.references import AccountsRead, billing_account, check_billing_account
from openbss.party import customers, parties

_FINAL_PRODUCT = frozenset({ProductStatus.TERMINATED, ProductStatus.CANCELLED,
                            ProductStatus.ABORTED})
#: Product statuses whose recurring charges count against the credit limit.
CHARGING = frozenset({ProductStatus.PENDING_ACTIVE, ProductStatus.ACTIVE,
                      ProductStatus.SUSPENDED, ProductStatus.PENDING_TERMINATE})


def squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


# -- pure rules ------------------------------------------------------------------------------

def e164(value: Any, region: str, *, field: str) -> str:
    """``value`` as an E.164 number (national numbers read in ``region``), or 422."""
    text = str(value).strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise CharacteristicInvalid(
            f"{field}: {text!r} is not a valid E.164 phone number (e.g. +4915112345678)",
            field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, (bool, float)):
        return None
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def _same(a: Any, b: Any) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return x == y
    return str(a).strip().lower() == str(b).strip().lower()


def _is_msisdn(spec: Mapping[str, Any]) -> bool:
    return squash(spec.get("valueType") or "") == "msisdn" or squash(spec["name"]) == "msisdn"


def check_characteristics(spec_chars: Sequence[Mapping[str, Any]],
                          given: Sequence[Mapping[str, Any]], *, field: str, region: str,
                          require: bool) -> list[dict[str, Any]]:
    """The item's characteristics checked against the specification's
    ``productSpecCharacteristic`` list (``field`` is the ``….product`` path): required ones
    present (``require``, for ``add``), values among the allowed ``value`` entries or inside
    the ``valueFrom``/``valueTo`` range, MSISDNs valid numbers (stored in E.164).
    Characteristics the specification does not declare are kept as given."""
    by_name = {squash(c["name"]): c for c in spec_chars if c.get("name")}
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for char in given:
        out = dict(char)
        name = str(char["name"])
        where = f"{field}.productCharacteristic[{name}]"
        if squash(name) in seen:
            raise CharacteristicInvalid(f"{where}: given twice", field=where)
        seen.add(squash(name))
        spec = by_name.get(squash(name))
        value = char.get("value")
        if spec is not None:
            if _is_msisdn(spec):
                out["value"] = e164(value, region, field=where)
            else:
                _check_allowed(spec, value, where)
        elif squash(name) == "msisdn":
            out["value"] = e164(value, region, field=where)
        result.append(out)
    if require:
        for key, spec in by_name.items():
            if int(spec.get("minCardinality") or 0) >= 1 and key not in seen:
                where = f"{field}.productCharacteristic[{spec['name']}]"
                raise CharacteristicMissing(
                    f"{where}: the product specification requires {spec['name']!r}",
                    field=where)
    return result


def _check_allowed(spec: Mapping[str, Any], value: Any, where: str) -> None:
    allowed = spec.get("productSpecCharacteristicValue") or []
    if not allowed:
        return
    scalar = value.get("value") if isinstance(value, Mapping) else value
    values = [v.get("value") for v in allowed if v.get("value") is not None]
    ranges = [(v.get("valueFrom"), v.get("valueTo")) for v in allowed
              if v.get("valueFrom") is not None or v.get("valueTo") is not None]
    if any(_same(scalar, v) for v in values):
        return
    number = _number(scalar)
    for low, high in ranges:
        if number is None:
            continue
        lo, hi = _number(low), _number(high)
        if (lo is None or number >= lo) and (hi is None or number <= hi):
            return
    choices = [str(v) for v in values] + [f"{lo if lo is not None else ''}..."
                                          f"{hi if hi is not None else ''}"
                                          for lo, hi in ranges]
    raise CharacteristicInvalid(f"{where}: {scalar!r} is not allowed; allowed: "
                                + ", ".join(choices), field=where)


_PERIOD = re.compile(r"^(?:(\d+) )?(day|week|month|year)s?$")
_PER_MONTH = {"day": Decimal(365) / Decimal(12), "week": Decimal(52) / Decimal(12),
              "month": Decimal(1), "year": Decimal(1) / Decimal(12)}


def monthly(amount: Decimal, period: str | None) -> Decimal:
    """A recurring amount as a monthly equivalent (``month``, ``3 months``, ``year`` …;
    an unknown period counts as a month)."""
    match = _PERIOD.match(period or "month")
    if match is None:
        return amount
    count = Decimal(match.group(1) or 1)
    return amount * _PER_MONTH[match.group(2)] / count


def recurring_per_month(prices: Iterable[Mapping[str, Any]], currency: str) -> Decimal:
    """The monthly equivalent of the ``recurring`` prices in ``currency`` of a TMF price
    list (``itemPrice``, ``productPrice``), tax included where known."""
    total = Decimal(0)
    for line in prices:
        if line.get("priceType") != "recurring":
            continue
        price = line.get("price") or {}
        money = price.get("taxIncludedAmount") or price.get("dutyFreeAmount") or {}
        if money.get("unit") != currency or money.get("value") is None:
            continue
        total += monthly(Decimal(str(money["value"])), line.get("recurringChargePeriod"))
    return total


def failure_policy(offering: Mapping[str, Any]) -> FailurePolicy | None:
    """The offering's failure policy: its ``prodSpecCharValueUse`` named ``failurePolicy``
    (value ``all_or_nothing`` or ``partial_allowed``); None when it has none."""
    for use in offering.get("prodSpecCharValueUse") or []:
        if squash(use.get("name") or "") != "failurepolicy":
            continue
        for value in use.get("productSpecCharacteristicValue") or []:
            raw = str(value.get("value") or "").strip()
            for policy in FailurePolicy:
                if squash(policy.value) == squash(raw):
                    return policy
    return None


# -- rules that read other contexts ------------------------------------------------------------

@dataclass
class CheckedItem:
    """One order item after validation: what the pricing, the order rows and the
    orchestration need."""

    index: int
    item_id: str
    action: str
    field: str
    quantity: int
    account_id: str | None
    currency: str | None
    offering_id: str | None = None
    offering_name: str | None = None
    offering_version: str | None = None
    product: Product | None = None
    prices: tuple[PriceSpec, ...] = ()
    early_termination: bool = False
    policy: FailurePolicy | None = None
    plan_change: bool = False
    characteristics: list[dict[str, Any]] | None = None
    status: str | None = None
    is_bundle: bool = False
    #: The billing account was named on the item (not inherited from the order).
    item_account: bool = False


@dataclass
class Customer:
    """Who buys: the party kind (``individual``/``organization``) and its country."""

    customer_type: str | None
    country: str | None
    known: bool = field(default=True)


def find_customer(ctx: Context, related: Sequence[Mapping[str, Any]],
                  account_id: str | None, *, read: AccountsRead | None = None) -> Customer:
    """The buyer from the order's ``relatedParty`` (role ``customer``, a Customer or a
    party), else the billing account's owner."""
    refs = [r for r in related if squash(r.get("role") or "") == "customer"]
    field_ = "relatedParty"
    given = bool(refs)
    if not refs and account_id:
        try:
            account = billing_account(ctx, account_id, read)
        except NotFoundError:
            return Customer(None, None, known=False)
        refs = [r for r in account.body.get("relatedParty") or []
                if squash(r.get("role") or "") in ("owner", "customer")]
    for ref in refs:
        kind = squash(ref.get("@referredType") or "")
        party_id = str(ref["id"])
        try:
            if kind == "customer":
                party_id = customers.get_customer(ctx, customer_id=party_id).party_id
            party = parties.get_party(ctx, kind=None, party_id=party_id)
        except NotFoundError:
            if not given:  # the account's owner is gone: the buyer is unknown
                return Customer(None, None, known=False)
            position = list(related).index(ref)
            raise InvalidReference(f"{field_}[{position}].id: no customer or party "
                                   f"{ref['id']!r}", field=f"{field_}[{position}].id") from None
        return Customer(party.kind, party.country)
    return Customer(None, None, known=False)


def orderable_offering(ctx: Context, offering_id: str, *, at: datetime, where: str,
                       in_bundle: bool) -> Any:
    """The offering row if it can be ordered at ``at`` (a component of a bundle may be
    one sold only inside bundles), else 422 naming ``where``."""
    try:
        return selling.get_orderable_offering(ctx, offering_id=offering_id, at=at)
    except NotFoundError:
        raise InvalidReference(f"{where}: no productOffering {offering_id!r}",
                               field=where) from None
    except OfferingNotSellable as exc:
        if in_bundle:
            return catalog.get_resource(ctx, kind="productOffering", resource_id=offering_id)
        raise OfferingNotOrderable(f"{where}: {exc.message}", field=where) from None
    except NotOrderable as exc:
        raise OfferingNotOrderable(f"{where}: {exc.message}", field=where) from None


def spec_characteristics(ctx: Context, offering: Any) -> list[dict[str, Any]]:
    spec_id = offering.product_specification_id or \
        (offering.body.get("productSpecification") or {}).get("id")
    if not spec_id:
        return []
    try:
        spec = catalog.get_resource(ctx, kind="productSpecification", resource_id=spec_id)
    except NotFoundError:
        return []
    return list(spec.body.get("productSpecCharacteristic") or [])


def check_eligible(offering: Any, customer: Customer, *, where: str) -> None:
    rules = offering.body.get("eligibility") or {}
    if not (rules.get("customerTypes") or rules.get("countries")):
        return
    if not customer.known:
        raise CustomerNotEligible(
            f"{where}: the offering has eligibility rules; name the customer (relatedParty "
            "with role customer, or an owner on the billing account)", field=where)
    if not selling.check_eligibility(offering, customer_type=customer.customer_type,
                                     country=customer.country):
        raise CustomerNotEligible(
            f"{where}: a {customer.customer_type or 'customer'} in "
            f"{customer.country or 'an unknown country'} may not buy "
            f"{offering.name!r} (customer types: "
            f"{', '.join(rules.get('customerTypes') or []) or 'any'}; countries: "
            f"{', '.join(rules.get('countries') or []) or 'any'})", field=where)


def offering_prices(ctx: Context, offering_id: str, currency: str, *, at: datetime,
                    where: str, offering: Any = None
                    ) -> tuple[PriceSpec, ...]:
    try:
        pops = selling.select_prices(ctx, offering_id=offering_id, currency=currency, at=at,
                                     offering=offering)
    except NoPriceInCurrency as exc:
        raise InvalidReference(f"{where}: {exc.message} (the billing account's currency)",
                               field=where, details=[{"field": where, "code":
                                                      NoPriceInCurrency.code}]) from None
    return prices_from_catalog([catalog.render_resource(ctx, p) for p in pops])


def account_currency(ctx: Context, account_id: str, *, where: str,
                     read: AccountsRead | None = None) -> str:
    return check_billing_account(ctx, account_id, field=where, read=read)


def existing_product(ctx: Context, product_id: str, *, where: str,
                     account_id: str | None) -> Product:
    """The product a ``modify``/``delete`` changes, locked; 422 unless it is this
    tenant's, live, and (when the item names one) of the item's billing account."""
    try:
        row = queries.product(ctx, product_id, lock=True)
    except NotFoundError:
        raise InvalidReference(f"{where}: no product {product_id!r}", field=where) from None
    if ProductStatus(row.status) in _FINAL_PRODUCT:
        raise InvalidReference(f"{where}: product {row.id} is {row.status}", field=where)
    if account_id is not None and row.billing_account_id != account_id:
        raise InvalidReference(f"{where}: product {row.id} belongs to another billing "
                               "account", field=where)
    return row


def check_status_change(row: Product, status: str | None, *, where: str) -> str | None:
    """A ``modify`` item's ``product.status``: ``suspended`` (suspend) or ``active``
    (resume) allowed from the product's status, else 422."""
    if status is None or status == row.status:
        return None
    if status not in (ProductStatus.SUSPENDED, ProductStatus.ACTIVE):
        raise ValidationError(f"{where}: a modify item can set status suspended (suspend) "
                              f"or active (resume), not {status!r}; use action delete to "
                              "terminate", field=where)
    if not PRODUCT_STATES.can(row.status, status):
        raise ValidationError(f"{where}: product {row.id} is {row.status} and cannot become "
                              f"{status}", field=where)
    return status


def active_recurring(ctx: Context, account_id: str, currency: str,
                     excluding: Iterable[str]) -> Decimal:
    """The monthly recurring charges of the account's live products (those the order
    changes or ends are left out: the order's own prices replace them)."""
    skip = set(excluding)
    total = Decimal(0)
    for product in queries.products_of_account(ctx, account_id):
        if product.id in skip or ProductStatus(product.status) not in CHARGING:
            continue
        total += recurring_per_month(product.body.get("productPrice") or [], currency)
    return total


def check_credit(ctx: Context, items: Sequence[CheckedItem],
                 item_prices: Mapping[str, list[dict[str, Any]]], *,
                 read: AccountsRead | None = None) -> None:
    """Per billing account: the order's recurring charges plus those of the account's
    live products within the account's ``creditLimit`` (422 naming the account field of
    the first item on that account)."""
    by_account: dict[str, list[CheckedItem]] = {}
    for item in items:
        if item.account_id and item.action in ("add", "modify"):
            by_account.setdefault(item.account_id, []).append(item)
    for account_id, group in by_account.items():
        account = billing_account(ctx, account_id, read)
        limit = account.body.get("creditLimit") or {}
        if limit.get("value") is None:
            continue
        currency = str(limit.get("unit") or account.currency)
        changed = [i.product.id for i in items if i.product is not None]
        ordered = sum((recurring_per_month(item_prices.get(i.item_id, []), currency)
                       for i in group), Decimal(0))
        existing = active_recurring(ctx, account_id, currency, changed)
        cap = Decimal(str(limit["value"]))
        if ordered + existing > cap:
            first = group[0]
            where = (f"{first.field}.billingAccount.id" if first.item_account
                     else "billingAccount.id")
            raise CreditLimitExceeded(
                f"{where}: recurring charges of {(ordered + existing).quantize(Decimal('0.01'))}"
                f" {currency} a month ({ordered.quantize(Decimal('0.01'))} ordered, "
                f"{existing.quantize(Decimal('0.01'))} already active) exceed the credit "
                f"limit of {cap} {currency} of billingAccount {account_id}", field=where)


def holds(status: str) -> bool:
    return ProductStatus(status) in HOLDING
