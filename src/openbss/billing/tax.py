"""Tax: a versioned rate table, the built-in engine and the tax-engine port's registry.

Pure: the engine and the table do no I/O, read no clock and touch no database (reading
the built-in table from the package, :func:`builtin_table`, is done once and cached;
:func:`load_tax_table` reads a tenant's file when asked to).

**The rate table** (``billing/tax_rates/eu_vat.csv``, or a tenant's own): CSV with the
columns ``jurisdiction`` (ISO 3166 country ``DE`` or subdivision ``ES-CN``), ``category``
(``standard``, ``reduced``, ``reduced2``, ``superReduced``, ``parking``, ``zero`` …),
``rate`` (percent, a decimal string), ``valid_from`` / ``valid_to`` (inclusive ISO dates,
empty: open), ``name`` (``VAT``, ``MwSt``, ``IVA`` …) and ``compound`` (``true`` /
``false``). Lines starting with ``#`` are comments; ``# key: value`` comments before the
header are the table's metadata (``source``, ``checked``). Rows of one jurisdiction and
category in force on the same day are *stacked* (all apply, in file order); a compound
row is computed on the amount plus the taxes listed before it. Two rows with the same
jurisdiction, category and name must not overlap in time.

**The rules of the built-in engine** (:class:`BuiltInTaxEngine`), for telecom and
electronically supplied services:

1. an exempt buyer (:attr:`TaxParty.exempt`) pays no tax (note ``exemptCustomer``);
2. EU seller, buyer outside the EU: no VAT (note ``outsideScope``);
3. EU intra-community reverse charge: a ``business`` buyer whose VAT id is valid (format
   and check digits, ``stdnum.eu.vat``) and belongs to another member state than the
   seller's: no VAT, :attr:`TaxResult.reverse_charge` and note ``reverseCharge``
   (Article 196 Council Directive 2006/112/EC). An invalid VAT id gives no reverse
   charge: the buyer is charged like a consumer;
4. (a buyer whose country is unknown, ``""``, is located at the seller: Article 45)
   otherwise the buyer's jurisdiction taxes the supply (B2C: the buyer's country, the EU
   rule since 2015; B2B in the seller's country: that country), its region's rows if the
   table has rows for the buyer's region; a jurisdiction the table does not know at all
   is not taxed (note ``noTaxRate``); a category the jurisdiction lacks is a
   :class:`~openbss.core.errors.ValidationError` naming the line;
5. category ``exempt``: no tax on that line (note ``exemptSupply``); ``zero``: the table's
   zero rows, or a 0 % tax with the jurisdiction's standard tax name — listed in the
   breakdown either way.

Amounts: tax-exclusive lines — tax = amount × rate / 100; tax-inclusive lines — the net
is gross / (1 + the rates' combined factor) so a single rate gives tax = gross × rate /
(100 + rate); the excluded amount is gross − the rounded taxes, so the gross is kept
exactly. ``per="line"``: each tax of each line is rounded to the minor unit with
``rounding``; ``per="document"``: the exact taxes of each (jurisdiction, name, category,
rate) are summed over the document and rounded once, then allocated back to the lines
(each line gets its exact tax truncated down to the minor unit, the leftover units go to
the largest remainders, ties to the earlier line) so the lines sum to it exactly.
Always: ``sum(tax_excluded) + sum(breakdown.amount) == sum(tax_included)``; negative
lines (credits, discounts) follow the same rules and reduce the tax.

**The port**: :func:`register_tax_engine` / :func:`tax_engine` — an external engine
(Avalara, Stripe Tax) is one module that implements
:class:`openbss.billing.book.TaxEngine` and registers a factory under its name.
"""

from __future__ import annotations

import csv
import decimal
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from openbss.billing.book import (
    AppliedTax,
    TaxableLine,
    TaxedLine,
    TaxEngine,
    TaxItem,
    TaxParty,
    TaxResult,
)
from openbss.core.errors import ValidationError
from openbss.core.money import ROUNDING_MODES, Money, currency_exponent

__all__ = [
    "EU_MEMBER_STATES",
    "NOTES",
    "BuiltInTaxEngine",
    "TaxRate",
    "TaxTable",
    "builtin_table",
    "load_tax_table",
    "note_entries",
    "parse_tax_table",
    "register_tax_engine",
    "tax_engine",
    "tax_party_of",
]

#: ISO 3166 codes of the EU member states (Greece is ``GR``; its VAT ids start ``EL``).
EU_MEMBER_STATES: frozenset[str] = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})

#: The notes a document prints, by stable key (a template may translate them by key).
NOTES: dict[str, str] = {
    "reverseCharge": ("Reverse charge: VAT to be accounted for by the recipient, "
                      "Article 196 Council Directive 2006/112/EC"),
    "outsideScope": ("Outside the scope of EU VAT: the place of supply is outside the "
                     "European Union"),
    "exemptCustomer": "Tax exempt: the customer holds a tax exemption",
    "exemptSupply": "Exempt from tax",
    "noTaxRate": "No tax charged: no tax rate is known for the place of supply",
}
_KEY_OF_NOTE = {text: key for key, text in NOTES.items()}

COLUMNS = ("jurisdiction", "category", "rate", "valid_from", "valid_to", "name", "compound")
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_CATEGORY = re.compile(r"^[a-z][A-Za-z0-9]{0,31}$")
_BOOL = {"true": True, "false": False, "": False}
_HUNDRED = Decimal(100)
#: context for the divisions of tax-inclusive amounts (far more digits than any money)
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN,
                         traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                decimal.Overflow])


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxRate:
    """One row of a rate table: ``rate`` in percent, in force from ``valid_from`` to
    ``valid_to`` inclusive (None: open)."""

    jurisdiction: str
    category: str
    rate: Decimal
    name: str
    valid_from: date | None = None
    valid_to: date | None = None
    compound: bool = False
    line: int = 0

    def in_force(self, on: date) -> bool:
        return ((self.valid_from is None or self.valid_from <= on)
                and (self.valid_to is None or on <= self.valid_to))


@dataclass(frozen=True)
class TaxTable:
    """A validated rate table (:func:`parse_tax_table`). ``metadata``: the ``# key:
    value`` comments before the header (``source``, ``checked`` …)."""

    rows: tuple[TaxRate, ...]
    metadata: Mapping[str, str]
    source: str = "<text>"
    _index: dict[tuple[str, str], tuple[TaxRate, ...]] = field(
        init=False, repr=False, compare=False)
    jurisdictions: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[TaxRate]] = {}
        for row in self.rows:
            index.setdefault((row.jurisdiction, row.category), []).append(row)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})
        object.__setattr__(self, "jurisdictions",
                           frozenset(row.jurisdiction for row in self.rows))

    def knows(self, jurisdiction: str) -> bool:
        return jurisdiction in self.jurisdictions

    def rate(self, jurisdiction: str, category: str, on: date) -> list[TaxRate]:
        """The rows of ``jurisdiction`` and ``category`` in force on ``on``, in file order
        (several when taxes are stacked or compound); empty if there are none."""
        rows = self._index.get((jurisdiction, category), ())
        return [row for row in rows if row.in_force(on)]


def _bad(source: str, line: int, column: str, message: str) -> ValidationError:
    return ValidationError(f"{source}, line {line}, column {column}: {message}",
                           field=f"{source}:{line}:{column}")


def _date(value: str, source: str, line: int, column: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(source, line, column, f"not an ISO date: {value!r}") from None


def _row(values: dict[str, str], source: str, line: int) -> TaxRate:
    jurisdiction = values["jurisdiction"]
    if not _JURISDICTION.match(jurisdiction):
        raise _bad(source, line, "jurisdiction",
                   f"expected an ISO country (DE) or subdivision (ES-CN), got {jurisdiction!r}")
    category = values["category"]
    if not _CATEGORY.match(category):
        raise _bad(source, line, "category", f"expected a camelCase name, got {category!r}")
    if category == "exempt":
        raise _bad(source, line, "category", "exempt needs no row (it is never taxed)")
    try:
        rate = Decimal(values["rate"])
    except decimal.InvalidOperation:
        raise _bad(source, line, "rate", f"not a decimal number: {values['rate']!r}") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= _HUNDRED:
        raise _bad(source, line, "rate", f"a rate is a percentage from 0 to 100, got {rate}")
    if category == "zero" and rate != 0:
        raise _bad(source, line, "rate", f"a zero-category rate must be 0, got {rate}")
    valid_from = _date(values["valid_from"], source, line, "valid_from")
    valid_to = _date(values["valid_to"], source, line, "valid_to")
    if valid_from and valid_to and valid_to < valid_from:
        raise _bad(source, line, "valid_to", f"{valid_to} is before valid_from {valid_from}")
    name = values["name"]
    if not name or len(name) > 32:
        raise _bad(source, line, "name", "a tax name of 1 to 32 characters is required")
    compound = values["compound"].lower()
    if compound not in _BOOL:
        raise _bad(source, line, "compound", f"expected true or false, got {compound!r}")
    return TaxRate(jurisdiction=jurisdiction, category=category, rate=rate, name=name,
                   valid_from=valid_from, valid_to=valid_to, compound=_BOOL[compound],
                   line=line)


def _overlaps(a: TaxRate, b: TaxRate) -> bool:
    a_from, b_from = a.valid_from or date.min, b.valid_from or date.min
    a_to, b_to = a.valid_to or date.max, b.valid_to or date.max
    return a_from <= b_to and b_from <= a_to


def parse_tax_table(text: str, *, source: str = "<text>") -> TaxTable:
    """Parse and validate a rate table (module docstring: the format). A bad row is a
    ValidationError whose ``field`` is ``"<source>:<line>:<column>"``."""
    metadata: dict[str, str] = {}
    data: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            if sep and not data and re.fullmatch(r"\s*[A-Za-z_]+\s*", key):
                metadata[key.strip()] = value.strip()
            continue
        data.append((number, raw))
    if not data:
        raise _bad(source, 1, "jurisdiction", "the table has no header and no rows")
    header_line, header_text = data[0]
    header = [name.strip() for name in next(csv.reader([header_text]))]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise _bad(source, header_line, missing[0], f"missing column(s) {', '.join(missing)}")
    rows: list[TaxRate] = []
    seen: dict[tuple[str, str, str], list[TaxRate]] = {}
    for number, raw in data[1:]:
        cells = next(csv.reader([raw]))
        if len(cells) != len(header):
            raise _bad(source, number, header[min(len(cells), len(header) - 1)],
                       f"expected {len(header)} values, got {len(cells)}")
        values = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        row = _row(values, source, number)
        same = seen.setdefault((row.jurisdiction, row.category, row.name), [])
        for other in same:
            if _overlaps(other, row):
                raise _bad(source, number, "valid_from",
                           f"{row.jurisdiction} {row.category} {row.name} overlaps the row "
                           f"of line {other.line}")
        same.append(row)
        rows.append(row)
    if not rows:
        raise _bad(source, header_line, "jurisdiction", "the table has no rows")
    return TaxTable(rows=tuple(rows), metadata=metadata, source=source)


def load_tax_table(path: str | Path) -> TaxTable:
    """Read and parse a tenant's rate table from a CSV file (UTF-8)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read the tax table {file}: {exc}",
                              field="taxTable") from None
    return parse_tax_table(text, source=file.name)


@cache
def builtin_table() -> TaxTable:
    """The shipped EU VAT table (``billing/tax_rates/eu_vat.csv``), read once."""
    text = (resources.files("openbss.billing") / "tax_rates" / "eu_vat.csv").read_text(
        encoding="utf-8")
    return parse_tax_table(text, source="eu_vat.csv")


# -- place of supply -------------------------------------------------------------------------


@lru_cache(maxsize=65536)  # a pure function of the id: checked once per buyer and process
def _vat_country(vat_id: str | None) -> str | None:
    """The member state of a *valid* EU VAT id (``EL`` → ``GR``), else None."""
    if not vat_id:
        return None
    try:
        compact = eu_vat.validate(vat_id)
    except StdnumError:
        return None
    prefix = str(compact)[:2].upper()
    country = "GR" if prefix == "EL" else prefix
    return country if country in EU_MEMBER_STATES else None


def _buyer_jurisdiction(table: TaxTable, buyer: TaxParty) -> str:
    country = buyer.country.upper()
    if buyer.region:
        region = buyer.region.upper()
        code = region if "-" in region else f"{country}-{region}"
        if table.knows(code):
            return code
    return country


@dataclass(frozen=True, slots=True)
class _Supply:
    """Where the supply is taxed (``jurisdiction`` None: not taxed) and why."""

    jurisdiction: str | None
    note: str | None = None
    reverse_charge: bool = False


def _place_of_supply(table: TaxTable, seller: TaxParty, buyer: TaxParty) -> _Supply:
    if not buyer.country:  # location unknown: the supplier's country (Article 45)
        buyer = TaxParty(country=seller.country, region=seller.region, vat_id=buyer.vat_id,
                         business=buyer.business, exempt=buyer.exempt)
    if buyer.exempt:
        return _Supply(None, "exemptCustomer")
    seller_country = seller.country.upper()
    buyer_country = buyer.country.upper()
    seller_in_eu = seller_country in EU_MEMBER_STATES
    if seller_in_eu and buyer_country not in EU_MEMBER_STATES:
        return _Supply(None, "outsideScope")
    if buyer.business and buyer_country in EU_MEMBER_STATES:
        vat_country = _vat_country(buyer.vat_id)
        if vat_country is not None and vat_country != seller_country:
            return _Supply(None, "reverseCharge", reverse_charge=True)
    jurisdiction = _buyer_jurisdiction(table, buyer)
    if not table.knows(jurisdiction):
        return _Supply(None, "noTaxRate")
    return _Supply(jurisdiction)


# -- the engine ------------------------------------------------------------------------------


GroupKey = tuple[str, str, str, Decimal, bool]  # jurisdiction, name, category, rate, compound


@dataclass(slots=True)
class _LineTaxes:
    line: TaxableLine
    rows: list[TaxRate]
    exact: list[Decimal]  # exact tax per row
    rounded: list[Decimal]  # rounded tax per row (set later)


def _units(amount: Decimal, exponent: int) -> Decimal:
    return amount.scaleb(exponent, context=_EXACT)


def _exact_taxes(amount: Decimal, rows: Sequence[TaxRate], included: bool) -> list[Decimal]:
    """The exact tax of each row on a tax-exclusive ``amount``, or on the net of a
    tax-inclusive gross ``amount`` (net = gross / combined factor)."""

    def taxes_on(base: Decimal) -> list[Decimal]:
        taxes: list[Decimal] = []
        for row in rows:
            taxable = base + sum(taxes, Decimal(0)) if row.compound else base
            taxes.append(_EXACT.divide(_EXACT.multiply(taxable, row.rate), _HUNDRED))
        return taxes

    if not included:
        return taxes_on(amount)
    factor = _EXACT.add(Decimal(1), sum(taxes_on(Decimal(1)), Decimal(0)))
    return taxes_on(_EXACT.divide(amount, factor))


def _zero_rows(table: TaxTable, jurisdiction: str, on: date, line: int) -> list[TaxRate]:
    rows = table.rate(jurisdiction, "zero", on)
    if rows:
        return rows
    standard = table.rate(jurisdiction, "standard", on)
    name = standard[0].name if standard else "VAT"
    return [TaxRate(jurisdiction=jurisdiction, category="zero", rate=Decimal(0), name=name,
                    line=line)]


def _allocate(total_units: int, exact_units: Sequence[Decimal]) -> list[int]:
    """Split ``total_units`` over lines with these exact shares: each share is its exact
    share floored, the leftover units go to the largest remainders (ties: the earlier
    line). Works with mixed signs; each share is within one unit of its exact share when
    ``total_units`` is the sum of the exact shares rounded."""
    floors = [int(share.to_integral_value(rounding=decimal.ROUND_FLOOR)) for share in exact_units]
    leftover = total_units - sum(floors)
    order = sorted(range(len(floors)), key=lambda i: (-(exact_units[i] - floors[i]), i))
    if not 0 <= leftover <= len(floors):  # pragma: no cover — impossible by construction
        raise AssertionError("tax allocation out of range")
    for index in order[:leftover]:
        floors[index] += 1
    return floors


class BuiltInTaxEngine:
    """The built-in :class:`~openbss.billing.book.TaxEngine` over a :class:`TaxTable`
    (the module docstring has the rules)."""

    def __init__(self, table: TaxTable | None = None) -> None:
        self.table = table if table is not None else builtin_table()

    def __call__(self, *, seller: TaxParty, buyer: TaxParty, on: date,
                 lines: Sequence[TaxableLine], rounding: str,
                 per: Literal["line", "document"]) -> TaxResult:
        if rounding not in ROUNDING_MODES:
            raise ValidationError(f"unknown rounding mode {rounding!r}", field="rounding")
        if per not in ("line", "document"):
            raise ValidationError(f"taxRounding must be line or document, got {per!r}",
                                  field="taxRounding")
        if isinstance(on, datetime):
            raise ValidationError("the tax date is a local date, not a datetime", field="on")
        if not lines:
            return TaxResult(lines=(), breakdown=())
        currency = lines[0].amount.currency
        for index, line in enumerate(lines):
            if line.amount.currency != currency:
                raise ValidationError(
                    f"all lines of a document share one currency ({currency}), line {index} "
                    f"is in {line.amount.currency}", field=f"lines[{index}].amount")
        supply = _place_of_supply(self.table, seller, buyer)
        notes: list[str] = [supply.note] if supply.note else []
        exponent = currency_exponent(currency)
        taxed: list[_LineTaxes] = []
        for index, line in enumerate(lines):
            rows = self._rows(supply, line, index, on)
            if line.tax_category == "exempt" and supply.jurisdiction is not None \
                    and "exemptSupply" not in notes:
                notes.append("exemptSupply")
            exact = _exact_taxes(line.amount.amount, rows, line.tax_included) if rows else []
            taxed.append(_LineTaxes(line, rows, exact, []))
        if per == "line":
            quantum = Decimal((0, (1,), -exponent))
            for item in taxed:
                item.rounded = [tax.quantize(quantum, rounding=rounding, context=_EXACT)
                                for tax in item.exact]
        else:
            self._round_per_document(taxed, exponent, rounding)
        return self._result(taxed, currency, supply, notes)

    def _rows(self, supply: _Supply, line: TaxableLine, index: int, on: date) -> list[TaxRate]:
        if supply.jurisdiction is None or line.tax_category == "exempt":
            return []
        if line.tax_category == "zero":
            return _zero_rows(self.table, supply.jurisdiction, on, 0)
        rows = self.table.rate(supply.jurisdiction, line.tax_category, on)
        if not rows:
            raise ValidationError(
                f"no {line.tax_category!r} tax rate for {supply.jurisdiction} on {on} in "
                f"{self.table.source}", field=f"lines[{index}].taxCategory")
        return rows

    @staticmethod
    def _round_per_document(taxed: list[_LineTaxes], exponent: int, rounding: str) -> None:
        groups: dict[GroupKey, list[tuple[int, int]]] = {}  # key -> (line index, row index)
        for i, item in enumerate(taxed):
            item.rounded = [Decimal(0)] * len(item.rows)
            for j, row in enumerate(item.rows):
                key = (row.jurisdiction, row.name, row.category, row.rate, row.compound)
                groups.setdefault(key, []).append((i, j))
        for members in groups.values():
            exact_units = [_units(taxed[i].exact[j], exponent) for i, j in members]
            total = sum(exact_units, Decimal(0))
            total_units = int(total.to_integral_value(rounding=rounding))
            for (i, j), units in zip(members, _allocate(total_units, exact_units), strict=True):
                taxed[i].rounded[j] = Decimal(units).scaleb(-exponent, context=_EXACT)

    @staticmethod
    def _result(taxed: list[_LineTaxes], currency: str, supply: _Supply,
                notes: list[str]) -> TaxResult:
        out: list[TaxedLine] = []
        breakdown: dict[GroupKey, list[Decimal]] = {}  # key -> [taxable, amount]
        for item in taxed:
            line = item.line
            total_tax = sum(item.rounded, Decimal(0))
            if line.tax_included:
                gross = line.amount.amount
                net = _EXACT.subtract(gross, total_tax)
            else:
                net = line.amount.amount
                gross = _EXACT.add(net, total_tax)
            applied: list[AppliedTax] = []
            before = Decimal(0)
            for row, tax in zip(item.rows, item.rounded, strict=True):
                taxable = _EXACT.add(net, before) if row.compound else net
                applied.append(AppliedTax(
                    name=row.name, jurisdiction=row.jurisdiction, category=row.category,
                    rate=row.rate, taxable=Money(taxable, currency), amount=Money(tax, currency),
                    compound=row.compound))
                sums = breakdown.setdefault(
                    (row.jurisdiction, row.name, row.category, row.rate, row.compound),
                    [Decimal(0), Decimal(0)])
                sums[0] = _EXACT.add(sums[0], taxable)
                sums[1] = _EXACT.add(sums[1], tax)
                before = _EXACT.add(before, tax)
            out.append(TaxedLine(key=line.key, tax_excluded=Money(net, currency),
                                 tax_included=Money(gross, currency), taxes=tuple(applied)))
        items = tuple(
            TaxItem(name=name, jurisdiction=jurisdiction, category=category, rate=rate,
                    taxable=Money(sums[0], currency), amount=Money(sums[1], currency))
            for (jurisdiction, name, category, rate, _), sums in breakdown.items())
        return TaxResult(lines=tuple(out), breakdown=items,
                         reverse_charge=supply.reverse_charge,
                         notes=tuple(NOTES[key] for key in notes))


def note_entries(result: TaxResult) -> list[dict[str, str]]:
    """The result's notes as ``{"key", "text"}`` (key ``""`` for an external engine's own
    wording) — what an invoice stores and a template translates."""
    return [{"key": _KEY_OF_NOTE.get(text, ""), "text": text} for text in result.notes]


# -- the port's registry -----------------------------------------------------------------------

TaxEngineFactory = Callable[[], TaxEngine]


@cache
def _builtin_engine() -> BuiltInTaxEngine:
    return BuiltInTaxEngine(builtin_table())


_ENGINES: dict[str, TaxEngineFactory] = {"builtin": _builtin_engine}


def register_tax_engine(name: str, factory: TaxEngineFactory, *, replace: bool = False) -> None:
    """Make an engine available as ``tax_engine(name)``. ``factory()`` returns an object
    implementing :class:`~openbss.billing.book.TaxEngine` (it may return the same
    instance each time). Registering a taken name needs ``replace=True``."""
    if not re.fullmatch(r"[a-z][a-z0-9_\-]{0,31}", name):
        raise ValidationError(f"a tax engine name is lower-case, got {name!r}", field="name")
    if name in _ENGINES and not replace:
        raise ValidationError(f"a tax engine named {name!r} is already registered",
                              field="name")
    _ENGINES[name] = factory


def tax_engine(name: str = "builtin") -> TaxEngine:
    """The registered engine ``name`` (``builtin``: :class:`BuiltInTaxEngine` over the
    shipped table)."""
    factory = _ENGINES.get(name)
    if factory is None:
        raise ValidationError(f"unknown tax engine {name!r} (registered: "
                              f"{', '.join(sorted(_ENGINES))})", field="taxEngine")
    return factory()


# -- the parties -------------------------------------------------------------------------------


def _postal_addresses(media: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(media, list):
        return []
    found = [m for m in media if isinstance(m, Mapping)
             and m.get("mediumType") == "postalAddress"
             and isinstance(m.get("characteristic"), Mapping)]
    found.sort(key=lambda m: not m.get("preferred"))  # the preferred address first
    return [m["characteristic"] for m in found]


def _address(account_body: Mapping[str, Any],
             party_body: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    for contact in account_body.get("contact") or []:
        if isinstance(contact, Mapping):
            for address in _postal_addresses(contact.get("contactMedium")):
                if address.get("country"):
                    return address
    if party_body is not None:
        for address in _postal_addresses(party_body.get("contactMedium")):
            if address.get("country"):
                return address
    return None


def _vat_id(account_body: Mapping[str, Any], party_body: Mapping[str, Any] | None) -> str | None:
    tax = account_body.get("taxIdentification")
    if isinstance(tax, Mapping) and tax.get("identificationId"):
        return re.sub(r"[\s.\-/]", "", str(tax["identificationId"])).upper()
    for ident in (party_body or {}).get("organizationIdentification") or []:
        if isinstance(ident, Mapping) and str(ident.get("identificationType", "")).upper() \
                == "VAT" and ident.get("identificationId"):
            return re.sub(r"[\s.\-/]", "", str(ident["identificationId"])).upper()
    return None


def _local_date(value: Any) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _exempt(account_body: Mapping[str, Any], country: str, on: date | None) -> bool:
    for entry in account_body.get("taxExemption") or []:
        if not isinstance(entry, Mapping):
            continue
        jurisdiction = str(entry.get("issuingJurisdiction", "")).upper()
        if jurisdiction.split("-")[0] != country:
            continue
        valid = entry.get("validFor") or {}
        start = _local_date(valid.get("startDateTime"))
        end = _local_date(valid.get("endDateTime"))
        if on is None or ((start is None or start <= on) and (end is None or on < end)):
            return True
    return False


def tax_party_of(account_body: Mapping[str, Any], party_body: Mapping[str, Any] | None, *,
                 on: date | None = None, default_country: str | None = None) -> TaxParty:
    """The buyer as tax sees it, from a TMF666 billing account and its owner party.

    - country (and region): the account's contacts' postal address, else the party's
      ``contactMedium`` postal address (the preferred one first); else the VAT id's
      country; else ``default_country``; else ``""`` (unknown: the engine then taxes at
      the seller's country, the general B2C rule of Article 45 Directive 2006/112/EC);
      a country that is not an ISO code is a ValidationError;
    - ``vat_id``: the account's ``taxIdentification.identificationId``, else the
      organization's ``organizationIdentification`` of type VAT (compact, upper case);
    - ``business``: the party is an Organization, or a VAT id is given;
    - ``exempt``: an entry of ``taxExemption`` issued by the buyer's country (or one of
      its subdivisions) is valid on ``on`` (``validFor`` start inclusive, end
      exclusive; ``on`` None: any entry of that country counts).
    """
    address = _address(account_body, party_body)
    vat_id = _vat_id(account_body, party_body)
    country: str | None = None
    region: str | None = None
    if address is not None:
        country = str(address["country"]).strip().upper()
        state = address.get("stateOrProvince")
        if state:
            state = str(state).strip().upper()
            region = state if "-" in state else f"{country}-{state}"
    if not country and vat_id:
        country = _vat_country(vat_id)
    if not country:
        country = default_country
    if not country:
        country = ""  # unknown: the engine taxes at the seller's country
    elif not re.fullmatch(r"[A-Z]{2}", country):
        raise ValidationError(
            f"the billing account's postal address has no ISO country code: {country!r}",
            field="contactMedium.characteristic.country")
    party_type = str((party_body or {}).get("@type", ""))
    business = party_type == "Organization" or vat_id is not None
    return TaxParty(country=country, region=region, vat_id=vat_id, business=business,
                    exempt=_exempt(account_body, country, on))

