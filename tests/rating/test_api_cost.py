"""``POST /api/v1/rating/cost`` on the CGRateS tutorial tariff plan, imported through the
``openbss rating import-cgrates`` command: the costs CGRateS computes for its own plan,
the two CGRateS error codes, every bad field named, roles; and the export back to CSV.

The arithmetic (docs/usage-and-rating.md shows it; rating/telecom.py cites CGRateS's
code): RT_20CNT is a 0.40 connect fee, 0.20 per minute for the first 60 s in 60 s
increments, then 0.10 per minute in 1 s increments. CGRateS rounds a timespan's cost and
each increment's to its global 5 decimals (*middle): the 70 s after the first minute cost
round(70 × 0.10/60, 5) = 0.11667, one 1 s increment round(0.11667/70, 5) = 0.00167, so
2m10s costs 0.40 + 0.20 + 70 × 0.00167 = 0.7169 (rounded *up to 4 decimals), and 90 s
0.40 + 0.20 + 30 × 0.00167 = 0.6501. Calls to 1003 (RT_1CNT_PER_SEC, 0.01 per second)
stop at the max cost 0.12 with ``*disconnect``: 12 s, 0.12. SMS: 0.01 a message.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from openbss.cli import app

TUTORIAL = Path(__file__).resolve().parents[2] / "specs" / "cdr" / "cgrates-tutorial-tariffplan"
COST = "/api/v1/rating/cost"
CALL = {"category": "call", "subject": "1001", "account": "1001", "destination": "1002",
        "answerTime": "2014-08-04T13:00:00Z", "usage": "2m10s"}


def _import(tenant, *extra: str) -> Any:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["rating", "import-cgrates", str(TUTORIAL),
                                      "--tenant", tenant.name, *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def tutorial(tenant):  # type: ignore[no-untyped-def]
    _import(tenant, "--name", "tutorial")
    return tenant


def _cost(client, tenant, role: str = "admin", **change: Any):  # type: ignore[no-untyped-def]
    return client.post(COST, json={**CALL, **change}, headers=tenant.headers(role))


def test_import_prints_what_it_loaded(client, tenant):  # type: ignore[no-untyped-def]
    result = _import(tenant, "--currency", "USD")
    out = result.output
    assert "imported tariff 'cgrates-tutorial-tariffplan' (USD)" in out
    assert "Rates.csv" in out and "RatingProfiles.csv" in out
    assert "ignored: AccountActions.csv" in out and "README.md" in out
    as_json = CliRunner().invoke(app, ["rating", "import-cgrates", str(TUTORIAL), "--tenant",
                                       tenant.name, "--json"])
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.stdout)
    assert summary["created"] is False  # the same name again: replaced
    assert summary["currency"] == "EUR"  # the tenant's default this time
    assert summary["counts"] == {"Destinations.csv": 4, "Rates.csv": 10,
                                 "DestinationRates.csv": 6, "Timings.csv": 0,
                                 "RatingPlans.csv": 7, "RatingProfiles.csv": 8}
    assert "Chargers.csv" in summary["ignored"]
    listing = client.get("/api/v1/rating/tariffs", headers=tenant.headers()).json()
    assert [(t["name"], t["source"], t["version"]) for t in listing] == [
        ("cgrates-tutorial-tariffplan", "cgrates", 2)]


@pytest.mark.parametrize(("change", "cost", "connect_fee", "usage"), [
    ({}, "0.7169", "0.4", 130),
    ({"usage": "90s"}, "0.6501", "0.4", 90),
    ({"usage": 90}, "0.6501", "0.4", 90),
    ({"usage": "1m"}, "0.6", "0.4", 60),
    ({"subject": "1002", "account": "1002", "destination": "1001"}, "0.7169", "0.4", 130),
])
def test_tutorial_costs(client, tutorial, change, cost, connect_fee, usage):  # type: ignore[no-untyped-def]
    r = _cost(client, tutorial, **change)
    assert r.status_code == 200, r.text
    body = r.json()
    assert Decimal(body["cost"]) == Decimal(cost)
    assert Decimal(body["connectFee"]) == Decimal(connect_fee)
    assert body["currency"] == "EUR" and body["usage"] == usage
    assert body["destinationRate"] in ("DR_1002_20CNT", "DR_1001_20CNT")
    assert body["rates"] == "RT_20CNT" and body["maxCostApplied"] is False
    increments = body["increments"]
    assert all(isinstance(i["cost"], str) and isinstance(i["rate"], str) for i in increments)
    assert increments[0]["start"] == 0
    # the increments' costs and the connect fee make up the (unrounded) total
    total = sum(Decimal(i["cost"]) for i in increments) + Decimal(body["connectFee"])
    assert total.quantize(Decimal("0.0001"), rounding="ROUND_UP") == Decimal(cost)


def test_max_cost_disconnect_and_sms(client, tutorial):  # type: ignore[no-untyped-def]
    r = _cost(client, tutorial, destination="1003", usage="2m")
    assert r.status_code == 200, r.text
    body = r.json()
    assert Decimal(body["cost"]) == Decimal("0.12") and body["maxCostApplied"] is True
    assert body["usage"] == 12 and body["ratingPlan"] == "RP_1001"
    sms = _cost(client, tutorial, category="sms", subject="any-sender", destination="+4917",
                usage="3")
    assert sms.status_code == 200, sms.text
    assert Decimal(sms.json()["cost"]) == Decimal("0.03")
    assert sms.json()["ratingPlan"] == "RP_SMS"


def test_errors_name_the_field(client, tutorial):  # type: ignore[no-untyped-def]
    def error(**change: Any) -> tuple[int, str, str]:
        r = _cost(client, tutorial, **change)
        return r.status_code, r.json().get("code"), r.json().get("field")

    assert error(destination="4930123") == (422, "UNAUTHORIZED_DESTINATION", "destination")
    assert error(subject="9999", account="9999") == (422, "RATING_PLAN_NOT_FOUND", "subject")
    assert error(answerTime="2014-08-04T13:00:00")[::2] == (422, "answerTime")
    assert error(answerTime="yesterday")[::2] == (422, "answerTime")
    assert error(usage="abc")[::2] == (422, "usage")
    assert error(usage="-5s")[::2] == (422, "usage")
    assert error(usage=True)[::2] == (422, "usage")
    assert error(usage=-1)[::2] == (422, "usage")
    assert error(category="")[::2] == (422, "category")
    assert error(colour="red")[::2] == (422, "colour")
    r = client.post(COST, json={k: v for k, v in CALL.items() if k != "destination"},
                    headers=tutorial.headers())
    assert r.status_code == 422 and r.json()["field"] == "destination"


def test_who_may_price(client, tutorial, other_tenant):  # type: ignore[no-untyped-def]
    for role in ("read_only", "partner", "auditor", "sales_agent", "catalog_manager"):
        assert _cost(client, tutorial, role=role).status_code == 200, role
    # another tenant has no tariffs: nothing to price with
    r = _cost(client, other_tenant)
    assert r.status_code == 422 and r.json()["code"] == "RATING_PLAN_NOT_FOUND"


def test_export_round_trip(client, tutorial, tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "exported"
    result = CliRunner().invoke(app, ["rating", "export-cgrates", str(out), "--tenant",
                                      tutorial.name, "--name", "tutorial"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "Destinations.csv", "Rates.csv", "DestinationRates.csv", "Timings.csv",
        "RatingPlans.csv", "RatingProfiles.csv"])
    # importing the export under another name is identical (no conflict) and prices alike
    again = CliRunner().invoke(app, ["rating", "import-cgrates", str(out), "--tenant",
                                     tutorial.name, "--name", "copy", "--json"])
    assert again.exit_code == 0, again.output
    tariffs = client.get("/api/v1/rating/tariffs", headers=tutorial.headers()).json()
    docs = [client.get(f"/api/v1/rating/tariffs/{t['id']}", headers=tutorial.headers())
            .json()["tariff"] for t in tariffs]
    assert docs[0] == docs[1]
    assert Decimal(_cost(client, tutorial).json()["cost"]) == Decimal("0.7169")


def test_cli_errors(tenant, tmp_path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    missing = runner.invoke(app, ["rating", "import-cgrates", str(tmp_path / "nope"),
                                  "--tenant", tenant.name])
    assert missing.exit_code == 1 and "directory" in missing.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Rates.csv").write_text("#Id,ConnectFee,Rate,RateUnit,RateIncrement,"
                                   "GroupIntervalStart\nRT_X,0,abc,60s,60s,0s\n")
    result = runner.invoke(app, ["rating", "import-cgrates", str(bad), "--tenant", tenant.name])
    assert result.exit_code == 1
    assert "Rates.csv:2" in result.output
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "notes.txt").write_text("not a tariff plan\n")
    empty = runner.invoke(app, ["rating", "import-cgrates", str(unrelated), "--tenant",
                                tenant.name])
    assert empty.exit_code == 1 and "no CGRateS tariff-plan file" in empty.output
    assert runner.invoke(app, ["rating", "export-cgrates", str(tmp_path / "y"), "--tenant",
                               tenant.name]).exit_code == 1  # (nothing was stored)
    nobody = runner.invoke(app, ["rating", "import-cgrates", str(TUTORIAL), "--tenant",
                                 "no-such-tenant"])
    assert nobody.exit_code == 1 and "no-such-tenant" in nobody.output
    nothing = runner.invoke(app, ["rating", "export-cgrates", str(tmp_path / "x"),
                                  "--tenant", tenant.name])
    assert nothing.exit_code == 1 and "no tariffs" in nothing.output
