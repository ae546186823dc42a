"""Money in party documents is exact end to end: request, storage, response, export."""

from __future__ import annotations

ACCOUNTS = "/tmf-api/accountManagement/v4"
PRECISE = "12345678901234.123456789"  # 23 significant digits: a float would lose them


def test_credit_limit_keeps_every_digit(client, tenant, make_individual):
    owner = make_individual(tenant)
    body = ('{"name": "Exact", "currency": "EUR", "creditLimit": {"unit": "EUR", "value": '
            + PRECISE + '}, "relatedParty": [{"id": "' + owner["id"]
            + '", "@referredType": "Individual", "role": "owner", "name": "x"}]}')
    r = client.post(f"{ACCOUNTS}/billingAccount", content=body,
                    headers=tenant.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 201, r.text
    assert f'"value":{PRECISE}' in r.text.replace(" ", "")
    got = client.get(f"{ACCOUNTS}/billingAccount/{r.json()['id']}", headers=tenant.headers())
    assert f'"value":{PRECISE}' in got.text.replace(" ", "")
    export = client.get(f"/api/v1/parties/{owner['id']}/personal-data",
                        headers=tenant.headers("care_agent"))
    assert export.status_code == 200 and PRECISE in export.text
