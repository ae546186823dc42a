"""Invoice and credit-note PDFs (:mod:`openbss.billing.documents`).

The PDFs are read back with a small text extractor (below): pypdf is not a dependency, and
ReportLab's output is simple — every piece of text is one ``(…) Tj`` string in a page
stream, Flate-compressed unless ``compress=False``.

The required fields are those of Council Directive 2006/112/EC, art. 226
(https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32006L0112, art. 226 (1)–(11a),
(13)); the expected formats are CLDR's, computed with Babel in the test where they are not
the worked examples of the issue (``1.234,56 €``, ``1. März 2026`` for de-DE).
"""

from __future__ import annotations

import base64
import io
import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from openbss.billing import documents
from openbss.billing.documents import (
    LABELS,
    Buyer,
    DocumentTemplate,
    default_template,
    render_document,
    render_many,
    render_pool,
)
from openbss.billing.settings import SellerSettings
from openbss.core.errors import ValidationError

# -- reading a PDF back -------------------------------------------------------------------

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_TJ = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", re.S)


def _unescape(raw: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == 0x5C:  # backslash
            nxt = raw[i + 1:i + 2]
            if nxt.isdigit():
                digits = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8))
                i += 1 + len(digits.group())
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(nxt, nxt)
            i += 2
            continue
        out.append(byte)
        i += 1
    return bytes(out)


def page_streams(pdf: bytes) -> list[bytes]:
    streams = []
    for raw in _STREAM.findall(pdf):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    return streams


def pdf_strings(pdf: bytes) -> list[str]:
    """Every text string drawn, in drawing order."""
    return [_unescape(s).decode("cp1252") for stream in page_streams(pdf)
            for s in _TJ.findall(stream)]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_strings(pdf))


# -- inputs ---------------------------------------------------------------------------------


def money(value: Decimal | str, unit: str = "EUR") -> dict[str, str]:
    return {"unit": unit, "value": str(value)}


SELLER = SellerSettings(
    name="Nordwind Telecom GmbH", address=["Friedrichstraße 68", "10117 Berlin", "Germany"],
    country="DE", vat_id="DE811907980",
    payment_instructions="IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX")
BUYER = Buyer(name="Acme Consulting SARL", address=("12 rue de la Paix", "75002 Paris"),
              country="FR", vat_id="FR40303265045", email="billing@acme.example",
              time_zone="Europe/Berlin")

#: March 2026 in Berlin (CET, UTC+1): local midnights as UTC instants
MARCH = {"startDateTime": "2026-02-28T23:00:00Z", "endDateTime": "2026-03-31T22:00:00Z"}


def line(name: str, net: str, *, rate: str = "19", qty: str | None = "1",
         period: Mapping[str, str] | None = None, account: tuple[str, str] | None = None,
         **extra: Any) -> dict[str, Any]:
    amount = Decimal(net)
    tax = (amount * Decimal(rate) / 100).quantize(Decimal("0.01"))
    out: dict[str, Any] = {
        "type": "recurring", "name": name, "periodCoverage": dict(period or MARCH),
        "taxExcludedAmount": money(amount), "taxIncludedAmount": money(amount + tax),
        "appliedTax": [{"taxCategory": "standard", "taxRate": rate, "taxAmount": money(tax)}],
        "product": {"id": "p-" + name[:8], "name": name}, **extra}
    if qty is not None:
        out["quantity"] = qty
    if account is not None:
        out["billedAccount"] = {"id": account[0], "name": account[1]}
    return out


def bill_for(lines: Sequence[Mapping[str, Any]], **extra: Any) -> dict[str, Any]:
    """A customerBill whose totals are the lines' (taxItem per rate)."""
    net = sum((Decimal(x["taxExcludedAmount"]["value"]) for x in lines), Decimal(0))
    per_rate: dict[str, Decimal] = {}
    for x in lines:
        for tax in x["appliedTax"]:
            per_rate[tax["taxRate"]] = (per_rate.get(tax["taxRate"], Decimal(0))
                                        + Decimal(tax["taxAmount"]["value"]))
    gross = net + sum(per_rate.values(), Decimal(0))
    bill: dict[str, Any] = {
        "id": "b-1", "billNo": "INV-2026-000123", "billDate": "2026-03-31T22:00:00Z",
        "billingPeriod": dict(MARCH), "paymentDueDate": "2026-04-14T22:00:00Z",
        "amountDue": money(gross), "remainingAmount": money(gross),
        "taxExcludedAmount": money(net), "taxIncludedAmount": money(gross),
        "taxItem": [{"taxCategory": "standard", "taxRate": rate, "taxAmount": money(amount)}
                    for rate, amount in per_rate.items()],
        "category": "invoice", "billingAccount": {"id": "acc-42", "name": BUYER.name}}
    bill.update(extra)
    return bill


LINES = [line("Business fibre 1000", "1234.56"),
         line("Static IPv4 address", "5.00", qty="2"),
         line("Router rental", "3.10", rate="7")]


def render(bill: Mapping[str, Any] | None = None, lines: Sequence[Mapping[str, Any]] = LINES,
           *, locale: str = "en-GB", buyer: Buyer = BUYER, seller: SellerSettings = SELLER,
           template: DocumentTemplate | None = None, compress: bool = False) -> bytes:
    pdf: bytes = render_document(bill or bill_for(lines), lines, seller=seller, buyer=buyer,
                                 locale=locale, template=template, compress=compress)
    return pdf


# -- the document ---------------------------------------------------------------------------


def test_a_rendered_invoice_is_a_pdf_with_every_legally_required_field() -> None:
    pdf = render(locale="en-GB")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    text = pdf_text(pdf)
    # (5) seller and buyer: names, addresses, VAT ids — (3) VAT id of the supplier and (4)
    # of the customer under reverse charge
    for part in [SELLER.name, *SELLER.address, "DE811907980",
                 BUYER.name, *BUYER.address, "FR40303265045"]:
        assert part in text, part
    # (1) date of issue, (2) the sequential number, (7) the date of supply (the period)
    assert "INV-2026-000123" in text
    assert "1 April 2026" in text  # 2026-03-31T22:00Z is 1 April in Berlin
    assert "1 – 31 Mar 2026" in text  # the bill's service period, end exclusive
    # (6) quantity and nature, (8) taxable amount per rate, unit price, (9) the rate
    strings = pdf_strings(pdf)
    for name in ("Business fibre 1000", "Static IPv4 address", "Router rental"):
        assert name in strings
    assert "2" in strings and "€2.50" in strings  # quantity 2 at a derived unit price
    assert "19%" in strings and "7%" in strings
    # (10) VAT payable, broken down per rate, each on its taxable amount
    assert "VAT 19% on €1,239.56" in strings
    assert "VAT 7% on €3.10" in strings
    assert "€235.52" in strings  # 19 % of 1,239.56 = 235.5164 -> 234.57 + 0.95 per line
    # the totals as given, the due date and the payment instructions
    bill = bill_for(LINES)
    assert format_currency(Decimal(bill["taxIncludedAmount"]["value"]), "EUR",
                           locale="en_GB") in strings
    assert "15 April 2026" in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert strings.count("Invoice") == 1  # the title


def test_tax_per_rate_is_the_sum_of_the_lines_tax() -> None:
    bill = bill_for(LINES)
    by_rate = {t["taxRate"]: Decimal(t["taxAmount"]["value"]) for t in bill["taxItem"]}
    # 1234.56 * 0.19 = 234.5664 -> 234.57; 5.00 * 0.19 = 0.95; 3.10 * 0.07 = 0.217 -> 0.22
    assert by_rate == {"19": Decimal("235.52"), "7": Decimal("0.22")}
    strings = pdf_strings(render(bill))
    assert "€235.52" in strings and "€0.22" in strings


def test_de_de_formats_amounts_dates_and_percentages_the_german_way() -> None:
    text = pdf_text(render(locale="de-DE"))
    assert "1.234,56\xa0€" in text  # the example (with a no-break space)
    assert "1. April 2026" in text and "15. April 2026" in text
    assert "1.–31. März 2026" in text
    assert "Rechnung" in text and "Rechnungsnr." in text and "USt-IdNr.: DE811907980" in text
    assert "19\xa0%" in text and "7\xa0%" in text
    assert "Bitte zahlen Sie" in text


@pytest.mark.parametrize(("locale", "title", "amount"), [
    ("en-US", "Invoice", "€1,234.56"),
    ("de-AT", "Rechnung", "€\xa01.234,56"),
    ("fr-FR", "Facture", "1\xa0234,56\xa0€"),
    ("es-ES", "Factura", "1.234,56\xa0€"),
    ("it-IT", "Fattura", "1.234,56\xa0€"),
    ("nl-NL", "Factuur", "€\xa01.234,56"),
])
def test_each_language_has_its_labels_and_babel_formats(locale: str, title: str,
                                                         amount: str) -> None:
    from babel import Locale
    # CLDR's rendering, its narrow no-break space (outside WinAnsi) printed as a no-break one
    expected = format_currency(Decimal("1234.56"), "EUR", locale=Locale.parse(locale, sep="-"))
    assert expected.replace("\u202f", "\xa0") == amount
    strings = pdf_strings(render(locale=locale))
    assert title in strings
    assert amount in strings


def test_every_language_translates_every_label() -> None:
    for lang, labels in LABELS.items():
        assert set(labels) == set(LABELS["en"]), lang
        for key, text in labels.items():
            assert re.findall(r"{(\w+)}", text) == re.findall(r"{(\w+)}", LABELS["en"][key])


@pytest.mark.parametrize("locale", ["xx-YY", "", "not a locale!", "zz", "en_GB", "pt-BR"])
def test_an_unknown_or_unsupported_locale_falls_back_to_english(locale: str) -> None:
    strings = pdf_strings(render(locale=locale))
    assert "Invoice" in strings and "Total incl. VAT" in strings


def test_a_credit_note_is_titled_so_and_names_the_invoice_it_corrects() -> None:
    lines = [line("Business fibre 1000", "-100.00")]
    bill = bill_for(lines, category="creditNote", billNo="CN-2026-000007",
                    correctsBill={"id": "b-1", "billNo": "INV-2026-000123"})
    strings = pdf_strings(render(bill, lines))
    assert "Credit note" in strings and "Invoice" not in strings
    assert "Credit note no." in strings and "CN-2026-000007" in strings
    assert "Corrects invoice" in strings and "INV-2026-000123" in strings
    assert "Amount credited" in strings and "-€119.00" in strings
    assert not any(s.startswith("Please pay") for s in strings)
    de = pdf_strings(render(bill, lines, locale="de-DE"))
    assert "Gutschrift" in de and "Korrigiert Rechnung" in de


def test_reverse_charge_wording_is_printed_in_the_bills_language() -> None:
    lines = [line("Business fibre 1000", "1234.56", rate="0")]
    note = [{"key": "reverseCharge", "text": "Reverse charge"}]
    bill = bill_for(lines, note=note)
    en = pdf_text(render(bill, lines))
    assert "Reverse charge: VAT to be accounted for by the recipient" in en
    assert "Article 196" in en and "2006/112/EC" in en
    fr = pdf_text(render(bill, lines, locale="fr-FR"))
    assert "Autoliquidation" in fr
    de = pdf_text(render(bill, lines, locale="de-DE"))
    assert "Steuerschuldnerschaft des Leistungsempfängers" in de


def test_a_note_without_a_known_key_is_printed_as_given() -> None:
    bill = bill_for(LINES, note=[{"text": "Exempt under §4 Nr. 11b UStG"},
                                 {"key": "something-else", "text": "Custom wording"}])
    text = pdf_text(render(bill))
    assert "Exempt under §4 Nr. 11b UStG" in text and "Custom wording" in text


def test_children_paid_by_the_parent_are_grouped_with_a_subtotal_each() -> None:
    lines = [line("Parent plan", "50.00"),
             line("Child A mobile", "10.00", account=("acc-a", "Child A")),
             line("Child B mobile", "7.25", account=("acc-b", "Child B")),
             line("Child A roaming", "3.33", account=("acc-a", "Child A"))]
    strings = pdf_strings(render(bill_for(lines), lines))

    def subtotal(name: str) -> str:
        at = strings.index(f"Subtotal {name}")
        return strings[at + 1]

    expected = {"Child A": Decimal("13.33"), "Child B": Decimal("7.25"),
                BUYER.name: Decimal("50.00")}
    for name, amount in expected.items():
        # the sum of that account's lines, computed from the inputs
        total = sum((Decimal(x["taxExcludedAmount"]["value"]) for x in lines
                     if x.get("billedAccount", {"name": BUYER.name})["name"] == name),
                    Decimal(0))
        assert total == amount
        assert subtotal(name) == format_currency(total, "EUR", locale="en_GB")
    # each child's lines sit under its heading, before its subtotal
    heading_a = strings.index("Child A (acc-a)")
    assert heading_a < strings.index("Child A roaming") < strings.index("Subtotal Child A")
    assert strings.index("Subtotal Child A") < strings.index("Child B (acc-b)")


def test_lines_of_the_bills_own_account_only_are_not_grouped() -> None:
    strings = pdf_strings(render())
    assert not any(s.startswith("Subtotal") for s in strings)


# -- determinism ------------------------------------------------------------------------------


def test_the_same_inputs_give_byte_identical_pdfs() -> None:
    first = render(compress=True)
    assert render(compress=True) == first
    assert render_many([(bill_for(LINES), LINES, SELLER, BUYER, "en-GB", None)] * 3,
                       processes=2) == [first] * 3
    assert b"(D:20260331220000+00'00')" in first


def test_the_creation_date_is_the_bill_date_not_the_clock() -> None:
    later = render(bill_for(LINES, billDate="2026-04-30T22:00:00Z"), compress=True)
    assert b"D:20260430220000+00'00'" in later
    assert later != render(compress=True)


def test_render_many_keeps_the_order_and_the_bytes_of_render_document() -> None:
    items = [(bill_for(LINES, billNo=f"INV-2026-{k:06d}"), LINES, SELLER, BUYER, "de-DE",
              None) for k in range(5)]
    alone = [render_document(b, ls, seller=s, buyer=by, locale=loc, template=t)
             for b, ls, s, by, loc, t in items]
    assert render_many(items) == alone
    assert render_many(items, processes=2) == alone
    with render_pool(2) as pool:  # one pool over several calls (a bill run's chunks)
        assert render_many(items[:2], pool=pool) + render_many(items[2:], pool=pool) == alone
    with pytest.raises(ValidationError) as caught:
        render_many(items, processes=0)
    assert caught.value.field == "processes"


# -- templates --------------------------------------------------------------------------------


def _png(width: int = 60, height: int = 20) -> str:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_templates_label_override_footer_logo_text_and_colour_show() -> None:
    template = DocumentTemplate.model_validate({
        "name": "nordwind", "accentColour": "#AA3300", "logoText": "NORDWIND",
        "labels": {"de": {"invoice": "Ihre Rechnung"}, "de-AT": {"dueDate": "Zahlbar bis"}},
        "footer": "Nordwind Telecom GmbH · HRB 123456 B · Geschäftsführer: K. Meier"})
    de = pdf_strings(render(locale="de-DE", template=template))
    assert "Ihre Rechnung" in de and "Rechnung" not in de
    assert "NORDWIND" in de
    assert "Nordwind Telecom GmbH · HRB 123456 B · Geschäftsführer: K. Meier" in de
    assert "Fällig am" in de  # the de-AT override is not de-DE's
    at = pdf_strings(render(locale="de-AT", template=template))
    assert "Zahlbar bis" in at and "Ihre Rechnung" in at
    page = b"".join(page_streams(render(locale="de-DE", template=template)))
    assert b"0.667 0.200 0.000 rg" in page  # #AA3300


def test_a_png_logo_is_embedded() -> None:
    template = DocumentTemplate(logo_png=_png())
    pdf = render(template=template)
    assert b"/Subtype /Image" in pdf
    assert render(template=template) == pdf


def test_letter_page_size() -> None:
    pdf = render(template=DocumentTemplate(page_size="Letter"))
    assert b"/MediaBox [ 0 0 612 792 ]" in pdf
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in render()


@pytest.mark.parametrize(("body", "where"), [
    ({"labels": {"de": {"nope": "x"}}}, "labels"),
    ({"labels": {"German": {"invoice": "x"}}}, "labels"),
    ({"accentColour": "red"}, "accentColour"),
    ({"logoPng": "not base64!"}, "logoPng"),
    ({"logoPng": base64.b64encode(b"GIF89a....").decode()}, "logoPng"),
    ({"logoPng": base64.b64encode(b"\x89PNG\r\n\x1a\nbroken").decode()}, "logoPng"),
    ({"pageSize": "A3"}, "pageSize"),
    ({"colour": "#000000"}, "colour"),
])
def test_a_bad_template_is_refused_naming_the_field(body: dict[str, Any], where: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        DocumentTemplate.model_validate(body)
    assert caught.value.errors()[0]["loc"][0] == where


def test_the_default_template_round_trips_as_settings_json() -> None:
    view = default_template().model_dump(mode="json", by_alias=True)
    assert set(view) == {"name", "accentColour", "logoText", "logoPng", "labels", "footer",
                         "pageSize"}
    assert DocumentTemplate.model_validate(view) == default_template()


def test_read_template_reads_the_tenant_settings_group(tenant: Any) -> None:
    from openbss.core import tenant_settings
    from openbss.core.context import Context
    from openbss.core.db import unit_of_work
    from openbss.core.models import Tenant

    with unit_of_work() as session:
        row = session.get(Tenant, tenant.id)
        assert row is not None
        ctx = Context(session=session, tenant=row, actor="test", role="admin",
                      now=datetime(2026, 3, 1, tzinfo=UTC))
        assert documents.read_template(ctx) == default_template()
        tenant_settings.update(ctx, documents.TEMPLATE_GROUP, DocumentTemplate,
                               {"footer": "Thank you", "labels": {"en": {"total": "Grand total"}}})
        template = documents.read_template(ctx)
        assert template.footer == "Thank you"
        strings = pdf_strings(render(template=template))
        assert "Grand total" in strings and "Thank you" in strings
        session.rollback()


# -- time zones, periods, pages ---------------------------------------------------------------


def test_dates_are_the_buyers_local_days_and_a_periods_end_is_exclusive() -> None:
    utc_buyer = Buyer(name="UTC Ltd", time_zone="UTC")
    lines = [line("Plan", "10.00", period={"startDateTime": "2026-03-01T00:00:00Z",
                                           "endDateTime": "2026-04-01T00:00:00Z"})]
    bill = bill_for(lines, billDate="2026-04-01T00:00:00Z",
                    billingPeriod={"startDateTime": "2026-03-01T00:00:00Z",
                                   "endDateTime": "2026-04-01T00:00:00Z"})
    text = pdf_text(render(bill, lines, buyer=utc_buyer))
    assert "1 – 31 Mar 2026" in text and "01/03/2026 – 31/03/2026" in text
    # the same instants in New York are 28 Feb 19:00 to 31 Mar 20:00 local
    ny = pdf_text(render(bill, lines, buyer=Buyer(name="NY", time_zone="America/New_York")))
    assert "28 Feb – 31 Mar 2026" in ny


def test_a_long_invoice_continues_on_numbered_pages_with_the_table_header() -> None:
    lines = [line(f"Line {k}", "1.00") for k in range(80)]
    strings = pdf_strings(render(bill_for(lines), lines))
    pages = [s for s in strings if s.startswith("Page ")]
    assert len(pages) >= 3
    assert pages == [f"Page {k} of {len(pages)}" for k in range(1, len(pages) + 1)]
    assert strings.count("Description") == len(pages)
    assert all(f"Line {k}" in strings for k in range(80))


def test_a_pro_forma_bill_without_a_number_says_so() -> None:
    bill = bill_for(LINES)
    del bill["billNo"]
    strings = pdf_strings(render(bill))
    assert "Pro forma invoice" in strings and "not issued" in strings


def test_text_outside_winansi_is_drawn_without_error() -> None:
    buyer = Buyer(name="Łukasz Wałęsa", address=("ul. Świętokrzyska 1", "00-001 Warszawa"),
                  time_zone="Europe/Warsaw")
    pdf = render(buyer=buyer, lines=[line("Usługa ŻÓŁW", "9.99")])
    assert pdf.startswith(b"%PDF-")


# -- bad input --------------------------------------------------------------------------------


def _bad(mutate: Any) -> ValidationError:
    bill = bill_for(LINES)
    lines = [dict(x) for x in LINES]
    mutate(bill, lines)
    with pytest.raises(ValidationError) as caught:
        render(bill, lines)
    return caught.value


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b, ls: b.update(billDate=None), "billDate"),
    (lambda b, ls: b.update(billDate="yesterday"), "billDate"),
    (lambda b, ls: b.update(billDate="2026-03-01T00:00:00"), "billDate"),
    (lambda b, ls: b.update(amountDue={"unit": "EUR", "value": 1.5}), "amountDue.value"),
    (lambda b, ls: b.update(amountDue={"unit": "euro", "value": "1"}), "amountDue.unit"),
    (lambda b, ls: b.update(amountDue={"unit": "XYZ", "value": "1"}), "amountDue.unit"),
    (lambda b, ls: b.update(taxExcludedAmount={"unit": "USD", "value": "1"}),
     "taxExcludedAmount.unit"),
    (lambda b, ls: b.update(category="receipt"), "category"),
    (lambda b, ls: b.update(note="see overleaf"), "note"),
    (lambda b, ls: b.update(billingPeriod={"startDateTime": "2026-03-02T00:00:00Z",
                                           "endDateTime": "2026-03-01T00:00:00Z"}),
     "billingPeriod.endDateTime"),
    (lambda b, ls: ls[1].update(taxExcludedAmount={"unit": "USD", "value": "1"}),
     "lines[1].taxExcludedAmount.unit"),
    (lambda b, ls: ls[0].update(quantity="many"), "lines[0].quantity"),
    (lambda b, ls: ls[0].update(quantity="NaN"), "lines[0].quantity"),
    (lambda b, ls: ls[2].update(appliedTax=[{"taxRate": "x"}]), "lines[2].appliedTax[0].taxRate"),
    (lambda b, ls: ls[0].update(billedAccount={"name": "no id"}), "lines[0].billedAccount.id"),
    (lambda b, ls: ls[0].update(periodCoverage={"startDateTime": 7}),
     "lines[0].periodCoverage.startDateTime"),
])
def test_bad_input_is_a_validation_error_naming_the_field(mutate: Any, field: str) -> None:
    assert _bad(mutate).field == field


def test_an_unknown_time_zone_names_the_buyers_field() -> None:
    with pytest.raises(ValidationError) as caught:
        render(buyer=Buyer(name="X", time_zone="Mars/Olympus"))
    assert caught.value.field == "buyer.time_zone"


# -- properties -------------------------------------------------------------------------------

_names = st.text(alphabet=st.characters(codec="cp1252", exclude_categories=("Cc", "Cs", "Zl",
                                                                            "Zp")),
                 min_size=1, max_size=60).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=60, deadline=None)
@given(names=st.lists(_names, min_size=1, max_size=6, unique=True),
       cents=st.lists(st.integers(-10**9, 10**9), min_size=6, max_size=6))
def test_any_line_names_and_amounts_render_and_read_back(names: list[str],
                                                         cents: list[int]) -> None:
    lines = [line(f"{name}", str(Decimal(c).scaleb(-2))) for name, c in zip(names, cents,
                                                                            strict=False)]
    strings = pdf_strings(render(bill_for(lines), lines))
    joined = "".join(strings).replace(" ", "")
    for x in lines:  # a long name wraps at a space: compare without spaces
        assert x["name"].replace(" ", "") in joined
        amount = Decimal(x["taxExcludedAmount"]["value"])
        assert format_currency(amount, "EUR", locale="en_GB") in strings


@given(st.text(alphabet=st.characters(codec="cp1252"), max_size=80))
def test_pdf_string_literals_read_back_exactly(text: str) -> None:
    literal = documents._pdf_string(text)
    assert literal is not None
    assert _unescape(literal[1:-1].encode("latin-1")).decode("cp1252") == text


@settings(max_examples=300)
@given(tag=st.sampled_from(["de-DE", "en-GB", "en-US", "fr-FR", "es-ES", "it-IT", "nl-NL",
                            "en-IN", "de-CH", "ar-EG", "ja-JP"]),
       currency=st.sampled_from(["EUR", "USD", "JPY", "KWD", "CHF", "INR"]),
       units=st.integers(-10**15, 10**15))
def test_the_fast_money_format_is_babels(tag: str, currency: str, units: int) -> None:
    from babel import Locale

    from openbss.core.money import currency_exponent
    locale = Locale.parse(tag, sep="-")
    value = Decimal(units).scaleb(-currency_exponent(currency))
    expected = format_currency(value, currency, locale=locale).translate(documents._TYPOGRAPHY)
    assert documents._fmt_money(value, currency, locale) == expected


@settings(max_examples=300)
@given(tag=st.sampled_from(["de-DE", "en-GB", "fr-FR", "es-ES", "it-IT", "nl-NL", "en-IN"]),
       currency=st.sampled_from(["EUR", "USD", "JPY", "KWD"]),
       units=st.integers(-10**12, 10**12), extra=st.integers(0, 6))
def test_the_fast_unit_price_format_is_babels(tag: str, currency: str, units: int,
                                              extra: int) -> None:
    from babel import Locale

    from openbss.core.money import currency_exponent
    locale = Locale.parse(tag, sep="-")
    value = Decimal(units).scaleb(-currency_exponent(currency) - extra)
    expected = format_currency(value, currency, locale=locale,
                               decimal_quantization=False).translate(documents._TYPOGRAPHY)
    assert documents._fmt_price(value, currency, locale) == expected


def test_a_cached_amount_keeps_its_own_form() -> None:
    """Equal Decimals of other signs or digits (-0.000 == 0.00) are equal cache keys:
    each amount is still formatted as Babel formats it, except that a zero is never
    shown with a minus sign (Babel writes -0,00 €)."""
    from babel import Locale

    locale = Locale.parse("de-DE", sep="-")
    for value in (Decimal("-0.000"), Decimal("0.00"), Decimal("-0.00"), Decimal("1.0"),
                  Decimal("1.00"), Decimal("1.005"), Decimal("-0.001")):
        shown = documents._fmt_money(value, "EUR", locale)
        assert shown == format_currency(value if value else abs(value), "EUR",
                                        locale=locale).translate(documents._TYPOGRAPHY)
        assert not shown.startswith("-0,00") or value < 0, value
    assert documents._fmt_money(Decimal("-0.00"), "EUR", locale) == "0,00\xa0€"
