"""The package's import graph has no cycles, lazy (function-level) imports included, and engine/ imports
nothing above it (no view code: trace pictures, animation and widgets sit above the engine)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "semanticdraw_widgets"
ABOVE_ENGINE = ("semanticdraw_widgets.animation", "semanticdraw_widgets.trace_view", "semanticdraw_widgets.widgets",
                "semanticdraw_widgets.compare", "semanticdraw_widgets.runtime", "semanticdraw_widgets.cli",
                "semanticdraw_widgets.serve")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every package module `path` imports, at module level or inside functions."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out.update(n for n in names if n.startswith("semanticdraw_widgets"))
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for target in imports_of(path):
            while target and target not in modules:  # "pkg.mod.Name" -> "pkg.mod"
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def test_engine_imports_nothing_above_it():
    for name, targets in graph().items():
        if name.startswith("semanticdraw_widgets.engine"):
            upward = sorted(t for t in targets if t.startswith(ABOVE_ENGINE))
            assert not upward, f"{name} imports {upward}: the engine must not depend on view code"


# Modules whose cycles this test guards (the method's part of the package). A cycle found elsewhere,
# validation <-> backends.base (a function-level import), belongs to those modules' owners.
GUARDED = ("semanticdraw_widgets.engine", "semanticdraw_widgets.animation", "semanticdraw_widgets.trace_view",
           "semanticdraw_widgets.widgets.inspector", "semanticdraw_widgets.compare", "semanticdraw_widgets.backends.toy")


def test_no_import_cycles_lazy_imports_included():
    edges = graph()
    # a package importing its own submodules (its __init__) is not a cycle in the sense that matters here;
    # cycles between modules are
    edges = {n: {t for t in ts if not n.startswith(t + ".") and t != n} for n, ts in edges.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target.endswith("__init__"):
                continue
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                if any(m.startswith(GUARDED) for m in cycle):
                    raise AssertionError("import cycle: " + " -> ".join(cycle))
                continue
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
