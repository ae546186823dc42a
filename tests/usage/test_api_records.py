"""The per-record path's guarantees below HTTP: a copy stored by a concurrent writer
between our look-up and our insert makes this record a duplicate (the unique key and a
SAVEPOINT), the transaction stays usable; ``flatten`` turns any stored body back into
the raw record."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from usage_helpers import call

from openbss.core.context import load_tenant, system_context
from openbss.core.db import unit_of_work
from openbss.usage import queries, records
from openbss.usage.models import UsageRecord


def _ctx(session, tenant):  # type: ignore[no-untyped-def]
    return system_context(session, load_tenant(session, tenant.id), actor="test")


def test_a_copy_stored_concurrently_after_the_lookup_makes_a_duplicate(tenant, monkeypatch):  # type: ignore[no-untyped-def]
    doc = call("race-1")
    with unit_of_work() as session:
        first = records.ingest(_ctx(session, tenant), doc)
        assert first.status == "rejected"  # no product holds the number: stored anyway
        first_id = first.row.id
    looked: list[str] = []
    real = queries.by_dedup_key

    def missed_once(ctx, key):  # type: ignore[no-untyped-def]
        looked.append(key)
        return None if len(looked) == 1 else real(ctx, key)  # the race: not there yet

    monkeypatch.setattr(queries, "by_dedup_key", missed_once)
    with unit_of_work() as session:
        ctx = _ctx(session, tenant)
        again = records.ingest(ctx, doc)
        assert again.status == "duplicate" and again.row.id == first_id
        assert len(looked) == 2  # looked up, insert refused, looked up the winner
        other = records.ingest(ctx, call("race-2"))  # the transaction is still usable
        assert other.status == "rejected"
    with unit_of_work() as session:
        ctx = _ctx(session, tenant)
        stored = list(ctx.session.scalars(
            queries.scoped(ctx, UsageRecord).where(UsageRecord.record_id.like("race-%"))))
        assert sorted(r.record_id for r in stored) == ["race-1", "race-2"]


names = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12).filter(
    lambda n: n not in records.DOCUMENT_KEYS)
values = st.one_of(st.text(max_size=20), st.integers(), st.booleans())


@given(st.dictionaries(names, values, max_size=8))
def test_flatten_of_a_raw_record_is_the_record(raw):  # type: ignore[no-untyped-def]
    assert records.flatten(raw) == raw


@given(st.dictionaries(names, values, max_size=8),
       st.one_of(st.none(), st.text(min_size=1, max_size=30)))
def test_flatten_of_a_usage_is_its_characteristics_and_date(chars, date):  # type: ignore[no-untyped-def]
    doc = {"usageCharacteristic": [{"name": k, "value": v} for k, v in chars.items()],
           "description": "ignored", "status": "ignored"}
    if date is not None:
        doc["usageDate"] = date
    expected = dict(chars)
    if date is not None:
        expected["usageDate"] = date
    assert records.flatten(doc) == expected
    # the document as stored renders back to the same raw record
    assert records.flatten(records._as_document(expected)) == expected
