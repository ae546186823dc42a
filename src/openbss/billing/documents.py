"""Invoice and credit-note documents: one PDF per issued ``customerBill`` (ReportLab canvas).

:func:`render_document` turns the TMF678 renderings of a bill and its lines
(``customerBill`` and ``appliedCustomerBillingRate`` JSON, as the invoices module produces
them) into PDF bytes. Rules (docs/billing.md, *Documents*):

* **Pure.** No database, no clock, no file: the same inputs give byte-identical PDFs
  (ReportLab ``invariant`` mode, the document's creation date is the bill date). An issued
  document is rendered once and stored; a re-render would give the same bytes anyway.
* **Legal fields** (Council Directive 2006/112/EC, art. 226): seller and buyer names,
  addresses and VAT ids, the number and date, the service period, the lines with quantity,
  unit price and tax rate, the tax breakdown per rate with its taxable amount, the notes
  (reverse charge, exemption), the due date and the payment instructions; a credit note is
  titled so and names the invoice it corrects.
* **Locale.** Labels in the bill's language (en, de, fr, es, it, nl; anything else, or an
  unknown locale, falls back to English), numbers, amounts, percentages and dates in the
  locale's formats (Babel/CLDR): ``de-DE`` gives ``1.234,56 €`` and ``1. März 2026``.
  Dates are shown in the buyer's time zone; a period's end is exclusive, so the last day
  shown is the day of the instant just before it.
* **Children paid by a parent.** Lines whose ``billedAccount`` is another account than the
  bill's are grouped by that account, each group with its subtotal.
* **Money** is read as :class:`~decimal.Decimal` from decimal strings (or ints / Decimals);
  a float is refused. Amounts are printed as given (already rounded by the calculation).
* **Templates** (:class:`DocumentTemplate`, the tenant settings group ``billingDocument``):
  name, accent colour, a logo (text, or a base64 PNG), label overrides per language, a
  footer and the page size.

Bad input raises :class:`~openbss.core.errors.ValidationError` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from multiprocessing import get_context
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.numbers import format_currency, format_decimal, format_percent
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from openbss.billing.settings import SellerSettings
from openbss.core import tenant_settings
from openbss.core.errors import ValidationError

# Page streams are Flate-compressed without the ASCII85 wrapping ReportLab adds by default
# (a third larger and slower; every PDF reader reads binary streams).
rl_config.useA85 = 0

if TYPE_CHECKING:
    from openbss.core.context import Context

__all__ = [
    "LABELS",
    "LANGUAGES",
    "TEMPLATE_GROUP",
    "Buyer",
    "DocumentTemplate",
    "default_template",
    "read_template",
    "render_document",
    "render_many",
    "render_pool",
]

#: The tenant settings group of the document template (``/api/v1/settings/billingDocument``).
TEMPLATE_GROUP = "billingDocument"

# -- labels ------------------------------------------------------------------------------------

#: Every label of a document, in English; ``{…}`` are filled in by the renderer.
_EN: dict[str, str] = {
    "invoice": "Invoice",
    "creditNote": "Credit note",
    "proForma": "Pro forma invoice",
    "invoiceNo": "Invoice no.",
    "creditNoteNo": "Credit note no.",
    "draft": "not issued",
    "date": "Date",
    "dueDate": "Due date",
    "servicePeriod": "Service period",
    "account": "Customer account",
    "correctsInvoice": "Corrects invoice",
    "billTo": "Bill to",
    "vatId": "VAT ID",
    "description": "Description",
    "quantity": "Qty",
    "unitPrice": "Unit price",
    "taxRate": "VAT",
    "amount": "Amount",
    "subtotalFor": "Subtotal {name}",
    "netTotal": "Total excl. VAT",
    "taxLine": "VAT {rate} on {base}",
    "total": "Total incl. VAT",
    "amountDue": "Amount due",
    "amountCredited": "Amount credited",
    "paymentInstructions": "Payment",
    "payBy": "Please pay {amount} by {date}.",
    "page": "Page {page} of {pages}",
    "reverseCharge": ("Reverse charge: VAT to be accounted for by the recipient "
                      "(Article 196, Council Directive 2006/112/EC)."),
    "outsideScope": "Not subject to EU VAT: place of supply outside the EU.",
    "exempt": "Exempt from VAT.",
}

#: Labels per language (ISO 639-1). Missing keys fall back to English.
LABELS: dict[str, dict[str, str]] = {
    "en": _EN,
    "de": {
        "invoice": "Rechnung", "creditNote": "Gutschrift",
        "proForma": "Proforma-Rechnung", "invoiceNo": "Rechnungsnr.",
        "creditNoteNo": "Gutschriftnr.", "draft": "nicht ausgestellt", "date": "Datum",
        "dueDate": "Fällig am", "servicePeriod": "Leistungszeitraum",
        "account": "Kundenkonto", "correctsInvoice": "Korrigiert Rechnung",
        "billTo": "Rechnungsempfänger", "vatId": "USt-IdNr.", "description": "Beschreibung",
        "quantity": "Menge", "unitPrice": "Einzelpreis", "taxRate": "USt.",
        "amount": "Betrag", "subtotalFor": "Zwischensumme {name}",
        "netTotal": "Summe netto", "taxLine": "USt. {rate} auf {base}",
        "total": "Summe brutto", "amountDue": "Zu zahlen",
        "amountCredited": "Gutgeschriebener Betrag", "paymentInstructions": "Zahlung",
        "payBy": "Bitte zahlen Sie {amount} bis zum {date}.",
        "page": "Seite {page} von {pages}",
        "reverseCharge": ("Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge, "
                          "Art. 196 MwSt-Systemrichtlinie 2006/112/EG)."),
        "outsideScope": "Nicht im Inland steuerbare Leistung (Leistungsort außerhalb der EU).",
        "exempt": "Steuerbefreite Leistung.",
    },
    "fr": {
        "invoice": "Facture", "creditNote": "Avoir", "proForma": "Facture pro forma",
        "invoiceNo": "Facture n°", "creditNoteNo": "Avoir n°", "draft": "non émise",
        "date": "Date", "dueDate": "Échéance", "servicePeriod": "Période de service",
        "account": "Compte client", "correctsInvoice": "Rectifie la facture",
        "billTo": "Facturé à", "vatId": "N° TVA", "description": "Désignation",
        "quantity": "Qté", "unitPrice": "Prix unitaire", "taxRate": "TVA",
        "amount": "Montant", "subtotalFor": "Sous-total {name}", "netTotal": "Total HT",
        "taxLine": "TVA {rate} sur {base}", "total": "Total TTC",
        "amountDue": "Montant dû", "amountCredited": "Montant crédité",
        "paymentInstructions": "Paiement",
        "payBy": "Merci de régler {amount} avant le {date}.",
        "page": "Page {page} sur {pages}",
        "reverseCharge": ("Autoliquidation : TVA due par le preneur "
                          "(article 196 de la directive 2006/112/CE)."),
        "outsideScope": "TVA non applicable : lieu de prestation hors de l'UE.",
        "exempt": "Exonération de TVA.",
    },
    "es": {
        "invoice": "Factura", "creditNote": "Factura rectificativa",
        "proForma": "Factura proforma", "invoiceNo": "Factura n.º",
        "creditNoteNo": "Rectificativa n.º", "draft": "no emitida", "date": "Fecha",
        "dueDate": "Vencimiento", "servicePeriod": "Periodo de servicio",
        "account": "Cuenta de cliente", "correctsInvoice": "Rectifica la factura",
        "billTo": "Facturar a", "vatId": "NIF-IVA", "description": "Descripción",
        "quantity": "Cant.", "unitPrice": "Precio unitario", "taxRate": "IVA",
        "amount": "Importe", "subtotalFor": "Subtotal {name}",
        "netTotal": "Base imponible", "taxLine": "IVA {rate} sobre {base}",
        "total": "Total", "amountDue": "Importe a pagar",
        "amountCredited": "Importe abonado", "paymentInstructions": "Pago",
        "payBy": "Por favor, pague {amount} antes del {date}.",
        "page": "Página {page} de {pages}",
        "reverseCharge": ("Inversión del sujeto pasivo: IVA a cargo del destinatario "
                          "(artículo 196 de la Directiva 2006/112/CE)."),
        "outsideScope": "No sujeto a IVA de la UE: lugar de prestación fuera de la UE.",
        "exempt": "Operación exenta de IVA.",
    },
    "it": {
        "invoice": "Fattura", "creditNote": "Nota di credito",
        "proForma": "Fattura proforma", "invoiceNo": "Fattura n.",
        "creditNoteNo": "Nota di credito n.", "draft": "non emessa", "date": "Data",
        "dueDate": "Scadenza", "servicePeriod": "Periodo del servizio",
        "account": "Conto cliente", "correctsInvoice": "Rettifica la fattura",
        "billTo": "Intestatario", "vatId": "Partita IVA", "description": "Descrizione",
        "quantity": "Q.tà", "unitPrice": "Prezzo unitario", "taxRate": "IVA",
        "amount": "Importo", "subtotalFor": "Subtotale {name}",
        "netTotal": "Imponibile", "taxLine": "IVA {rate} su {base}",
        "total": "Totale", "amountDue": "Importo dovuto",
        "amountCredited": "Importo accreditato", "paymentInstructions": "Pagamento",
        "payBy": "Si prega di pagare {amount} entro il {date}.",
        "page": "Pagina {page} di {pages}",
        "reverseCharge": ("Inversione contabile: IVA a carico del destinatario "
                          "(articolo 196 della direttiva 2006/112/CE)."),
        "outsideScope": "Operazione non soggetta a IVA UE: luogo della prestazione fuori UE.",
        "exempt": "Operazione esente da IVA.",
    },
    "nl": {
        "invoice": "Factuur", "creditNote": "Creditnota", "proForma": "Pro-formafactuur",
        "invoiceNo": "Factuurnr.", "creditNoteNo": "Creditnotanr.",
        "draft": "niet uitgegeven", "date": "Datum", "dueDate": "Vervaldatum",
        "servicePeriod": "Leveringsperiode", "account": "Klantaccount",
        "correctsInvoice": "Corrigeert factuur", "billTo": "Factuuradres",
        "vatId": "Btw-nr.", "description": "Omschrijving", "quantity": "Aantal",
        "unitPrice": "Stukprijs", "taxRate": "Btw", "amount": "Bedrag",
        "subtotalFor": "Subtotaal {name}", "netTotal": "Totaal excl. btw",
        "taxLine": "Btw {rate} over {base}", "total": "Totaal incl. btw",
        "amountDue": "Te betalen", "amountCredited": "Gecrediteerd bedrag",
        "paymentInstructions": "Betaling",
        "payBy": "Gelieve {amount} te betalen vóór {date}.",
        "page": "Pagina {page} van {pages}",
        "reverseCharge": ("Btw verlegd: btw te voldoen door de afnemer "
                          "(artikel 196, Richtlijn 2006/112/EG)."),
        "outsideScope": "Niet onderworpen aan EU-btw: plaats van dienst buiten de EU.",
        "exempt": "Vrijgesteld van btw.",
    },
}
LANGUAGES: tuple[str, ...] = tuple(LABELS)

#: ``note.key`` (normalised: lower case, letters only) -> the label of its legal wording.
_NOTE_KEYS: dict[str, str] = {
    "reversecharge": "reverseCharge", "outsidescope": "outsideScope",
    "outsideeuvat": "outsideScope", "exempt": "exempt", "taxexempt": "exempt",
    "exemption": "exempt",
}

# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Buyer:
    """The billing account as the document names it. ``time_zone``: the account's zone
    (IANA), in which the bill's dates and the service periods are shown."""

    name: str
    address: tuple[str, ...] = ()
    country: str | None = None
    vat_id: str | None = None
    email: str | None = None
    time_zone: str = "UTC"


_MAX_LOGO_BYTES = 512 * 1024
_LANG_KEY = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


class DocumentTemplate(BaseModel):
    """A tenant's document template (settings group ``billingDocument``).

    ``labels`` overrides labels per language (``{"de": {"invoice": "Rechnung"}}``; a key
    ``de-AT`` applies to that locale only and wins over ``de``); unknown label names are
    refused. ``logoPng``: a base64 PNG (at most 512 KiB), drawn instead of ``logoText``.
    """

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64)] = "default"
    accent_colour: Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#1F4E79"
    logo_text: Annotated[str, Field(max_length=80)] | None = None
    logo_png: Annotated[str, Field(max_length=_MAX_LOGO_BYTES * 4 // 3 + 4)] | None = None
    labels: dict[str, dict[str, Annotated[str, Field(max_length=300)]]] = Field(
        default_factory=dict, max_length=20)
    footer: Annotated[str, Field(max_length=500)] | None = None
    page_size: Literal["A4", "Letter"] = "A4"

    @field_validator("logo_png")
    @classmethod
    def _png(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("logoPng must be base64") from None
        if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
            raise ValueError("logoPng must be a PNG image")
        try:
            _logo(value).getSize()
        except Exception:  # any decoder error means a broken image
            raise ValueError("logoPng is not a readable PNG image") from None
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for lang, overrides in value.items():
            if not _LANG_KEY.match(lang):
                raise ValueError(f"labels: {lang!r} is not a language (e.g. 'de', 'de-AT')")
            unknown = sorted(set(overrides) - set(_EN))
            if unknown:
                raise ValueError(f"labels.{lang}: unknown label {unknown[0]!r} "
                                 f"(known: {', '.join(sorted(_EN))})")
        return value


def default_template() -> DocumentTemplate:
    """The template used when a tenant has not set one."""
    return DocumentTemplate()


def read_template(ctx: Context) -> DocumentTemplate:
    """The tenant's document template (its stored settings over the defaults)."""
    return tenant_settings.read(ctx, TEMPLATE_GROUP, DocumentTemplate)


@lru_cache(maxsize=32)
def _logo(png_base64: str) -> ImageReader:
    return ImageReader(io.BytesIO(base64.b64decode(png_base64)))


# -- reading the TMF678 renderings ------------------------------------------------------------


def _decimal(value: object, where: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValidationError(f"{where} must be a decimal string, not {type(value).__name__}",
                              field=where)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, (int, str)):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValidationError(f"{where} is not a number: {value!r}", field=where) from None
    else:
        raise ValidationError(f"{where} must be a decimal string", field=where)
    if not number.is_finite():
        raise ValidationError(f"{where} must be finite", field=where)
    return number


def _money(obj: object, where: str, currency: str | None = None) -> tuple[Decimal, str]:
    if not isinstance(obj, Mapping):
        raise ValidationError(f"{where} must be a Money object {{unit, value}}", field=where)
    unit = obj.get("unit")
    if not isinstance(unit, str) or not re.fullmatch(r"[A-Z]{3}", unit):
        raise ValidationError(f"{where}.unit must be an ISO 4217 code", field=f"{where}.unit")
    if currency is not None and unit != currency:
        raise ValidationError(f"{where}.unit is {unit}, the bill is in {currency}",
                              field=f"{where}.unit")
    return _decimal(obj.get("value"), f"{where}.value"), unit


def _text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ValidationError(f"{where}{key} is required", field=f"{where}{key}")
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{where}{key} must be a string", field=f"{where}{key}")
    return value


def _instant(value: object, where: str, zone: ZoneInfo) -> datetime:
    """A TMF date-time (or a bare date) as a local datetime in ``zone``."""
    if not isinstance(value, str):
        raise ValidationError(f"{where} must be an ISO 8601 date-time", field=where)
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), zone)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{where} is not an ISO 8601 date-time: {value!r}",
                              field=where) from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{where} needs a time zone offset (e.g. Z)", field=where)
    return parsed.astimezone(zone)


def _period(obj: object, where: str, zone: ZoneInfo) -> tuple[date, date] | None:
    """A TMF ``TimePeriod`` as its first and last local day (the end is exclusive)."""
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise ValidationError(f"{where} must be a TimePeriod", field=where)
    start_raw, end_raw = obj.get("startDateTime"), obj.get("endDateTime")
    if start_raw is None:
        return None
    start = _instant(start_raw, f"{where}.startDateTime", zone)
    if end_raw is None:
        return start.date(), start.date()
    end = _instant(end_raw, f"{where}.endDateTime", zone)
    if end < start:
        raise ValidationError(f"{where} ends before it starts", field=f"{where}.endDateTime")
    last = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    return start.date(), last


@dataclass(frozen=True, slots=True)
class _Tax:
    category: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    detail: str
    period: tuple[date, date] | None
    quantity: Decimal | None
    unit_price: Decimal | None
    net: Decimal
    taxes: tuple[_Tax, ...]
    account: tuple[str, str]  # (id, name) of the billed account


def _taxes(items: object, where: str, currency: str) -> tuple[_Tax, ...]:
    if items is None:
        return ()
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise ValidationError(f"{where} must be a list", field=where)
    out = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError(f"{at} must be an object", field=at)
        rate = _decimal(item.get("taxRate", 0), f"{at}.taxRate")
        amount, _ = _money(item.get("taxAmount", {"unit": currency, "value": "0"}),
                           f"{at}.taxAmount", currency)
        out.append(_Tax(_text(item, "taxCategory", f"{at}.") or "standard", rate, amount))
    return tuple(out)


def _characteristic(line: Mapping[str, Any], name: str) -> object:
    chars = line.get("characteristic")
    if isinstance(chars, Sequence) and not isinstance(chars, (str, bytes)):
        for char in chars:
            if isinstance(char, Mapping) and char.get("name") == name:
                return char.get("value")
    return None


def _ref(obj: object, where: str) -> tuple[str, str] | None:
    if obj is None:
        return None
    if not isinstance(obj, Mapping):
        raise ValidationError(f"{where} must be a reference {{id, name}}", field=where)
    ident = _text(obj, "id", f"{where}.", required=True)
    return ident, _text(obj, "name", f"{where}.") or ident


def _lines(lines: Sequence[Mapping[str, Any]], currency: str, zone: ZoneInfo,
           own: tuple[str, str]) -> list[_Line]:
    if not isinstance(lines, Sequence) or isinstance(lines, (str, bytes)):
        raise ValidationError("lines must be a list", field="lines")
    out = []
    for i, line in enumerate(lines):
        at = f"lines[{i}]"
        if not isinstance(line, Mapping):
            raise ValidationError(f"{at} must be an object", field=at)
        net, _ = _money(line.get("taxExcludedAmount"), f"{at}.taxExcludedAmount", currency)
        raw_qty = line.get("quantity", _characteristic(line, "quantity"))
        quantity = None if raw_qty is None else _decimal(raw_qty, f"{at}.quantity")
        unit_price: Decimal | None = None
        if line.get("unitPrice") is not None:
            unit_price, _ = _money(line["unitPrice"], f"{at}.unitPrice", currency)
        elif quantity:
            unit_price = _display_quotient(net, quantity, currency)
        product = _ref(line.get("product"), f"{at}.product")
        name = (_text(line, "name", f"{at}.") or (product[1] if product else "")
                or _text(line, "type", f"{at}."))
        out.append(_Line(
            name=name, detail=_text(line, "description", f"{at}."),
            period=_period(line.get("periodCoverage"), f"{at}.periodCoverage", zone),
            quantity=quantity, unit_price=unit_price, net=net,
            taxes=_taxes(line.get("appliedTax"), f"{at}.appliedTax", currency),
            account=_ref(line.get("billedAccount"), f"{at}.billedAccount") or own))
    return out


@lru_cache(maxsize=64)
def _exponent(currency: str) -> int:
    from openbss.core.money import currency_exponent
    try:
        return currency_exponent(currency)
    except ValidationError:
        raise ValidationError(f"unknown currency {currency}", field="amountDue.unit") from None


def _display_quotient(net: Decimal, quantity: Decimal, currency: str) -> Decimal:
    """A unit price derived for display: net / quantity, at most 4 digits past the minor
    unit (a display value only; the line's amount is what counts)."""
    places = Decimal(1).scaleb(-(_exponent(currency) + 4))
    return (net / quantity).quantize(places).normalize()


# -- locale and formats ------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _locale(tag: str) -> Locale:
    """A BCP 47 tag (``de-DE``, ``de_DE``) as a Babel locale; English when unknown."""
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-") if tag else Locale("en")
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale("en")


@lru_cache(maxsize=256)
def _labels(tag: str, overrides_key: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
            ) -> dict[str, str]:
    locale = _locale(tag)
    lang = locale.language if locale.language in LABELS else "en"
    labels = {**_EN, **LABELS[lang]}
    overrides = dict(overrides_key)
    full = f"{locale.language}-{locale.territory}" if locale.territory else None
    for key in (locale.language, full):
        if key is not None and key in overrides:
            labels.update(dict(overrides[key]))
    return labels


@dataclass(frozen=True, slots=True)
class _Formats:
    """Locale-bound formatting (memoised per value: a bill run repeats prices and periods)."""

    locale: Locale
    currency: str

    def money(self, value: Decimal) -> str:
        return _fmt_money(value, self.currency, self.locale)

    def price(self, value: Decimal) -> str:
        """A unit price: the currency's digits, more when it has more (``0,0125 €``)."""
        if value.as_tuple().exponent >= -_exponent(self.currency):  # type: ignore[operator]
            return _fmt_money(value, self.currency, self.locale)
        return _fmt_price(value, self.currency, self.locale)

    def number(self, value: Decimal) -> str:
        return _fmt_number(value, self.locale)

    def percent(self, rate: Decimal) -> str:
        return _fmt_percent(rate, self.locale)

    def day(self, day: date) -> str:
        return _fmt_date(day, self.locale)

    def period(self, span: tuple[date, date], long: bool = False) -> str:
        return _fmt_period(span[0], span[1], long, self.locale)


#: CLDR's typographic spaces and minus are outside WinAnsiEncoding (the standard fonts'
#: encoding): print them as the no-break space, a space and a hyphen-minus.
_TYPOGRAPHY = str.maketrans({"\u202f": "\xa0", "\u2009": " ", "\u2007": "\xa0",
                             "\u200a": " ", "\u2212": "-", "\u200e": None, "\u200f": None})


def _printable(text: str) -> str:
    return text.translate(_TYPOGRAPHY)


def _fmt_money(value: Decimal, currency: str, locale: Locale) -> str:
    # a zero is shown unsigned (Babel writes -0,00); cached by the value's digits too,
    # since equal Decimals (1.0 == 1.00) are equal keys
    value = value if value else value.copy_abs()
    return _fmt_money_cached(value, value.as_tuple(), currency, locale)


@lru_cache(maxsize=8192)
def _fmt_money_cached(value: Decimal, _key: Any, currency: str, locale: Locale) -> str:
    fast = _money_format(currency, locale)
    if fast is not None and value.as_tuple().exponent == -fast.digits:
        return fast(value)
    return _printable(format_currency(value, currency, locale=locale))


@dataclass(frozen=True, slots=True)
class _MoneyFormat:
    """Babel's currency format for one locale and currency, applied without Babel's
    per-call overhead (a bill run formats tens of amounts per invoice). Only for amounts
    with exactly the currency's digits; tests check it against ``format_currency``."""

    digits: int
    decimal: str
    group: str
    grouping: tuple[int, int]
    positive: tuple[str, str]
    negative: tuple[str, str]

    def __call__(self, value: Decimal, places: int | None = None) -> str:
        """``value`` with ``places`` fraction digits (default: the currency's); its
        exponent must be ``-places``."""
        places = self.digits if places is None else places
        sign, digits, _ = value.as_tuple()
        text = "".join(map(str, digits)).rjust(places + 1, "0")
        whole, fraction = (text[:-places], text[-places:]) if places else (text, "")
        size, grouped = self.grouping[0], ""
        while len(whole) > size:
            grouped = self.group + whole[-size:] + grouped
            whole = whole[:-size]
            size = self.grouping[1]
        number = whole + grouped + (self.decimal + fraction if fraction else "")
        prefix, suffix = self.negative if sign and any(digits) else self.positive
        return prefix + number + suffix


@lru_cache(maxsize=256)
def _money_format(currency: str, locale: Locale) -> _MoneyFormat | None:
    from babel.numbers import get_decimal_symbol, get_group_symbol
    pattern = locale.currency_formats.get("standard")
    digits = _exponent(currency)
    if pattern is None or pattern.scale != 0 or pattern.int_prec[0] != 1:
        return None
    one = Decimal(1).scaleb(-digits) * (10 ** digits)  # 1 with the currency's digits
    core = (f"1{get_decimal_symbol(locale)}{'0' * digits}" if digits else "1")
    shown = [_printable(format_currency(v, currency, locale=locale)) for v in (one, -one)]
    if any(text.count(core) != 1 for text in shown):
        return None
    (pos_prefix, pos_suffix), (neg_prefix, neg_suffix) = (
        text.split(core) for text in shown)
    fast = _MoneyFormat(digits, _printable(get_decimal_symbol(locale)),
                        _printable(get_group_symbol(locale)),
                        (pattern.grouping[0], pattern.grouping[1]),
                        (pos_prefix, pos_suffix), (neg_prefix, neg_suffix))
    # used only where it agrees with Babel on probes of every length and sign
    for units in (0, 5, -5, 123, 123456, -1234567, 123456789012, -98765432109876543):
        probe = Decimal(units).scaleb(-digits)
        if fast(probe) != _printable(format_currency(probe, currency, locale=locale)):
            return None
    return fast


@lru_cache(maxsize=8192)
def _fmt_price(value: Decimal, currency: str, locale: Locale) -> str:
    fast = _money_format(currency, locale)
    if fast is not None:  # Babel shows the digits past the currency's without trailing zeros
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -fast.digits:
            return fast(value.normalize(), -exponent)
        return fast(value.quantize(Decimal(1).scaleb(-fast.digits)))
    return _printable(format_currency(value, currency, locale=locale, decimal_quantization=False))


@lru_cache(maxsize=1024)
def _fmt_number(value: Decimal, locale: Locale) -> str:
    return _printable(format_decimal(value.normalize(), locale=locale, decimal_quantization=False))


@lru_cache(maxsize=256)
def _fmt_percent(rate: Decimal, locale: Locale) -> str:
    return _printable(format_percent(rate / 100, locale=locale, decimal_quantization=False))


@lru_cache(maxsize=1024)
def _fmt_date(day: date, locale: Locale) -> str:
    return _printable(format_date(day, "long", locale=locale))


@lru_cache(maxsize=4096)
def _fmt_period(first: date, last: date, long: bool, locale: Locale) -> str:
    if first == last:
        return _printable(format_date(first, "long" if long else "medium", locale=locale))
    return _printable(format_interval(first, last, "yMMMd" if long else "yMd", locale=locale))


# -- layout ------------------------------------------------------------------------------------

_FONT, _BOLD = "Helvetica", "Helvetica-Bold"
_GREY = Color(0.35, 0.35, 0.35)
_RULE = Color(0.8, 0.8, 0.8)
_MARGIN = 50.0
_FOOTER_SPACE = 46.0
# the line table's columns: description from the margin, the rest right-aligned at x
_QTY_X, _PRICE_X, _RATE_X = 355.0, 435.0, 480.0
_DESC_WIDTH = 245.0
_NAME_SIZE, _DETAIL_SIZE = 9.0, 7.5
_LEADING = 11.0
_TABLE_HEADER = 18.0


@lru_cache(maxsize=16384)
def _pdf_string(text: str) -> str | None:
    """``text`` as a PDF string literal in WinAnsiEncoding (the standard fonts' encoding),
    or None when it has a character outside it (ReportLab's own path then substitutes)."""
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        return None
    out = []
    for byte in raw:
        if byte in (0x28, 0x29, 0x5C):  # ( ) backslash
            out.append("\\" + chr(byte))
        elif 32 <= byte < 127:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return "(" + "".join(out) + ")"


@lru_cache(maxsize=16384)
def _width(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


@lru_cache(maxsize=64)
def _colour(colour: Color, operator: str) -> str:
    return f"{colour.red:.3f} {colour.green:.3f} {colour.blue:.3f} {operator}"


class _Pen:
    """The few canvas operations a document uses. Text in the standard fonts is written as
    one ``BT … Tj ET`` operator string each (ReportLab's text objects cost ~5x more per
    string and mass bill runs draw thousands); everything else is the canvas's own."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.font, self.size = _FONT, 9.0
        self._names: dict[str, str] = {}
        self.drawImage = canvas.drawImage

    def setFillColor(self, colour: Color) -> None:
        self.canvas.addLiteral(_colour(colour, "rg"))

    def setStrokeColor(self, colour: Color) -> None:
        self.canvas.addLiteral(_colour(colour, "RG"))

    def setLineWidth(self, width: float) -> None:
        self.canvas.addLiteral(f"{width:g} w")

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.canvas.addLiteral(f"n {x1:.2f} {y1:.2f} m {x2:.2f} {y2:.2f} l S")

    def setFont(self, font: str, size: float) -> None:
        self.font, self.size = font, size

    def drawString(self, x: float, y: float, text: str) -> None:
        if not text:
            return
        literal = _pdf_string(text)
        if literal is None:
            self.canvas.setFont(self.font, self.size)
            self.canvas.drawString(x, y, text)
            return
        name = self._names.get(self.font)
        if name is None:
            # the document's resource name of the font (registers it once per document)
            name = self._names[self.font] = self.canvas._doc.getInternalFontName(self.font)
        self.canvas.addLiteral(
            f"BT {name} {self.size:g} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm {literal} Tj ET")

    def drawRightString(self, x: float, y: float, text: str) -> None:
        if text:
            self.drawString(x - _width(text, self.font, self.size), y, text)


@dataclass(frozen=True, slots=True)
class _Block:
    """A piece of the document flow: its height and how to draw it with its top at y."""

    height: float
    draw: Callable[[_Pen, float], None]
    in_table: bool = False


def _wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    if not text:
        return []
    if _width(text, font, size) <= width:
        return [text]
    parts: list[str] = list(simpleSplit(text, font, size, width))
    if len(parts) > max_lines:
        parts = parts[:max_lines]
        parts[-1] = parts[-1].rstrip() + " …"
    return parts


class _Document:
    """One document being laid out: the header, a flow of blocks, paginated on save."""

    def __init__(self, bill: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *,
                 seller: SellerSettings, buyer: Buyer, locale: str,
                 template: DocumentTemplate) -> None:
        if not isinstance(bill, Mapping):
            raise ValidationError("bill must be a customerBill object", field="bill")
        try:
            self.zone = ZoneInfo(buyer.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {buyer.time_zone!r}",
                                  field="buyer.time_zone") from None
        self.bill, self.seller, self.buyer, self.template = bill, seller, buyer, template
        due, self.currency = _money(bill.get("amountDue") or bill.get("taxIncludedAmount"),
                                    "amountDue")
        _exponent(self.currency)
        self.amount_due = due
        self.net, _ = _money(bill.get("taxExcludedAmount"), "taxExcludedAmount",
                             self.currency)
        self.gross, _ = _money(bill.get("taxIncludedAmount"), "taxIncludedAmount",
                               self.currency)
        self.category = _text(bill, "category", "") or "invoice"
        if self.category not in ("invoice", "creditNote"):
            raise ValidationError("category must be 'invoice' or 'creditNote'",
                                  field="category")
        self.bill_no = _text(bill, "billNo", "")
        self.bill_date = _instant(bill.get("billDate"), "billDate", self.zone)
        self.due_date = (_instant(bill["paymentDueDate"], "paymentDueDate", self.zone).date()
                         if bill.get("paymentDueDate") else None)
        self.period = _period(bill.get("billingPeriod"), "billingPeriod", self.zone)
        self.account = _ref(bill.get("billingAccount"), "billingAccount") or ("", buyer.name)
        self.corrects = _ref(bill.get("correctsBill"), "correctsBill")
        if self.corrects is not None:
            raw = bill["correctsBill"]
            self.corrects = (self.corrects[0], _text(raw, "billNo", "correctsBill.")
                             or self.corrects[1])
        self.tax_items = _taxes(bill.get("taxItem"), "taxItem", self.currency)
        self.notes = self._notes(bill.get("note"))
        self.lines = _lines(lines, self.currency, self.zone, self.account)
        overrides = tuple(sorted((k, tuple(sorted(v.items())))
                                 for k, v in template.labels.items()))
        self.labels = _labels(locale, overrides)
        self.fmt = _Formats(_locale(locale), self.currency)
        size = A4 if template.page_size == "A4" else LETTER
        self.width, self.height = float(size[0]), float(size[1])
        self.right = self.width - _MARGIN
        self.accent = HexColor(template.accent_colour)

    def _notes(self, raw: object) -> list[tuple[str, str]]:
        """``(label key or "", text)`` per note; a known key prints the translated wording."""
        if raw is None:
            return []
        if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
            raise ValidationError("note must be a list of {text}", field="note")
        notes = []
        for i, note in enumerate(raw):
            if not isinstance(note, Mapping):
                raise ValidationError(f"note[{i}] must be an object", field=f"note[{i}]")
            key = str(note.get("key") or note.get("id") or "")
            label = _NOTE_KEYS.get(re.sub(r"[^a-z]", "", key.lower()), "")
            notes.append((label, _text(note, "text", f"note[{i}].")))
        return notes

    # -- the flow ----------------------------------------------------------------------------

    def label(self, key: str, **values: str) -> str:
        text = self.labels[key]
        return text.format(**values) if values else text

    def title(self) -> str:
        if self.category == "creditNote":
            return self.label("creditNote")
        return self.label("invoice") if self.bill_no else self.label("proForma")

    def blocks(self) -> list[_Block]:
        flow: list[_Block] = []
        own_id = self.account[0]
        groups: dict[tuple[str, str], list[_Line]] = {}
        for line in self.lines:
            groups.setdefault(line.account, []).append(line)
        grouped = len(groups) > 1 or any(key[0] != own_id for key in groups)
        for account, members in groups.items():
            if grouped:
                flow.append(self._group_header(account))
            flow.extend(self._row(line) for line in members)
            if grouped:
                total = sum((line.net for line in members), Decimal(0))
                flow.append(self._subtotal(account, total))
        flow.append(self._totals())
        for label, text in self.notes:
            flow.append(self._paragraph(self.label(label) if label else text, bold=True))
        flow.append(self._payment())
        return flow

    def _group_header(self, account: tuple[str, str]) -> _Block:
        text = account[1] if account[1] == account[0] else f"{account[1]} ({account[0]})"

        def draw(c: _Pen, y: float) -> None:
            c.setFont(_BOLD, _NAME_SIZE)
            c.setFillColor(self.accent)
            c.drawString(_MARGIN, y - 12, text)
            c.setFillColor(Color(0, 0, 0))
        return _Block(16, draw, in_table=True)

    def _subtotal(self, account: tuple[str, str], total: Decimal) -> _Block:
        text = self.label("subtotalFor", name=account[1])
        amount = self.fmt.money(total)

        def draw(c: _Pen, y: float) -> None:
            c.setStrokeColor(_RULE)
            c.line(_RATE_X - 40, y - 2, self.right, y - 2)
            c.setFont(_BOLD, _NAME_SIZE)
            c.drawRightString(_RATE_X, y - 12, text)
            c.drawRightString(self.right, y - 12, amount)
        return _Block(20, draw, in_table=True)

    def _row(self, line: _Line) -> _Block:
        names = _wrap(line.name, _FONT, _NAME_SIZE, _DESC_WIDTH, 2)
        detail = " · ".join(part for part in (
            self.fmt.period(line.period) if line.period else "", line.detail) if part)
        details = _wrap(detail, _FONT, _DETAIL_SIZE, _DESC_WIDTH, 3)
        qty = self.fmt.number(line.quantity) if line.quantity is not None else ""
        price = self.fmt.price(line.unit_price) if line.unit_price is not None else ""
        rate = " + ".join(self.fmt.percent(t.rate) for t in line.taxes) if line.taxes else ""
        amount = self.fmt.money(line.net)
        height = len(names) * _LEADING + len(details) * (_DETAIL_SIZE + 1.5) + 5

        def draw(c: _Pen, y: float) -> None:
            c.setFont(_FONT, _NAME_SIZE)
            base = y - _NAME_SIZE
            c.drawRightString(_QTY_X, base, qty)
            c.drawRightString(_PRICE_X, base, price)
            c.drawRightString(_RATE_X, base, rate)
            c.drawRightString(self.right, base, amount)
            for text in names:
                c.drawString(_MARGIN, base, text)
                base -= _LEADING
            if details:
                c.setFont(_FONT, _DETAIL_SIZE)
                c.setFillColor(_GREY)
                base += _LEADING - _NAME_SIZE - 1.5
                for text in details:
                    c.drawString(_MARGIN, base, text)
                    base -= _DETAIL_SIZE + 1.5
                c.setFillColor(Color(0, 0, 0))
        return _Block(height, draw, in_table=True)

    def _taxable(self, item: _Tax) -> Decimal:
        return sum((line.net for line in self.lines
                    if any(t.rate == item.rate and t.category == item.category
                           for t in line.taxes)), Decimal(0))

    def _totals(self) -> _Block:
        rows: list[tuple[str, str, bool]] = [
            (self.label("netTotal"), self.fmt.money(self.net), False)]
        for item in self.tax_items:
            rows.append((self.label("taxLine", rate=self.fmt.percent(item.rate),
                                    base=self.fmt.money(self._taxable(item))),
                         self.fmt.money(item.amount), False))
        rows.append((self.label("total"), self.fmt.money(self.gross), True))
        due_label = "amountCredited" if self.category == "creditNote" else "amountDue"
        rows.append((self.label(due_label), self.fmt.money(self.amount_due), True))

        def draw(c: _Pen, y: float) -> None:
            c.setStrokeColor(self.accent)
            c.setLineWidth(0.8)
            c.line(_MARGIN, y - 4, self.right, y - 4)
            base = y - 18
            for text, amount, bold in rows:
                c.setFont(_BOLD if bold else _FONT, _NAME_SIZE)
                c.drawRightString(_RATE_X, base, text)
                c.drawRightString(self.right, base, amount)
                base -= 13
        return _Block(12 + 13 * len(rows) + 8, draw)

    def _paragraph(self, text: str, bold: bool = False, size: float = 8.5) -> _Block:
        width = self.right - _MARGIN
        parts = _wrap(text, _BOLD if bold else _FONT, size, width, 8)

        def draw(c: _Pen, y: float) -> None:
            c.setFont(_BOLD if bold else _FONT, size)
            base = y - size - 2
            for part in parts:
                c.drawString(_MARGIN, base, part)
                base -= size + 2.5
        return _Block(len(parts) * (size + 2.5) + 6, draw)

    def _payment(self) -> _Block:
        texts = []
        if self.due_date is not None and self.category == "invoice" and self.amount_due > 0:
            texts.append(self.label("payBy", amount=self.fmt.money(self.amount_due),
                                    date=self.fmt.day(self.due_date)))
        if self.seller.payment_instructions:
            texts.append(f"{self.label('paymentInstructions')}: "
                         f"{self.seller.payment_instructions}")
        return self._paragraph("  ".join(texts)) if texts else _Block(0, lambda c, y: None)

    # -- fixed parts -------------------------------------------------------------------------

    def _seller_lines(self) -> list[str]:
        return [*self.seller.address, *self._vat(self.seller.vat_id)]

    def _buyer_lines(self) -> list[str]:
        lines = [*self.buyer.address]
        if self.buyer.country and self.buyer.country not in " ".join(self.buyer.address):
            lines.append(self.buyer.country)
        lines += self._vat(self.buyer.vat_id)
        if self.buyer.email:
            lines.append(self.buyer.email)
        return lines

    def _facts(self) -> list[tuple[str, str]]:
        facts: list[tuple[str, str]] = [
            (self.label("creditNoteNo" if self.category == "creditNote" else "invoiceNo"),
             self.bill_no or self.label("draft")),
            (self.label("date"), self.fmt.day(self.bill_date.date())),
        ]
        if self.corrects is not None:
            facts.append((self.label("correctsInvoice"), self.corrects[1]))
        if self.period is not None:
            facts.append((self.label("servicePeriod"), self.fmt.period(self.period, True)))
        if self.due_date is not None and self.category == "invoice":
            facts.append((self.label("dueDate"), self.fmt.day(self.due_date)))
        account_id, account_name = self.account
        if account_id:
            facts.append((self.label("account"), account_id if account_name in (
                account_id, self.buyer.name) else f"{account_name} ({account_id})"))
        return facts

    def header_bottom(self) -> float:
        """Where the first page's head ends (the line table starts below it)."""
        top = self.height - _MARGIN
        parties = top - 60 - 11 * len(self._seller_lines()) - 35 - 11 * len(
            self._buyer_lines())
        return min(parties, top - 60 - 12 * len(self._facts())) - 14

    def draw_header(self, c: _Pen) -> None:
        """The first page's head: logo, title, seller, buyer and the bill's facts."""
        top = self.height - _MARGIN
        template = self.template
        if template.logo_png:
            logo = _logo(template.logo_png)
            w, h = logo.getSize()
            scale = min(150 / w, 40 / h)
            c.drawImage(logo, _MARGIN, top - h * scale, w * scale, h * scale, mask="auto")
        else:
            c.setFont(_BOLD, 16)
            c.setFillColor(self.accent)
            c.drawString(_MARGIN, top - 16, template.logo_text or self.seller.name)
        c.setFillColor(self.accent)
        c.setFont(_BOLD, 20)
        c.drawRightString(self.right, top - 18, self.title())
        c.setFillColor(Color(0, 0, 0))
        y = top - 60
        c.setFont(_BOLD, 8.5)
        c.drawString(_MARGIN, y, self.seller.name)
        c.setFont(_FONT, 8.5)
        for text in self._seller_lines():
            y -= 11
            c.drawString(_MARGIN, y, text)
        y -= 22
        c.setFont(_FONT, 7.5)
        c.setFillColor(_GREY)
        c.drawString(_MARGIN, y, self.label("billTo"))
        c.setFillColor(Color(0, 0, 0))
        c.setFont(_BOLD, 10)
        y -= 13
        c.drawString(_MARGIN, y, self.buyer.name)
        c.setFont(_FONT, 9)
        for text in self._buyer_lines():
            y -= 11
            c.drawString(_MARGIN, y, text)
        fy = top - 60
        for key, value in self._facts():
            c.setFont(_FONT, 8.5)
            c.setFillColor(_GREY)
            c.drawString(330, fy, key)
            c.setFillColor(Color(0, 0, 0))
            c.setFont(_BOLD, 8.5)
            c.drawRightString(self.right, fy, value)
            fy -= 12

    def _vat(self, vat_id: str | None) -> list[str]:
        return [f"{self.label('vatId')}: {vat_id}"] if vat_id else []

    def draw_table_header(self, c: _Pen, y: float) -> float:
        c.setFont(_BOLD, 8)
        c.setFillColor(self.accent)
        base = y - 10
        c.drawString(_MARGIN, base, self.label("description"))
        c.drawRightString(_QTY_X, base, self.label("quantity"))
        c.drawRightString(_PRICE_X, base, self.label("unitPrice"))
        c.drawRightString(_RATE_X, base, self.label("taxRate"))
        c.drawRightString(self.right, base, self.label("amount"))
        c.setStrokeColor(self.accent)
        c.setLineWidth(0.8)
        c.line(_MARGIN, base - 4, self.right, base - 4)
        c.setFillColor(Color(0, 0, 0))
        return y - _TABLE_HEADER

    def draw_footer(self, c: _Pen, page: int, pages: int) -> None:
        c.setFont(_FONT, 7)
        c.setFillColor(_GREY)
        seller = " · ".join(part for part in (
            self.seller.name, *self._vat(self.seller.vat_id)) if part)
        c.drawString(_MARGIN, _MARGIN - 14, seller)
        if self.template.footer:
            for i, text in enumerate(_wrap(self.template.footer, _FONT, 7,
                                           self.right - _MARGIN - 80, 2)):
                c.drawString(_MARGIN, _MARGIN - 3 + 9 * (1 - i), text)
        c.drawRightString(self.right, _MARGIN - 14,
                          self.label("page", page=str(page), pages=str(pages)))
        c.setFillColor(Color(0, 0, 0))

    # -- pagination and output ---------------------------------------------------------------

    def render(self, compress: bool) -> bytes:
        flow = self.blocks()
        bottom = _MARGIN + _FOOTER_SPACE
        # first pass: which blocks go on which page
        pages: list[list[_Block]] = [[]]
        y = self.header_bottom() - _TABLE_HEADER
        for block in flow:
            if y - block.height < bottom and pages[-1]:
                pages.append([])
                y = self.height - _MARGIN - (_TABLE_HEADER if block.in_table else 0)
            pages[-1].append(block)
            y -= block.height
        # second pass: draw, knowing the page count
        buffer = io.BytesIO()
        c = Canvas(buffer, pagesize=(self.width, self.height), invariant=1,
                   pageCompression=1 if compress else 0)
        stamp = self.bill_date.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
        c.setDateFormatter(lambda *_: stamp)
        c.setTitle(f"{self.title()} {self.bill_no}".strip())
        c.setAuthor(self.seller.name)
        c.setSubject(self.bill_no or "")
        c.setCreator("openbss")
        pen = _Pen(c)
        for number, blocks in enumerate(pages, start=1):
            if number == 1:
                self.draw_header(pen)
                y = self.draw_table_header(pen, self.header_bottom())
            else:
                y = self.height - _MARGIN
                if blocks and blocks[0].in_table:
                    y = self.draw_table_header(pen, y)
            for block in blocks:
                block.draw(pen, y)
                y -= block.height
            self.draw_footer(pen, number, len(pages))
            c.showPage()
        c.save()
        return buffer.getvalue()


def render_document(bill: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], *,
                    seller: SellerSettings, buyer: Buyer, locale: str,
                    template: DocumentTemplate | None = None,
                    compress: bool = True) -> bytes:
    """The PDF of an invoice or credit note (module docstring for the rules).

    ``bill``: a TMF678 ``customerBill`` rendering; ``lines``: its
    ``appliedCustomerBillingRate`` renderings, in order; ``locale``: BCP 47 (``de-DE``).
    ``compress=False`` leaves the page streams uncompressed (tests read the text)."""
    document = _Document(bill, lines, seller=seller, buyer=buyer, locale=locale,
                         template=template or default_template())
    return document.render(compress)


#: One document to render: (bill, lines, seller, buyer, locale, template).
Item = tuple[Mapping[str, Any], Sequence[Mapping[str, Any]], SellerSettings, Buyer, str,
             "DocumentTemplate | None"]


def _render_item(item: Item) -> bytes:
    bill, lines, seller, buyer, locale, template = item
    return render_document(bill, lines, seller=seller, buyer=buyer, locale=locale,
                           template=template)


def render_pool(processes: int) -> ProcessPoolExecutor:
    """Worker processes for :func:`render_many` (started with ``spawn``: no state of the
    caller — sessions, threads — is inherited), to reuse over many calls."""
    if processes < 1:
        raise ValidationError("processes must be at least 1", field="processes")
    return ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn"))


def render_many(items: Iterable[Item], *, processes: int = 1,
                pool: ProcessPoolExecutor | None = None) -> list[bytes]:
    """Render many documents, in order: in this process, in ``pool`` (from
    :func:`render_pool`), or with ``processes > 1`` in a pool of that many started for
    this call. The bytes are the same as :func:`render_document`'s."""
    batch = list(items)
    if processes < 1:
        raise ValidationError("processes must be at least 1", field="processes")
    if pool is None and (processes == 1 or len(batch) < 2):
        return [_render_item(item) for item in batch]
    if pool is not None:  # a few tasks per worker: the pool's size is its own
        return list(pool.map(_render_item, batch, chunksize=max(1, len(batch) // 8)))
    workers = min(processes, len(batch))
    with render_pool(workers) as own:
        return list(own.map(_render_item, batch,
                            chunksize=max(1, len(batch) // (workers * 4))))
