"""Start-up rules of the ``openbss`` command: a proper secret key, one data directory
(whatever the current directory), and read commands that never create a database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from openbss.core.config import (
    MIN_SECRET_KEY_BYTES,
    OLD_DEFAULT_SECRET_KEY,
    Settings,
    openbss_home,
    secret_key_problem,
)

GOOD_KEY = "k" * MIN_SECRET_KEY_BYTES


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBSS_")}
    env.update(OPENBSS_HOME=str(home), OPENBSS_LOG_LEVEL="WARNING", **extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openbss", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


# -- the secret key ------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "words"), [
    ("", "not set"),
    (OLD_DEFAULT_SECRET_KEY, "old public default"),
    ("x" * (MIN_SECRET_KEY_BYTES - 1), "31 bytes"),
    ("ü" * 15, "30 bytes"),  # bytes, not characters
])
def test_unfit_keys_are_named(tmp_path: Path, key: str, words: str) -> None:
    settings = Settings(home=str(tmp_path), secret_key=key)
    problem = secret_key_problem(settings)
    assert problem is not None and words in problem


def test_a_long_key_or_a_key_file_is_fit(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.delenv("OPENBSS_SECRET_KEY")
    assert secret_key_problem(Settings(home=str(tmp_path), secret_key=GOOD_KEY)) is None
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret-key").write_text(GOOD_KEY + "\n")
    from_file = Settings(home=str(tmp_path))
    assert from_file.secret_key == GOOD_KEY
    assert secret_key_problem(from_file) is None
    # the environment wins over the file
    assert Settings(home=str(tmp_path), secret_key="y" * 40).secret_key == "y" * 40


@pytest.mark.parametrize(("command", "key"), [
    ("serve", None), ("serve", OLD_DEFAULT_SECRET_KEY), ("serve", "ctk-throwaway-secret-key"),
    ("worker", None), ("worker", "short"),
])
def test_serve_and_worker_refuse_an_unfit_key(tmp_path: Path, command: str,
                                              key: str | None) -> None:
    env = _env(tmp_path, **({"OPENBSS_SECRET_KEY": key} if key is not None else {}))
    result = _run([command, "--port", "1"] if command == "serve" else [command], env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "OPENBSS_SECRET_KEY" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr  # says how to make one
    assert not (tmp_path / "var" / "openbss.db").exists()


def test_the_app_refuses_an_unfit_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import openbss.app

    monkeypatch.setattr(openbss.app, "get_settings",
                        lambda: Settings(home=str(tmp_path), secret_key="short"))
    with pytest.raises(RuntimeError, match="OPENBSS_SECRET_KEY is 5 bytes"):
        openbss.app.create_app()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_with_a_proper_key_from_the_key_file(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    (home / "var").mkdir(parents=True)
    elsewhere.mkdir()
    (home / "var" / "secret-key").write_text(GOOD_KEY)
    env = _env(home)
    assert _run(["init"], env, elsewhere).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "openbss", "serve", "--port", str(port), "--no-worker"],
        env=env, cwd=elsewhere, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- one data directory, no database created by a read --------------------------------------


def test_home_defaults_to_the_virtualenvs_parent(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.delenv("OPENBSS_HOME", raising=False)
    if sys.prefix != sys.base_prefix:
        assert openbss_home() == Path(sys.prefix).resolve().parent
    monkeypatch.setenv("OPENBSS_HOME", str(tmp_path))
    assert openbss_home() == tmp_path.resolve()
    settings = Settings(database_url="sqlite:///var/x.db", catalog_import_dir="imports")
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/var/x.db"
    assert settings.catalog_import_dir == str(tmp_path.resolve() / "imports")
    monkeypatch.delenv("OPENBSS_DATABASE_URL")
    assert Settings().sqlite_path == tmp_path.resolve() / "var" / "openbss.db"


@pytest.mark.parametrize("args", [["audit", "verify"], ["apikey", "list"],
                                  ["catalog", "export"]])
def test_read_commands_never_create_a_database(tmp_path: Path, args: list[str]) -> None:
    env = _env(tmp_path / "home", OPENBSS_SECRET_KEY=GOOD_KEY)
    result = _run(args, env, tmp_path)
    assert result.returncode == 1
    db = tmp_path / "home" / "var" / "openbss.db"
    assert f"no openbss database at {db}; run `openbss init`" in " ".join(result.stderr.split())
    assert not db.exists() and not (tmp_path / "home").exists()


def test_an_empty_database_file_is_not_an_openbss_database(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "openbss.db").touch()
    result = _run(["tenant", "list"], _env(tmp_path, OPENBSS_SECRET_KEY=GOOD_KEY), tmp_path)
    assert result.returncode == 1
    assert "no openbss tables" in result.stderr


def test_the_cli_works_the_same_from_any_directory(tmp_path: Path) -> None:
    home, here, there = tmp_path / "home", tmp_path / "a", tmp_path / "b"
    for d in (home, here, there):
        d.mkdir()
    env = _env(home, OPENBSS_SECRET_KEY=GOOD_KEY)
    init = _run(["init", "--region", "DE", "--currency", "EUR"], env, here)
    assert init.returncode == 0, init.stderr
    assert str(home / "var" / "openbss.db") in init.stdout
    created = _run(["tenant", "create", "acme", "--region", "ch", "--currency", "CHF"], env,
                   there)
    assert created.returncode == 0, created.stderr
    listed = _run(["tenant", "list"], env, there)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert ["acme", "production", "CH", "CHF"] in rows
    assert ["default", "production", "DE", "EUR"] in rows
    changed = _run(["tenant", "set", "acme", "--region", "AT"], env, there)
    assert changed.returncode == 0, changed.stderr
    assert "region AT, currency CHF" in changed.stdout
    listed = _run(["tenant", "list"], env, here).stdout
    assert "acme\tproduction\tAT\tCHF" in listed
    verify = _run(["audit", "verify"], env, tmp_path)
    assert verify.returncode == 0, verify.stderr
    assert not (here / "var").exists() and not (there / "var").exists()
    bad = _run(["tenant", "create", "bad", "--currency", "EURO"], env, here)
    assert bad.returncode == 1 and "unknown currency code 'EURO'" in bad.stderr
    bad = _run(["tenant", "create", "bad", "--region", "XX"], env, here)
    assert bad.returncode == 1 and "default_region" in bad.stderr


@pytest.mark.parametrize("args", [
    ["no-such-command"], ["billrun", "--workers", "abc"], ["billrun", "--no-such-option"],
    ["usage", "import", "cdr.csv", "--format", "xml"], ["catalog", "export", "--format", "xml"],
    ["reconcile", "--period"],
])
def test_usage_errors_exit_1_not_2(tmp_path: Path, args: list[str]) -> None:
    """2 means "done, and found something" (accounts failed, differences): a bad command
    line is "not done" like every other bad argument, whoever parses it."""
    (tmp_path / "cdr.csv").write_text("a,b\n1,2\n")
    result = _run(args, _env(tmp_path, OPENBSS_SECRET_KEY=GOOD_KEY), tmp_path)
    assert result.returncode == 1, (args, result.returncode, result.stderr)
    assert result.stderr.strip(), "says what was wrong"
