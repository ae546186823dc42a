"""Helpers of the billing scenario tests: drive a sandbox tenant like a user would, through
the HTTP API only — catalog prices (TMF620), parties and billing accounts (TMF632/666),
product orders (TMF622, completed by the ordering worker pass as the ordering tests do),
usage (TMF635), the test clock, bill runs (``/api/v1/billRuns``) and the resulting
invoices (TMF678 ``customerBill`` / ``appliedCustomerBillingRate``).

Time: every story runs on the tenant's test clock; instants are UTC, the accounts bill
monthly on the 1st (or a given anchor day) in Europe/Berlin, so a period boundary is local
midnight (23:00Z in winter, 22:00Z in summer).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from openbss.core.db import unit_of_work
from openbss.ordering.orchestration import run_due_steps

CAT = "/tmf-api/productCatalogManagement/v4"
PO = "/tmf-api/productOrderingManagement/v4/productOrder"
INV = "/tmf-api/productInventory/v4/product"
USAGE = "/tmf-api/usageManagement/v4/usage"
ACCOUNTS = "/tmf-api/accountManagement/v4/billingAccount"
BILLS = "/tmf-api/customerBillManagement/v4/customerBill"
RATES = "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate"
RUNS = "/api/v1/billRuns"
SETTINGS = "/api/v1/settings/billing"
MERGE = {"Content-Type": "application/merge-patch+json"}
TZ = "Europe/Berlin"
#: a VAT id of a French company that passes stdnum's check digits (reverse charge)
FR_VAT = "FR40303265045"


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def at(value: str) -> datetime:
    """A TMF date-time string as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def amount(money: Any) -> Decimal:
    """The value of a TMF Money ``{unit, value}`` as an exact Decimal."""
    assert isinstance(money, dict), money
    return Decimal(str(money["value"]))


def excl(doc: dict[str, Any]) -> Decimal:
    return amount(doc["taxExcludedAmount"])


def incl(doc: dict[str, Any]) -> Decimal:
    return amount(doc["taxIncludedAmount"])


def coverage(line: dict[str, Any]) -> tuple[datetime, datetime]:
    period = line["periodCoverage"]
    return at(period["startDateTime"]), at(period["endDateTime"])


class Story:
    """One sandbox tenant and the calls a user makes; every helper asserts its status."""

    def __init__(self, client: TestClient, tenant: Any) -> None:
        self.client, self.tenant = client, tenant

    # -- plain HTTP ----------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], status: int = 201,
             role: str = "admin") -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.tenant.headers(role))
        assert r.status_code == status, (path, r.text)
        return r.json()  # type: ignore[no-any-return]

    def get(self, path: str, **params: Any) -> Any:
        r = self.client.get(path, params=params or None,
                            headers=self.tenant.headers("read_only"))
        assert r.status_code == 200, (path, r.text)
        return r.json()

    def patch(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = self.client.patch(path, json=body, headers=self.tenant.headers("admin", **MERGE))
        assert r.status_code == status, (path, r.text)
        return r.json()  # type: ignore[no-any-return]

    def settings(self, **values: Any) -> dict[str, Any]:
        return self.patch(SETTINGS, values)

    # -- the clock and the worker ----------------------------------------------------------

    def now(self) -> datetime:
        doc = self.get("/api/v1/testClock")
        return at(doc.get("now") or doc["businessTime"])

    def advance(self, to: datetime) -> None:
        r = self.client.post("/api/v1/testClock/advance", json={"to": z(to)},
                             headers=self.tenant.headers())
        assert r.status_code == 200, r.text
        self.work()

    def work(self, rounds: int = 20) -> None:
        """The ordering worker pass of this tenant until nothing is due."""
        for _ in range(rounds):
            with unit_of_work() as session:
                if not run_due_steps(session, limit=100, tenant_id=self.tenant.id):
                    return

    # -- catalog -------------------------------------------------------------------------

    def price(self, name: str, price_type: str, value: str | None, **extra: Any) -> str:
        body: dict[str, Any] = {"name": name, "priceType": price_type,
                                "lifecycleStatus": "Active", **extra}
        if value is not None:
            body["price"] = {"unit": "EUR", "value": value}
        return str(self.post(f"{CAT}/productOfferingPrice", body)["id"])

    def monthly(self, name: str, value: str, **extra: Any) -> str:
        return self.price(f"{name} monthly fee", "recurring", value,
                          recurringChargePeriodType="month", recurringChargePeriodLength=1,
                          **extra)

    def offering(self, name: str, *prices: str, **extra: Any) -> dict[str, Any]:
        return self.post(f"{CAT}/productOffering", {
            "name": name, "lifecycleStatus": "Active",
            "productOfferingPrice": [{"id": p} for p in prices], **extra})

    def plan(self, name: str, value: str, **price_extra: Any) -> dict[str, Any]:
        """An offering with one monthly (in advance) recurring price."""
        return self.offering(name, self.monthly(name, value, **price_extra))

    # -- parties and billing accounts ----------------------------------------------------

    def person(self, given: str = "Lena", family: str = "Schneider",
               country: str = "DE") -> dict[str, Any]:
        return self.post("/tmf-api/partyManagement/v4/individual", {
            "givenName": given, "familyName": family, "contactMedium": [
                {"mediumType": "postalAddress", "characteristic": {
                    "street1": "Torstraße 12", "city": "Berlin", "postCode": "10119",
                    "country": country}}]})

    def company(self, name: str, *, country: str, vat_id: str, city: str,
                post_code: str) -> dict[str, Any]:
        return self.post("/tmf-api/partyManagement/v4/organization", {
            "name": name, "tradingName": name, "isLegalEntity": True,
            "organizationIdentification": [{"identificationType": "VAT",
                                            "identificationId": vat_id,
                                            "issuingAuthority": country}],
            "contactMedium": [{"mediumType": "postalAddress", "characteristic": {
                "street1": "1 rue de Rivoli", "city": city, "postCode": post_code,
                "country": country}}]})

    def account(self, owner: dict[str, Any], name: str = "Home", *, anchor: int = 1,
                due_days: int = 14, referred: str = "Individual",
                **extra: Any) -> dict[str, Any]:
        """A TMF666 billing account billed monthly on ``anchor`` (calendar) in Berlin."""
        return self.post(ACCOUNTS, {
            "name": name, "currency": "EUR",
            "relatedParty": [{"id": owner["id"], "@referredType": referred,
                              "role": "owner"}],
            "billStructure": {"cycleSpecification": {
                "frequency": "monthly", "anchorDay": anchor, "alignment": "calendar",
                "timeZone": TZ}},
            "paymentTerms": {"dueDays": due_days}, **extra})

    # -- orders --------------------------------------------------------------------------

    def order(self, account: dict[str, Any], *items: dict[str, Any],
              state: str = "completed", **extra: Any) -> dict[str, Any]:
        order = self.post(PO, {"billingAccount": {"id": account["id"]},
                               "productOrderItem": list(items), **extra}, role="sales_agent")
        self.work()
        done: dict[str, Any] = self.get(f"{PO}/{order['id']}")
        assert done["state"] == state, done
        return done

    def add(self, account: dict[str, Any], offering: dict[str, Any],
            msisdn: str | None = None, quantity: int = 1) -> str:
        """Order ``offering`` for ``account``; the new product's id."""
        item: dict[str, Any] = {"id": "1", "action": "add", "quantity": quantity,
                                "productOffering": {"id": offering["id"]}}
        if msisdn:
            item["product"] = {"productCharacteristic": [{"name": "MSISDN",
                                                          "value": msisdn}]}
        before = {p["id"] for p in self.products(account)}
        self.order(account, item)
        [new] = [p["id"] for p in self.products(account) if p["id"] not in before]
        return str(new)

    def products(self, account: dict[str, Any]) -> list[dict[str, Any]]:
        return self.get(INV, **{"billingAccount.id": account["id"]})  # type: ignore[no-any-return]

    def change_plan(self, account: dict[str, Any], product: str, offering: dict[str, Any],
                    state: str = "completed") -> dict[str, Any]:
        return self.order(account, {"id": "1", "action": "modify", "product": {"id": product},
                                    "productOffering": {"id": offering["id"]}}, state=state)

    def set_status(self, account: dict[str, Any], product: str, status: str) -> None:
        self.order(account, {"id": "1", "action": "modify",
                             "product": {"id": product, "status": status}})

    def terminate(self, account: dict[str, Any], product: str) -> None:
        self.order(account, {"id": "1", "action": "delete", "product": {"id": product}})

    # -- usage ---------------------------------------------------------------------------

    def call(self, record_id: str, msisdn: str, seconds: int, when: datetime) -> dict[str, Any]:
        doc = self.post(USAGE, {"usageDate": z(when), "usageType": "voice",
                                "usageCharacteristic": [
                                    {"name": "recordId", "value": record_id},
                                    {"name": "msisdn", "value": msisdn},
                                    {"name": "calledNumber", "value": "+4930123456"},
                                    {"name": "duration", "value": seconds}]})
        assert doc["status"] == "rated", doc
        return doc

    # -- billing -------------------------------------------------------------------------

    def bill_run(self, as_of: datetime, *, accounts: list[dict[str, Any]] | None = None,
                 dry_run: bool = False, timeout: float = 60.0) -> dict[str, Any]:
        """``POST /api/v1/billRuns`` (202), then follow ``GET /api/v1/billRuns/{id}`` until
        the run is no longer ``running``; the finished run."""
        body: dict[str, Any] = {"asOf": z(as_of), "dryRun": dry_run}
        if accounts is not None:
            body["billingAccounts"] = [a["id"] for a in accounts]
        run = self.post(RUNS, body, status=202)
        deadline = time.monotonic() + timeout
        while run["state"] == "running":
            assert time.monotonic() < deadline, run
            time.sleep(0.05)
            run = self.get(f"{RUNS}/{run['id']}")
        assert run["state"] == "completed", run
        assert not run["results"].get("failures"), run
        return run

    def bills(self, account: dict[str, Any]) -> list[dict[str, Any]]:
        """The account's invoices and credit notes, oldest first."""
        rows = self.get(BILLS, **{"billingAccount.id": account["id"], "limit": 100})
        return sorted(rows, key=lambda b: (b["billDate"], b.get("billNo") or ""))

    def lines(self, bill: dict[str, Any]) -> list[dict[str, Any]]:
        return self.get(RATES, **{"bill.id": bill["id"], "limit": 1000})  # type: ignore[no-any-return]

    def all_bills(self) -> list[dict[str, Any]]:
        return self.get(BILLS, limit=1000)  # type: ignore[no-any-return]


def by_type(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == kind]


def totals_add_up(bill: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """lines + tax = total, exactly, and the tax breakdown sums to the tax."""
    assert sum((excl(line) for line in lines), Decimal(0)) == excl(bill)
    assert sum((incl(line) for line in lines), Decimal(0)) == incl(bill)
    tax = sum((amount(t["taxAmount"]) for t in bill.get("taxItem") or []), Decimal(0))
    assert excl(bill) + tax == incl(bill)
