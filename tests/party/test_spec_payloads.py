"""Payloads shaped like the official TMF v4 examples are accepted: fields the v4
``*_Create`` definitions list are never refused, references to other systems (an
``href`` on another host) are kept as given, and server-managed fields are ignored."""

from __future__ import annotations

ACCOUNTS = "/tmf-api/accountManagement/v4"
PARTY = "/tmf-api/partyManagement/v4"
REMOTE = "https://crm.partner.example/tmf-api/partyManagement/v4"


def test_billing_account_like_the_tmf666_example(client, tenant, make_individual, tmf):
    owner = make_individual(tenant)
    body = {
        "name": "Customer Account Richard Cole", "accountType": "business",
        "description": "billing account", "currency": "USD",
        "lastModified": "2018-06-14T00:00:00.000Z",
        "accountBalance": [{"balanceType": "ReceivableBalance",
                            "amount": {"unit": "USD", "value": 55.56},
                            "validFor": {"startDateTime": "2018-06-13T00:00:00.000Z"}}],
        "billStructure": {"presentationMedia": [{"id": "9968", "name": "Post Mail"}]},
        "creditLimit": {"unit": "USD", "value": 1000},
        "financialAccount": {"id": "2063", "name": "Partnership account",
                             "href": "https://fin.example/account/2063",
                             "accountBalance": {"balanceType": "ReceivableBalance",
                                                "amount": {"unit": "USD", "value": 55.56},
                                                "validFor": {
                                                    "startDateTime": "2018-06-13T00:00:00Z"}}},
        "paymentPlan": [{"numberOfPayments": 4, "paymentFrequency": "monthly", "priority": 1,
                         "status": "Effective", "totalAmount": {"unit": "USD", "value": 100.0}}],
        "taxExemption": [{"issuingJurisdiction": "US-CA", "certificateNumber": "CA-123",
                          "validFor": {"startDateTime": "2018-06-13T00:00:00.000Z"}}],
        "relatedParty": [
            {"id": owner["id"], "@referredType": "Individual", "role": "owner",
             "name": "Ada Lovelace"},
            {"id": "9947", "@referredType": "Organization", "role": "reseller",
             "name": "Partner Co", "href": f"{REMOTE}/organization/9947"},
        ],
    }
    r = client.post(f"{ACCOUNTS}/billingAccount", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    account = r.json()
    tmf("TMF666", "BillingAccount", account)
    # server-managed fields are the server's, not the client's
    assert account["lastModified"] != "2018-06-14T00:00:00.000Z"
    assert account["accountBalance"][0]["amount"]["value"] == 0
    assert account["billStructure"]["presentationMedia"][0]["name"] == "Post Mail"
    assert account["financialAccount"]["accountBalance"]["amount"]["value"] == 55.56
    remote = next(p for p in account["relatedParty"] if p["id"] == "9947")
    assert remote["href"] == f"{REMOTE}/organization/9947"


def test_local_reference_that_does_not_exist_is_still_refused(client, tenant):
    body = {"givenName": "Ada", "familyName": "Lovelace",
            "relatedParty": [{"id": "nope", "@referredType": "Organization", "role": "employer"}]}
    r = client.post(f"{PARTY}/individual", json=body, headers=tenant.headers())
    assert r.status_code == 422 and r.json()["field"] == "relatedParty[0].id"
    body["relatedParty"][0]["href"] = f"{REMOTE}/organization/nope"
    assert client.post(f"{PARTY}/individual", json=body,
                       headers=tenant.headers()).status_code == 201
