"""The import graph of ``openbss``: no cycles between modules, no upward imports.

Built from the source (``ast``), not from ``sys.modules``: an import inside a function
or under ``TYPE_CHECKING`` counts like any other. Layers, lowest first (arrows are "may
import"): ``core ← party ← catalog``; the top floor (``openbss.app``, ``openbss.cli``,
``openbss.demo``, ``openbss.all_models``, ``openbss.migrations``, ``openbss.__main__``)
may import anything, and nothing below it imports it. A module may import its own
context and any lower layer. A new package must be given its layer here.
docs/architecture.md, "Import rules".
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

TOP = 100
#: Layer of each package (longest prefix wins). Higher may import lower, never upward.
LAYERS: dict[str, int] = {
    "openbss": 0,              # the root package: only __version__
    "openbss.core": 0,
    "openbss.party": 1,
    "openbss.catalog": 2,
    "openbss.ordering": 3,
    "openbss.rating": 4,
    "openbss.usage": 5,
    "openbss.billing": 6,
    "openbss.ledger": 7,
    "openbss.payments": 8,
    "openbss.assurance": 9,
    "openbss.app": TOP,
    "openbss.cli": TOP,
    "openbss.demo": TOP,
    "openbss.all_models": TOP,
    "openbss.migrations": TOP,
    "openbss.__main__": TOP,
}


@dataclass(frozen=True)
class Import:
    source: str      # importing module
    target: str      # imported module (the deepest module the name resolves to)
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}  ({self.source} -> {self.target})"


def modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Every module under ``root/package``: dotted name → (file, is a package)."""
    out: dict[str, tuple[Path, bool]] = {}
    for file in sorted((root / package).rglob("*.py")):
        parts = list(file.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (file, is_package)
    return out


def imports(root: Path, package: str) -> list[Import]:
    """Every import of a module of ``package`` by a module of ``package``."""
    mods = modules(root, package)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    found: list[Import] = []
    for name, (file, is_package) in mods.items():
        source = file.read_text(encoding="utf-8")
        lines = source.splitlines()
        here = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(source, filename=str(file))):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # ``from a import b``: the module a.b if there is one, else a
                wanted = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in mods
                          else module for alias in node.names]
            else:
                continue
            for target in {resolve(w) for w in wanted
                           if w == package or w.startswith(package + ".")}:
                if target is not None and target != name:
                    found.append(Import(name, target, file.relative_to(root.parent),
                                        node.lineno, lines[node.lineno - 1].strip()))
    return found


def layer_of(module: str, layers: dict[str, int]) -> tuple[str, int]:
    """(package, layer) of a module: the longest matching prefix of ``layers``."""
    best = max((p for p in layers if module == p or module.startswith(p + ".")),
               key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} has no layer: add its package to LAYERS "
                             "(tests/test_import_graph.py) and docs/architecture.md")
    return best, layers[best]


def upward_imports(found: list[Import], layers: dict[str, int]) -> list[Import]:
    """Imports of a higher layer, or of a sibling context on the same layer."""
    bad = []
    for imp in found:
        (src_pkg, src_layer), (dst_pkg, dst_layer) = (layer_of(imp.source, layers),
                                                      layer_of(imp.target, layers))
        if src_layer == TOP:
            continue
        if dst_layer > src_layer or (dst_layer == src_layer and dst_pkg != src_pkg
                                     and dst_layer != 0):
            bad.append(imp)
    return bad


def cycles(found: list[Import]) -> list[list[Import]]:
    """One cycle of imports for every strongly connected group of modules."""
    graph: dict[str, list[Import]] = {}
    for imp in found:
        graph.setdefault(imp.source, []).append(imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for imp in graph.get(node, []):
            if imp.target not in index:
                visit(imp.target)
                low[node] = min(low[node], low[imp.target])
            elif imp.target in on_stack:
                low[node] = min(low[node], index[imp.target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    out = []
    for group in groups:  # walk one concrete cycle inside the group
        start = min(group)
        path: list[Import] = []
        seen = {start: 0}
        node = start
        while True:
            imp = min((i for i in graph[node] if i.target in group),
                      key=lambda i: (i.target, i.line))
            path.append(imp)
            if imp.target in seen:
                out.append(path[seen[imp.target]:])
                break
            seen[imp.target] = len(path)
            node = imp.target
    return out


def context_graph(found: list[Import], layers: dict[str, int]) -> set[tuple[str, str]]:
    return {(layer_of(i.source, layers)[0], layer_of(i.target, layers)[0]) for i in found
            if layer_of(i.source, layers)[0] != layer_of(i.target, layers)[0]}


# -- the rules on openbss -----------------------------------------------------------------

@pytest.fixture(scope="module")
def found() -> list[Import]:
    result = imports(SRC, "openbss")
    assert len(result) > 100, "the graph is suspiciously small: is SRC right?"
    return result


def test_no_import_cycles(found: list[Import]) -> None:
    problems = cycles(found)
    assert not problems, "import cycles:\n" + "\n\n".join(
        "\n".join(f"  {imp}" for imp in cycle) for cycle in problems)


def test_no_upward_imports(found: list[Import]) -> None:
    problems = upward_imports(found, LAYERS)
    assert not problems, ("upward imports (core ← party ← catalog ← top floor):\n"
                          + "\n".join(f"  {imp}" for imp in problems))


def test_core_imports_no_context(found: list[Import]) -> None:
    problems = [i for i in found if i.source.startswith("openbss.core")
                and not i.target.startswith("openbss.core")]
    assert not problems, "core imports outside the kernel:\n" + "\n".join(
        f"  {imp}" for imp in problems)


def test_every_module_has_a_layer(found: list[Import]) -> None:
    for name in modules(SRC, "openbss"):
        layer_of(name, LAYERS)


def test_context_graph_is_the_documented_one(found: list[Import]) -> None:
    """The context-level graph of docs/architecture.md ("Import rules")."""
    below_top = {(a, b) for a, b in context_graph(found, LAYERS)
                 if LAYERS[a] != TOP and a != "openbss"}
    assert below_top <= {("openbss.party", "openbss.core"),
                         ("openbss.catalog", "openbss.core"),
                         ("openbss.catalog", "openbss.party"),
                         ("openbss.ordering", "openbss.core"),
                         ("openbss.ordering", "openbss.party"),
                         ("openbss.ordering", "openbss.catalog"),
                         ("openbss.rating", "openbss.core"),
                         ("openbss.rating", "openbss.party"),
                         ("openbss.rating", "openbss.catalog"),
                         ("openbss.rating", "openbss.ordering"),
                         ("openbss.usage", "openbss.core"),
                         ("openbss.usage", "openbss.party"),
                         ("openbss.usage", "openbss.catalog"),
                         ("openbss.usage", "openbss.ordering"),
                         ("openbss.usage", "openbss.rating"),
                         ("openbss.billing", "openbss.core"),
                         ("openbss.billing", "openbss.party"),
                         ("openbss.billing", "openbss.catalog"),
                         ("openbss.billing", "openbss.ordering"),
                         ("openbss.billing", "openbss.rating"),
                         ("openbss.billing", "openbss.usage"),
                         ("openbss.ledger", "openbss.core"),
                         ("openbss.ledger", "openbss.party"),
                         ("openbss.ledger", "openbss.catalog"),
                         ("openbss.ledger", "openbss.ordering"),
                         ("openbss.ledger", "openbss.billing"),
                         ("openbss.payments", "openbss.core"),
                         ("openbss.payments", "openbss.party"),
                         ("openbss.payments", "openbss.catalog"),
                         ("openbss.payments", "openbss.ordering"),
                         ("openbss.payments", "openbss.billing"),
                         ("openbss.payments", "openbss.ledger"),
                         # revenue assurance reads every context below it
                         *(("openbss.assurance", c) for c in (
                             "openbss.core", "openbss.party", "openbss.catalog",
                             "openbss.ordering", "openbss.rating", "openbss.usage",
                             "openbss.billing", "openbss.ledger", "openbss.payments"))}
    assert ("openbss.party", "openbss.core") in below_top
    assert ("openbss.catalog", "openbss.core") in below_top


# -- the checker finds what it must (a small package written for the test) ---------------

def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)


def test_checker_finds_cycles_lazy_and_relative(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/core/__init__.py": "",
        "pkg/core/a.py": "from pkg.core import b\n",
        "pkg/core/b.py": "def f():\n    from .c import x\n    return x\n",
        "pkg/core/c.py": "import pkg.core.a\nx = 1\n",
        "pkg/core/d.py": "from pkg.core.a import b\n",  # a name, not a module: edge to a
    })
    found = imports(tmp_path, "pkg")
    assert {(i.source, i.target) for i in found} == {
        ("pkg.core.a", "pkg.core.b"), ("pkg.core.b", "pkg.core.c"),
        ("pkg.core.c", "pkg.core.a"), ("pkg.core.d", "pkg.core.a")}
    (cycle,) = cycles(found)
    assert [(i.source, i.target) for i in cycle] == [
        ("pkg.core.a", "pkg.core.b"), ("pkg.core.b", "pkg.core.c"),
        ("pkg.core.c", "pkg.core.a")]
    lazy = next(i for i in cycle if i.source == "pkg.core.b")
    assert (lazy.line, lazy.text) == (2, "from .c import x")
    assert f"{Path('pkg/core/b.py')}:2: from .c import x  (pkg.core.b -> pkg.core.c)" in str(lazy)


def test_checker_finds_upward_and_sibling_imports(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/app.py": "from pkg.low import m\nfrom pkg.high import n\n",
        "pkg/low/__init__.py": "",
        "pkg/low/m.py": "def f():\n    import pkg.app\n",
        "pkg/mid/__init__.py": "",
        "pkg/mid/k.py": "from pkg.low import m\n",
        "pkg/high/__init__.py": "",
        "pkg/high/n.py": "from pkg.mid import k\nfrom pkg.low.m import f\n",
        "pkg/side/__init__.py": "",
        "pkg/side/s.py": "from pkg.mid import k\n",
    })
    layers = {"pkg": 0, "pkg.low": 0, "pkg.mid": 1, "pkg.side": 1, "pkg.high": 2,
              "pkg.app": TOP}
    bad = upward_imports(imports(tmp_path, "pkg"), layers)
    assert sorted((i.source, i.target, i.line) for i in bad) == [
        ("pkg.low.m", "pkg.app", 2), ("pkg.side.s", "pkg.mid.k", 1)]
    with pytest.raises(AssertionError, match=r"pkg\.other\.z has no layer"):
        layer_of("pkg.other.z", {"pkg.low": 0})
