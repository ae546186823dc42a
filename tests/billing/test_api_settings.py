"""The ``billing`` settings group: the issue's JSON keys and defaults, changes by PATCH,
bad values refused naming the field, and the weakest role refused."""

from __future__ import annotations

PATH = "/api/v1/settings/billing"

DEFAULTS = {
    "prorationGranularity": "day",
    "prorationDenominator": "actual",
    "terminationDayCharged": False,
    "intervalChange": "keepBillCycleDay",
    "downgradeTiming": "endOfTerm",
    "roundingMode": "halfUp",
    "taxRounding": "line",
}


def test_the_defaults_are_kill_bills(client, tenant):  # type: ignore[no-untyped-def]
    r = client.get(PATH, headers=tenant.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in DEFAULTS} == DEFAULTS


def test_a_patch_changes_only_what_it_names(client, tenant):  # type: ignore[no-untyped-def]
    r = client.patch(PATH, json={"prorationGranularity": "second",
                                 "prorationDenominator": 30, "roundingMode": "halfEven"},
                     headers=tenant.headers(**{"Content-Type": "application/merge-patch+json"}))
    assert r.status_code == 200, r.text
    body = client.get(PATH, headers=tenant.headers()).json()
    assert body["prorationGranularity"] == "second"
    assert body["prorationDenominator"] == "30"  # the number 30 is the "30" option
    assert body["roundingMode"] == "halfEven"
    assert body["taxRounding"] == "line" and body["intervalChange"] == "keepBillCycleDay"


def test_bad_values_are_refused_naming_the_field(client, tenant):  # type: ignore[no-untyped-def]
    headers = tenant.headers(**{"Content-Type": "application/merge-patch+json"})
    for patch, field in (({"prorationDenominator": 31}, "prorationDenominator"),
                         ({"roundingMode": "up"}, "roundingMode"),
                         ({"terminationDayCharged": "maybe"}, "terminationDayCharged"),
                         ({"downgradeTiming": ["endOfTerm"]}, "downgradeTiming"),
                         ({"prorate": True}, "prorate")):
        r = client.patch(PATH, json=patch, headers=headers)
        assert r.status_code == 422, (patch, r.text)
        assert field in r.json()["field"], (patch, r.json())
    assert client.get(PATH, headers=tenant.headers()).json()["roundingMode"] == "halfUp"


def test_the_read_only_role_may_not_change_them(client, tenant):  # type: ignore[no-untyped-def]
    r = client.patch(PATH, json={"roundingMode": "halfEven"},
                     headers=tenant.headers("read_only",
                                            **{"Content-Type": "application/merge-patch+json"}))
    assert r.status_code == 403, r.text
