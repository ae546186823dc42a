"""``POST /api/v1/pricing/preview`` through HTTP: worked examples of every charge model,
rounding to the currency's minor unit, and every error path (TMF Error bodies naming the
field)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from openbss.core.auth import ROLES

URL = "/api/v1/pricing/preview"
POP_URL = "/tmf-api/productCatalogManagement/v4/productOfferingPrice"
ERROR_KEYS = {"code", "reason", "message", "status", "referenceError"}

GRADUATED_TIERS = [
    {"upTo": "10", "unitPrice": "10", "flatFee": "2"},
    {"upTo": "20", "unitPrice": "5", "flatFee": "3"},
    {"upTo": None, "unitPrice": "5", "flatFee": "3"},
]


def preview(client, tenant, body: dict[str, Any], role: str = "admin"):
    return client.post(URL, json=body, headers=tenant.headers(role))


def ok(client, tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = preview(client, tenant, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert set(result) == {"amount", "roundedAmount", "currency", "lines"}
    assert all(isinstance(result[k], str) for k in ("amount", "roundedAmount", "currency"))
    return result


def assert_error(response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert ERROR_KEYS <= body.keys(), body
    assert body["status"] == str(status)
    if field is not None:
        assert body.get("field") == field, body
    return body


# -- worked examples, one per charge model ----------------------------------------------------


def test_standard(client, tenant):
    result = ok(client, tenant, {"currency": "EUR", "quantity": "150",
                                 "chargeModel": {"type": "standard", "unitPrice": "5.12345"}})
    assert result["amount"] == "768.51750"
    assert result["roundedAmount"] == "768.52"
    assert result["currency"] == "EUR"
    [line] = result["lines"]
    assert line["kind"] == "units"
    assert line["units"] == "150" and line["unitPrice"] == "5.12345"
    assert line["amount"] == "768.51750"


def test_graduated_lago_example(client, tenant):
    # Lago graduated spec: 0-10 @10 +2, 11-20 @5 +3, 21-inf @5 +3; 11 units = 102 + 8 = 110.
    model = {"type": "graduated", "tiers": GRADUATED_TIERS}
    result = ok(client, tenant, {"currency": "EUR", "quantity": "11", "chargeModel": model})
    assert result["amount"] == "110"
    assert result["roundedAmount"] == "110.00"
    tiers = result["lines"]
    assert [t["tier"] for t in tiers] == [0, 1]
    expected = {"kind": "tier", "from": "0", "to": "10", "units": "10", "unitPrice": "10",
                "flatFee": "2", "amount": "102"}
    assert {key: tiers[0][key] for key in expected} == expected
    assert (tiers[1]["from"], tiers[1]["to"], tiers[1]["units"], tiers[1]["amount"]) == (
        "10", "20", "1", "8")
    # Into the unbounded tier: 10*10+2 + 10*5+3 + 5*5+3 = 183; the last line says to = null.
    result = ok(client, tenant, {"currency": "EUR", "quantity": "25", "chargeModel": model})
    assert result["amount"] == "183"
    assert result["lines"][-1]["to"] is None
    # zero units pay the first tier's flat fee (Lago, "when aggregation is 0")
    assert ok(client, tenant, {"currency": "EUR", "quantity": "0",
                               "chargeModel": model})["amount"] == "2"


def test_volume(client, tenant):
    model = {"type": "volume", "tiers": [
        {"upTo": "100", "unitPrice": "2", "flatFee": "1"},
        {"upTo": None, "unitPrice": "1", "flatFee": "0"},
    ]}
    # 100 is in tier 0 (bounds inclusive): all 100 units at 2 + 1.
    result = ok(client, tenant, {"currency": "EUR", "quantity": "100", "chargeModel": model})
    assert result["amount"] == "201"
    [line] = result["lines"]
    assert (line["tier"], line["units"], line["unitPrice"]) == (0, "100", "2")
    # 101 reaches tier 1: all 101 units at 1.
    result = ok(client, tenant, {"currency": "EUR", "quantity": "101", "chargeModel": model})
    assert result["amount"] == "101"
    assert result["lines"][0]["tier"] == 1


def test_package(client, tenant):
    model = {"type": "package", "packageSize": "10", "packagePrice": "100", "freeUnits": "5"}
    # 26 - 5 free = 21 units -> 3 started packages of 10.
    result = ok(client, tenant, {"currency": "EUR", "quantity": "26", "chargeModel": model})
    assert result["amount"] == "300"
    [line] = result["lines"]
    assert line["packages"] == 3 and line["paidUnits"] == "21" and line["freeUnits"] == "5"
    # Free units above the quantity give 0.
    assert ok(client, tenant, {"currency": "EUR", "quantity": "4",
                               "chargeModel": model})["amount"] == "0"


def test_percentage(client, tenant):
    # 1.3% of 400 = 5.2, plus a fixed fee of 0.5 on each of 3 transactions = 6.7.
    model = {"type": "percentage", "rate": "1.3", "fixedFee": "0.5"}
    result = ok(client, tenant, {"currency": "EUR", "events": ["50", "100", "250"],
                                 "chargeModel": model})
    assert D(result["amount"]) == D("6.7")
    assert result["roundedAmount"] == "6.70"
    kinds = {line["kind"]: line for line in result["lines"]}
    assert D(kinds["percentage"]["amount"]) == D("5.2")
    assert D(kinds["fixed_fee"]["amount"]) == D("1.5") and kinds["fixed_fee"]["paidEvents"] == 3
    # The first transaction free: 1.3% of 350 = 4.55 + 2 fees = 5.55.
    result = ok(client, tenant, {"currency": "EUR", "events": ["50", "100", "250"],
                                 "chargeModel": {**model, "freeEvents": 1}})
    assert D(result["amount"]) == D("5.55")
    # Min / max per transaction: 0.65 -> 1.75, 1.3 -> 1.75, 3.25 -> 3 = 6.5.
    clamp = {"type": "percentage", "rate": "1.3", "minPerTransaction": "1.75",
             "maxPerTransaction": "3"}
    result = ok(client, tenant, {"currency": "EUR", "events": ["50", "100", "250"],
                                 "chargeModel": clamp})
    assert D(result["amount"]) == D("6.5")
    adjustment = result["lines"][-1]
    assert adjustment["kind"] == "min_max_adjustment"
    assert (adjustment["raisedToMin"], adjustment["cappedAtMax"]) == (2, 1)


def test_graduated_percentage(client, tenant):
    # 1% of the first 10 + 200, 2% of the other 990 + 300 = 0.1 + 200 + 19.8 + 300 = 519.9.
    model = {"type": "graduated_percentage", "tiers": [
        {"upTo": "10", "rate": "1", "flatFee": "200"},
        {"upTo": None, "rate": "2", "flatFee": "300"},
    ]}
    result = ok(client, tenant, {"currency": "EUR", "quantity": "1000", "chargeModel": model})
    assert D(result["amount"]) == D("519.9")
    assert result["roundedAmount"] == "519.90"
    assert [D(line["amount"]) for line in result["lines"]] == [D("200.1"), D("319.8")]


def test_json_numbers_are_accepted(client, tenant):
    result = ok(client, tenant, {"currency": "EUR", "quantity": 3,
                                 "chargeModel": {"type": "standard", "unitPrice": 1.25}})
    assert result["amount"] == "3.75"
    result = ok(client, tenant, {"currency": "EUR", "events": [100, 50.5],
                                 "chargeModel": {"type": "percentage", "rate": 2}})
    assert D(result["amount"]) == D("3.01")


def test_tiny_unit_prices_stay_exact(client, tenant):
    result = ok(client, tenant, {"currency": "EUR", "quantity": "3",
                                 "chargeModel": {"type": "standard", "unitPrice": "0.00000001"}})
    assert result["amount"] == "0.00000003"
    assert result["roundedAmount"] == "0.00"


# -- rounding to the currency's minor unit ------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "unit_price", "quantity", "amount", "rounded"),
    [
        ("EUR", "0.125", "1", "0.125", "0.13"),  # half up (half even would give 0.12)
        ("EUR", "0.124", "1", "0.124", "0.12"),
        ("JPY", "2.5", "1", "2.5", "3"),  # 0 decimals, half up (half even: 2)
        ("JPY", "0.5", "3", "1.5", "2"),
        ("JPY", "100", "3", "300", "300"),
        ("BHD", "0.0025", "1", "0.0025", "0.003"),  # 3 decimals, half up (half even: 0.002)
        ("BHD", "0.0005", "3", "0.0015", "0.002"),
        ("USD", "1", "0", "0", "0.00"),
    ],
)
def test_rounding_to_the_currency(client, tenant, currency, unit_price, quantity, amount,
                                  rounded):
    result = ok(client, tenant, {"currency": currency, "quantity": quantity,
                                 "chargeModel": {"type": "standard", "unitPrice": unit_price}})
    assert (result["amount"], result["roundedAmount"], result["currency"]) == (
        amount, rounded, currency)


# -- every role may preview; anonymous may not ----------------------------------------------


def test_any_authenticated_role_may_preview(client, tenant):
    body = {"currency": "EUR", "quantity": "2",
            "chargeModel": {"type": "standard", "unitPrice": "1"}}
    for role in ROLES:
        response = preview(client, tenant, body, role=role)
        assert response.status_code == 200, (role, response.text)
    assert_error(client.post(URL, json=body), 401)


def test_preview_is_in_the_openapi_document(client):
    assert URL in client.get("/openapi.json").json()["paths"]


# -- invalid charge models name chargeModel.<parameter> ------------------------------------------


@pytest.mark.parametrize(
    ("model", "field"),
    [
        # unordered tiers
        ({"type": "graduated", "tiers": [{"upTo": "10", "unitPrice": "1"},
                                         {"upTo": "5", "unitPrice": "1"},
                                         {"upTo": None, "unitPrice": "1"}]},
         "chargeModel.tiers[1].upTo"),
        # overlapping tiers (same bound twice)
        ({"type": "volume", "tiers": [{"upTo": "10", "unitPrice": "1"},
                                      {"upTo": "10", "unitPrice": "1"},
                                      {"upTo": None, "unitPrice": "1"}]},
         "chargeModel.tiers[1].upTo"),
        # a bounded last tier
        ({"type": "graduated", "tiers": [{"upTo": "10", "unitPrice": "1"},
                                         {"upTo": "20", "unitPrice": "1"}]},
         "chargeModel.tiers[1].upTo"),
        # an unbounded tier before the last
        ({"type": "graduated_percentage", "tiers": [{"upTo": None, "rate": "1"},
                                                    {"upTo": None, "rate": "1"}]},
         "chargeModel.tiers[0].upTo"),
        # negative prices
        ({"type": "standard", "unitPrice": "-1"}, "chargeModel.unitPrice"),
        ({"type": "graduated", "tiers": [{"upTo": None, "unitPrice": "-0.01"}]},
         "chargeModel.tiers[0].unitPrice"),
        ({"type": "volume", "tiers": [{"upTo": None, "unitPrice": "1", "flatFee": "-2"}]},
         "chargeModel.tiers[0].flatFee"),
        ({"type": "package", "packageSize": "10", "packagePrice": "-100"},
         "chargeModel.packagePrice"),
        ({"type": "package", "packageSize": "0", "packagePrice": "100"},
         "chargeModel.packageSize"),
        ({"type": "percentage", "rate": "1", "fixedFee": "-1"}, "chargeModel.fixedFee"),
        ({"type": "percentage", "rate": "1", "minPerTransaction": "5",
          "maxPerTransaction": "1"}, "chargeModel.maxPerTransaction"),
        # unknown type, missing type, unknown parameter, missing parameter, not a number
        ({"type": "tiered", "unitPrice": "1"}, "chargeModel.type"),
        ({"unitPrice": "1"}, "chargeModel.type"),
        ({"type": "standard", "unitPrice": "1", "colour": "red"}, "chargeModel.colour"),
        ({"type": "graduated", "tiers": [{"upTo": None, "unitPrice": "1", "x": 1}]},
         "chargeModel.tiers[0].x"),
        ({"type": "standard"}, "chargeModel.unitPrice"),
        ({"type": "standard", "unitPrice": "abc"}, "chargeModel.unitPrice"),
    ],
)
def test_invalid_charge_model_names_the_parameter(client, tenant, model, field):
    response = preview(client, tenant, {"currency": "EUR", "quantity": "1", "chargeModel": model})
    body = assert_error(response, 422, field)
    assert body["code"] == "invalid_value"
    assert field in body["message"] or "chargeModel" in body["message"]
    assert body["details"] and all(d["field"].startswith("chargeModel") for d in body["details"])


def test_charge_model_must_be_an_object(client, tenant):
    response = preview(client, tenant, {"currency": "EUR", "quantity": "1", "chargeModel": "x"})
    assert_error(response, 422, "chargeModel")


# -- currency, model source, quantity / events ----------------------------------------------------


STANDARD = {"type": "standard", "unitPrice": "1"}
PERCENTAGE = {"type": "percentage", "rate": "1"}


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", ""])
def test_unknown_currency(client, tenant, currency):
    response = preview(client, tenant, {"currency": currency, "quantity": "1",
                                        "chargeModel": STANDARD})
    assert_error(response, 422, "currency")


def test_currency_is_required_with_an_inline_model(client, tenant):
    assert_error(preview(client, tenant, {"quantity": "1", "chargeModel": STANDARD}),
                 422, "currency")


def test_both_or_neither_model_source(client, tenant):
    neither = preview(client, tenant, {"currency": "EUR", "quantity": "1"})
    assert_error(neither, 422, "chargeModel")
    both = preview(client, tenant, {"currency": "EUR", "quantity": "1", "chargeModel": STANDARD,
                                    "productOfferingPrice": {"id": "x"}})
    body = assert_error(both, 422, "productOfferingPrice")
    assert "chargeModel" in body["message"]
    null = preview(client, tenant, {"currency": "EUR", "quantity": "1", "chargeModel": None})
    assert_error(null, 422, "chargeModel")


def test_quantity_with_a_percentage_model(client, tenant):
    response = preview(client, tenant, {"currency": "EUR", "quantity": "1",
                                        "chargeModel": PERCENTAGE})
    assert_error(response, 422, "quantity")
    both = preview(client, tenant, {"currency": "EUR", "quantity": "1", "events": ["1"],
                                    "chargeModel": PERCENTAGE})
    assert_error(both, 422, "quantity")
    missing = preview(client, tenant, {"currency": "EUR", "chargeModel": PERCENTAGE})
    assert_error(missing, 422, "events")


def test_events_with_a_quantity_model(client, tenant):
    response = preview(client, tenant, {"currency": "EUR", "events": ["1"],
                                        "chargeModel": STANDARD})
    assert_error(response, 422, "events")
    missing = preview(client, tenant, {"currency": "EUR", "chargeModel": STANDARD})
    assert_error(missing, 422, "quantity")


@pytest.mark.parametrize("quantity", ["-1", "-0.001", -5, "NaN", "Infinity", "abc"])
def test_bad_quantity(client, tenant, quantity):
    response = preview(client, tenant, {"currency": "EUR", "quantity": quantity,
                                        "chargeModel": STANDARD})
    assert_error(response, 422, "quantity")


def test_bad_event(client, tenant):
    response = preview(client, tenant, {"currency": "EUR", "events": ["1", "-2"],
                                        "chargeModel": PERCENTAGE})
    assert_error(response, 422, "events[1]")


def test_unknown_request_field(client, tenant):
    response = preview(client, tenant, {"currency": "EUR", "quantity": "1",
                                        "chargeModel": STANDARD, "discount": "5"})
    assert_error(response, 422, "discount")


# -- a ProductOfferingPrice's charge model ------------------------------------------------


def _has_route(path: str) -> bool:
    from openbss.app import CONTEXT_ROUTERS

    return any(getattr(route, "path", None) == path
               for router in CONTEXT_ROUTERS for route in router.routes)


def test_preview_of_a_price_with_an_included_allowance(client, tenant):
    """10 GB included each month, then 2.00 per started GB: 13.5 GB cost 4 GB = 8.00."""
    created = client.post(POP_URL, headers=tenant.headers(), json={
        "name": "Data beyond 10 GB", "priceType": "usage",
        "unitOfMeasure": {"units": "GB", "amount": 1},
        "price": {"unit": "EUR", "value": 2},
        "includedQuantity": {"amount": "10", "units": "GB"},
        "chargeModel": {"type": "package", "packageSize": "1", "packagePrice": "2.00"},
    })
    assert created.status_code == 201, created.text
    ref = {"id": created.json()["id"]}
    over = ok(client, tenant, {"productOfferingPrice": ref, "quantity": "13.5"})
    assert D(over["amount"]) == D("8") and over["roundedAmount"] == "8.00"
    assert over["lines"][0]["kind"] == "included"
    within = ok(client, tenant, {"productOfferingPrice": ref, "quantity": "7"})
    assert D(within["amount"]) == 0
    # an inline charge model knows nothing of allowances: all units are priced
    inline = ok(client, tenant, {"currency": "EUR", "quantity": "13.5", "chargeModel": {
        "type": "package", "packageSize": "1", "packagePrice": "2.00"}})
    assert D(inline["amount"]) == D("28")


def test_preview_of_a_product_offering_price(client, tenant):
    created = client.post(POP_URL, headers=tenant.headers(), json={
        "name": "API calls",
        "priceType": "usage",
        "unitOfMeasure": {"units": "call", "amount": 1},
        "price": {"unit": "EUR", "value": 10},
        "chargeModel": {"type": "graduated", "tiers": GRADUATED_TIERS},
    })
    assert created.status_code == 201, created.text
    price_id = created.json()["id"]

    ref = {"id": price_id}
    result = ok(client, tenant, {"productOfferingPrice": ref, "quantity": "11"})
    assert (result["amount"], result["roundedAmount"], result["currency"]) == (
        "110", "110.00", "EUR")
    assert len(result["lines"]) == 2
    same = ok(client, tenant, {"currency": "EUR", "productOfferingPrice": ref, "quantity": "11"})
    assert same["amount"] == "110"

    mismatch = preview(client, tenant, {"currency": "USD", "productOfferingPrice": ref,
                                        "quantity": "11"})
    assert_error(mismatch, 422, "currency")
    unknown = preview(client, tenant, {"currency": "QQQ", "productOfferingPrice": ref,
                                       "quantity": "11"})
    assert_error(unknown, 422, "currency")
    wrong_input = preview(client, tenant, {"productOfferingPrice": ref, "events": ["1"]})
    assert_error(wrong_input, 422, "events")
    missing = preview(client, tenant, {"productOfferingPrice": {"id": "no-such-price"},
                                       "quantity": "1"})
    assert_error(missing, 404)


def test_product_offering_price_reference_needs_an_id(client, tenant):
    response = preview(client, tenant, {"productOfferingPrice": {}, "quantity": "1"})
    assert_error(response, 422, "productOfferingPrice.id")


@pytest.mark.parametrize("quantity", ["1e70", "1e999999"])
def test_absurd_quantities_are_refused_not_crashed(client, tenant, quantity):
    r = preview(client, tenant, {"currency": "EUR", "quantity": quantity,
                                 "chargeModel": {"type": "standard", "unitPrice": "1"}})
    assert r.status_code == 422 and r.json()["field"] == "quantity"
