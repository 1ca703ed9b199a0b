"""No import cycles in the package, counting imports inside functions (a lazy import hides a cycle, not removes it),
and engine/ imports nothing above it (no view code: trace pictures, animation and widgets sit above the engine)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "semanticdraw_widgets"

ABOVE_ENGINE = ("semanticdraw_widgets.animation", "semanticdraw_widgets.trace_view", "semanticdraw_widgets.widgets",
                "semanticdraw_widgets.compare", "semanticdraw_widgets.runtime", "semanticdraw_widgets.cli",
                "semanticdraw_widgets.serve")


def modules(package: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    found = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The package modules one import statement loads: `from .x import y` is x.y when y is a module, else x."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = {f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target for alias in node.names}
    return {name for name in found if name in known}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Edges module -> module for every import statement anywhere in the file, functions included."""
    found = modules(package)
    known = set(found)
    graph: dict[str, set[str]] = {name: set() for name in found}
    for name, (path, is_package) in found.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name] |= import_targets(name, is_package, node, known) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iters = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph[nxt])))
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_lazy_imports_count(tmp_path):
    """The checker sees an import inside a function, and a cycle through a package's __init__ re-export."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "__init__.py").write_text("from .b import g\n")
    (package / "sub" / "b.py").write_text("from .. import a\n\ndef g():\n    pass\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.a"}
    assert find_cycle(graph) in (["pkg.a", "pkg.sub.b", "pkg.a"], ["pkg.sub.b", "pkg.a", "pkg.sub.b"])
    (package / "sub" / "b.py").write_text("def g():\n    pass\n")
    assert find_cycle(import_graph(package)) is None


def test_engine_imports_nothing_above_it():
    for name, targets in import_graph().items():
        if name.startswith("semanticdraw_widgets.engine"):
            upward = sorted(t for t in targets if t.startswith(ABOVE_ENGINE))
            assert not upward, f"{name} imports {upward}: the engine must not depend on view code"
