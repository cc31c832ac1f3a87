"""The package's layers: every import points down, no cycle, no module or function too long.

The import graph is read with ``ast`` from the source (imports inside functions included, so a
cycle cannot hide in a function body). ``from package import module`` counts as an import of
the module; a package's own ``__init__`` is not counted as a dependency of its submodules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "kenolib"

#: Lowest first. A module may import modules of its own layer or of a lower one, never higher.
LAYERS: list[set[str]] = [
    {"kenolib", "errors", "vocab", "config"},
    {"safeio", "schemas", "xlsx", "xlsx_stream", "files", "datafiles", "readers", "record_batches"},
    {
        "taxonomy",
        "policy",
        "policy_formats",
        "policy_lines",
        "policy_parser",
        "coverage",
        "diff",
        "tickets",
        "synth",
    },
    {"classify"},
    {
        "aggregates",
        "aggregates_stream",
        "crossref",
        "impact",
        "review",
        "feedback",
        "filters",
        "people",
    },
    {"stream", "sinks", "dask_engine"},
    {"report", "export", "charts"},
    {"cli"},
]

#: Cycles inside the classifier package, left to its owner (each an edge of the cycle).
CLASSIFY_CYCLE_EXCEPTIONS: set[tuple[str, str]] = set()

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: Over-long functions in the classifier package, left to its owner: (module, function) -> lines.
CLASSIFY_SIZE_EXCEPTIONS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The kenolib modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "kenolib"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "kenolib":
                continue
            subs = {f"{base}.{a.name}" for a in node.names} & known
            found |= subs or {base}
            if len(subs) < len(node.names):
                found.add(base)
    parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return {m for m in found if m in known and m != name and m not in parents}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {n: imports_of(n, p, set(mods)) for n, p in mods.items()}


def layer(name: str) -> int:
    key = "kenolib" if name == "kenolib" else name.split(".")[1]
    for i, members in enumerate(LAYERS):
        if key in members:
            return i
    raise AssertionError(f"{name}: not in any layer; add it to LAYERS in {__file__}")


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)


def test_every_import_points_down():
    upward = [
        f"{src} (layer {layer(src)}) imports {dst} (layer {layer(dst)})"
        for src, deps in graph().items()
        for dst in sorted(deps)
        if layer(dst) > layer(src)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    edges = {
        src: {d for d in deps if (src, d) not in CLASSIFY_CYCLE_EXCEPTIONS}
        for src, deps in graph().items()
    }
    assert find_cycles(edges) == []


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_classify_exceptions_are_still_needed():
    """An exception the classifier's owner has cleared must leave the list (keep it visible)."""
    g = graph()
    stale = [e for e in CLASSIFY_CYCLE_EXCEPTIONS if e[1] not in g.get(e[0], set())]
    assert not stale, f"remove from CLASSIFY_CYCLE_EXCEPTIONS: {stale}"


def test_no_import_inside_a_function_outside_classify():
    found = []
    for name, path in modules().items():
        if name.startswith("kenolib.classify"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                        "kenolib"
                    ):
                        found.append(f"{name}.{node.name} imports {inner.module}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_module_and_function_sizes(path):
    rel = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{rel}: {lines} lines (at most {MAX_MODULE_LINES})"
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and (rel, node.name) not in CLASSIFY_SIZE_EXCEPTIONS
    ]
    assert not long, f"{rel}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_size_exceptions_are_in_classify_and_still_needed():
    for rel, func in CLASSIFY_SIZE_EXCEPTIONS:
        assert rel.startswith("kenolib/classify/")
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        sizes = [
            n.end_lineno - n.lineno + 1
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == func
        ]
        assert sizes and max(sizes) > MAX_FUNCTION_LINES, f"{rel}:{func} is short now; drop it"
