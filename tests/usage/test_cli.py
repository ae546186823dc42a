"""``openbss usage import / rejects list / rejects reprocess / rerate``: summaries as
one JSON object, exit codes (0 done, 1 file or mapping error, 2 bad usage)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner
from usage_helpers import T0, line

from openbss.cli import app

KEYS = ["read", "accepted", "duplicates", "rejected", "rejectedByReason", "rated",
        "amounts"]


@pytest.fixture
def sandbox(make_tenant):  # type: ignore[no-untyped-def]
    return make_tenant(sandbox=True, clock_start=T0, region="DE")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _json(*args: str) -> dict:
    code, out, err = _run(*args, "--json")
    assert code == 0, err or out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    data: dict = json.loads(lines[0])
    return data


def test_import_prints_exactly_the_summary_keys(client, sandbox, tmp_path: Path):  # type: ignore[no-untyped-def]
    line(client, sandbox, included_minutes=None)
    path = tmp_path / "cdr.csv"
    path.write_text("recordId,usageDate,usageType,msisdn,duration\n"
                    "1,2026-01-10T10:00:00Z,voice,+4915112345678,60\n"
                    "2,2026-01-10T10:00:00Z,voice,+4915100000000,60\n"
                    "1,2026-01-10T10:00:00Z,voice,+4915112345678,60\n")
    data = _json("usage", "import", str(path), "--tenant", sandbox.name)
    assert list(data) == KEYS
    assert data == {"read": 3, "accepted": 1, "duplicates": 1, "rejected": 1,
                    "rejectedByReason": {"unknown_identifier": 1}, "rated": 1,
                    "amounts": {"EUR": "0.1"}}
    code, out, _ = _run("usage", "import", str(path), "--tenant", sandbox.name)
    assert code == 0 and "duplicates" in out  # the table
    listed = _json("usage", "rejects", "list", "--tenant", sandbox.name,
                   "--reason", "unknown_identifier")
    assert [r["recordId"] for r in listed["rejects"]] == ["2"]
    # a file's reject shows what reprocessing reads: its normalised fields
    [reject] = client.get("/api/v1/usage/rejects", headers=sandbox.headers()).json()
    record = reject["record"]
    assert (record["msisdn"], record["usageType"], Decimal(str(record["quantity"]))) == (
        "+4915100000000", "voice", Decimal(60))
    # a file's guided records name their customer, as single and bulk records do
    [rated] = client.get("/tmf-api/usageManagement/v4/usage", params={"status": "rated"},
                         headers=sandbox.headers()).json()
    assert "customer" in {p["role"] for p in rated["relatedParty"]}
    again = _json("usage", "rejects", "reprocess", "--tenant", sandbox.name)
    assert (again["read"], again["rejectedByReason"]) == (1, {"unknown_identifier": 1})


def test_ndjson_import_and_rerate(client, sandbox, tmp_path: Path):  # type: ignore[no-untyped-def]
    setup = line(client, sandbox, included_minutes=None)
    path = tmp_path / "u.ndjson"
    path.write_text(
        '{"recordId": "n1", "usageDate": "2026-01-10T10:00:00Z", "usageType": "voice", '
        '"msisdn": "+4915112345678", "duration": "120"}\n'
        "this is no json\n")
    data = _json("usage", "import", str(path), "--tenant", sandbox.name, "--source", "app")
    assert (data["accepted"], data["rejectedByReason"]) == (1, {"malformed": 1})
    assert data["amounts"] == {"EUR": "0.2"}
    report = _json("usage", "rerate", "--account", setup["account"]["id"],
                   "--from", "2026-01-01", "--to", "2026-02-01", "--tenant", sandbox.name)
    assert (report["records"], report["rated"]) == (1, 1)
    assert report["difference"] == {"EUR": "0"}
    assert Decimal(report["before"]["EUR"]) == Decimal(report["after"]["EUR"]) == \
        Decimal("0.2")


@pytest.mark.parametrize(("args", "code", "says"), [
    (["usage", "import", "missing.csv"], 1, "no such file"),
    (["usage", "import", "{dir}"], 1, "a directory"),
    (["usage", "import", "{file}", "--mapping", "nope.yaml"], 1, "cannot read mapping"),
    (["usage", "import", "{file}", "--mapping", "{badmap}"], 1, "columns.duraton"),
    (["usage", "import", "{file}", "--mapping", "{wrongcol}"], 1, "no column"),
    (["usage", "import", "{file}", "--format", "xml"], 1, "csv or ndjson"),
    (["usage", "rejects", "list", "--reason", "sunspots"], 1, "unknown_identifier"),
    (["usage", "rerate", "--from", "2026-01-01", "--to", "2026-02-01"], 1, "--all"),
    (["usage", "rerate", "--all", "--from", "yesterday", "--to", "2026-02-01"], 1,
     "ISO 8601"),
])
def test_exit_codes(sandbox, tmp_path: Path, args, code, says):  # type: ignore[no-untyped-def]
    file = tmp_path / "cdr.csv"
    file.write_text("recordId,usageDate\n1,2026-01-10\n")
    badmap = tmp_path / "bad.yaml"
    badmap.write_text("columns: {duraton: billsec}\n")
    wrongcol = tmp_path / "wrong.yaml"
    wrongcol.write_text("columns: {duration: billsec}\n")
    filled = [a.format(file=file, badmap=badmap, wrongcol=wrongcol, dir=tmp_path)
              for a in args]
    exit_code, out, err = _run(*filled, "--tenant", sandbox.name)
    assert exit_code == code, (out, err)
    assert says in out + err


@pytest.mark.parametrize("mapping", ["asterisk", "freeswitch", "generic"])
@pytest.mark.parametrize("content", ["", "\n\n"])
def test_an_empty_file_reads_nothing(sandbox, tmp_path: Path, mapping: str,  # type: ignore[no-untyped-def]
                                     content: str):
    file = tmp_path / "Master.csv"
    file.write_text(content)  # a CDR writer's quiet hour (was exit 1 "empty CSV")
    exit_code, out, err = _run("usage", "import", str(file), "--mapping", mapping, "--json",
                               "--tenant", sandbox.name)
    assert exit_code == 0, (out, err)
    assert json.loads(out.strip().splitlines()[-1])["read"] == 0


def test_nul_bytes_in_a_file_are_stored_as_replacement_characters(client, sandbox,  # type: ignore[no-untyped-def]
                                                                  tmp_path: Path):
    """No PostgreSQL text holds a NUL (the import failed there): every record is still
    counted and stored, its NULs as U+FFFD on both backends, and importing the file
    again finds each as a duplicate (its key is the original value's)."""
    line(client, sandbox, included_minutes=None)
    csv = tmp_path / "cdr.csv"
    csv.write_bytes(b"recordId,usageDate,usageType,msisdn,duration\n"
                    b"1\x00a,2026-01-10T10:00:00Z,voice,+4915112345678,60\n"
                    b"2,2026-01-10T10:00:00Z,voice,+49151\x0012345678,60\n"
                    b"3,2026-01-10T10:00:00Z\x00,voice,+4915112345678,60\n"
                    b"4,2026-01-10T10:00:00Z,voice,+4915112345678,6\x000\n")
    ndjson = tmp_path / "cdr.ndjson"
    ndjson.write_text(json.dumps({"recordId": "n\x00", "usageDate": "2026-01-10T10:00:00Z",
                                  "usageType": "voice", "msisdn": "+4915112345678",
                                  "duration": 60}) + "\n")
    for path, extra in ((csv, ()), (ndjson, ("--format", "ndjson"))):
        first = _json("usage", "import", str(path), *extra, "--tenant", sandbox.name)
        assert first["read"] == first["accepted"] + first["duplicates"] + first["rejected"]
        again = _json("usage", "import", str(path), *extra, "--tenant", sandbox.name)
        assert again["duplicates"] == again["read"] == first["read"]
    usages = client.get("/tmf-api/usageManagement/v4/usage?limit=100",
                        headers=sandbox.headers()).json()
    rejects = client.get("/api/v1/usage/rejects?limit=100", headers=sandbox.headers()).json()
    assert len(usages) == 5  # four lines and one NDJSON record (rejects included)
    assert sorted((u["status"], [c["value"] for c in u.get("usageCharacteristic", [])
                                 if c["name"] == "recordId"]) for u in usages) == [
        ("rated", ["1\ufffda"]), ("rated", ["3"]), ("rated", ["n\ufffd"]),
        ("rejected", ["2"]), ("rejected", ["4"])]
    # a reject keeps its record exactly as read (JSON holds the NUL), for reprocessing
    assert sorted((r["recordId"], r["reason"], r["record"]["msisdn"], r["record"]["duration"])
                  for r in rejects) == [
        ("2", "malformed", "+49151\x0012345678", "60"),
        ("4", "invalid_quantity", "+4915112345678", "6\x000")]
