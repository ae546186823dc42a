"""Tenancy by construction: a context cannot write a query without its tenant.

Every statement of a context goes through :mod:`openbss.core.queries` (``scoped``,
``scoped_update``, ``scoped_delete``, ``get_owned``, ``find_owned``). This test reads the
source of every module outside the kernel and fails, naming file and line, on:

- a call of SQLAlchemy's ``select``, ``update``, ``delete`` or ``insert`` … ``where``
  builders imported from ``sqlalchemy`` (raw statements);
- ``session.get(...)`` (a primary-key load that ignores the tenant);
- a hand-written ``… .tenant_id == …`` comparison (the scoping belongs to the helper).

Inserting rows (``Model(tenant_id=ctx.tenant_id, ...)``) is of course allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "openbss"
RAW_BUILDERS = frozenset({"select", "update", "delete"})
# Modules outside core allowed a raw statement, each with its reason.
ALLOWED: dict[str, str] = {}


def _groups() -> list[str]:
    groups = [p.name for p in sorted(SRC.iterdir())
              if p.is_dir() and (p / "__init__.py").exists()
              and p.name not in {"core", "migrations"}]
    return [*groups, "<top level>"]


def _modules(group: str) -> list[Path]:
    if group == "<top level>":
        return sorted(SRC.glob("*.py"))
    return sorted((SRC / group).rglob("*.py"))


def _sqlalchemy_names(tree: ast.Module) -> set[str]:
    """Local names bound to SQLAlchemy's statement builders by ``from sqlalchemy import``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"sqlalchemy",
                                                               "sqlalchemy.sql"}:
            for alias in node.names:
                if alias.name in RAW_BUILDERS:
                    names.add(alias.asname or alias.name)
    return names


def _violations(path: Path) -> list[str]:
    rel = path.relative_to(SRC.parent).as_posix()
    if rel in ALLOWED:
        return []
    tree = ast.parse(path.read_text(), filename=str(path))
    builders = _sqlalchemy_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in builders:
                found.append(f"{rel}:{node.lineno}: raw {func.id}(...) — use "
                             "openbss.core.queries.scoped/scoped_update/scoped_delete")
            elif isinstance(func, ast.Attribute) and func.attr == "get" and (
                    (isinstance(func.value, ast.Attribute) and func.value.attr == "session")
                    or (isinstance(func.value, ast.Name) and func.value.id == "session")):
                found.append(f"{rel}:{node.lineno}: session.get(...) ignores the tenant — "
                             "use openbss.core.queries.get_owned/find_owned")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "tenant_id" for s in sides) \
                    and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                found.append(f"{rel}:{node.lineno}: hand-written tenant_id comparison — the "
                             "scoped helpers add the tenant")
    return found


@pytest.mark.parametrize("group", _groups())
def test_context_sql_is_tenant_scoped(group: str) -> None:
    problems = [v for path in _modules(group) for v in _violations(path)]
    assert not problems, "\n".join(problems)


def test_the_scan_sees_violations(tmp_path: Path) -> None:
    """The scanner itself finds each kind of violation (so a green run means something)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from sqlalchemy import select as sel, delete\n"
        "def f(session, ctx, M):\n"
        "    session.scalar(sel(M).where(M.tenant_id == ctx.tenant_id))\n"
        "    session.execute(delete(M))\n"
        "    ctx.session.get(M, 'x')\n"
        "    return row.tenant_id != ctx.tenant_id\n")
    global SRC
    saved, SRC = SRC, tmp_path.parent
    try:
        problems = _violations(bad)
    finally:
        SRC = saved
    kinds = sorted(p.split(": ", 1)[1].split(" ")[0] for p in problems)
    assert len(problems) == 5, problems
    assert kinds.count("raw") == 2 and kinds.count("session.get(...)") == 1
    assert kinds.count("hand-written") == 2
