"""GET /api/v1/audit lists newest first; sort=seq gives oldest first."""

from __future__ import annotations


def test_audit_lists_newest_first_by_default(client, make_tenant):
    h = make_tenant(sandbox=True).headers()
    for _ in range(3):
        r = client.post("/api/v1/testClock/advance", headers=h, json={"days": 1})
        assert r.status_code == 200, r.text
    newest = client.get("/api/v1/audit?limit=3", headers=h).json()
    seqs = [row["seq"] for row in newest]
    assert seqs == sorted(seqs, reverse=True)
    everything = client.get("/api/v1/audit?sort=seq&limit=1000", headers=h).json()
    assert [row["seq"] for row in everything] == list(range(1, len(everything) + 1))
    assert seqs[0] == everything[-1]["seq"]  # the first row of the default is the newest
    paged = client.get("/api/v1/audit?offset=1&limit=1", headers=h).json()
    assert [row["seq"] for row in paged] == [seqs[1]]
