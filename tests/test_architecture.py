"""The package's shape: stages import only downwards, no module imports another that imports it back.

Layers, lowest first: base (errors, version, udfs) < project < select < plan < execute < report < app.
Every `import` counts, also those inside functions: a lazy import still couples two modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).resolve().parents[1] / "sparkmodels"
LAYERS = ["base", "project", "select", "plan", "execute", "report", "app"]
BASE = {"sparkmodels.errors", "sparkmodels.version", "sparkmodels.udfs"}
PUBLIC = {"sparkmodels", "sparkmodels.__main__"}  # the package's face: re-exports the app's API


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports_of(path: Path, known: set[str], name: str | None = None) -> set[str]:
    """Every sparkmodels module `path` imports (module level or inside functions).

    `name` is the module's dotted name; by default it is derived from the path inside the package.
    """
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            # `from pkg import submodule` names a module; `from mod import attr` names mod
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def layer_of(module: str) -> str:
    if module in BASE:
        return "base"
    if module in PUBLIC:
        return "app"
    return module.split(".")[1]


def import_graph() -> nx.DiGraph:
    mods = modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        for dep in imports_of(path, set(mods)):
            graph.add_edge(name, dep)
    return graph


def test_every_module_belongs_to_a_stage():
    strays = [m for m in modules() if layer_of(m) not in LAYERS]
    assert not strays, f"modules outside the stage packages: {strays}"


def upward_edges(graph: nx.DiGraph) -> list[str]:
    return sorted(f"{a} -> {b}" for a, b in graph.edges
                  if b not in PUBLIC and LAYERS.index(layer_of(b)) > LAYERS.index(layer_of(a)))


def test_imports_point_down_the_stages():
    upward = upward_edges(import_graph())
    assert not upward, "imports against the stage direction:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = import_graph()
    # a package __init__ re-exporting its own submodules is not a cycle between modules
    graph.remove_edges_from([(a, b) for a, b in list(graph.edges) if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


def test_checker_sees_lazy_and_relative_imports(tmp_path):
    """The walk counts an import inside a function and a relative one (the kinds that hid the old
    cycles), and the direction check flags such an upward import in a low stage."""
    known = set(modules())
    fake = tmp_path / "fake.py"
    fake.write_text("import os\n\ndef f():\n    from sparkmodels.app import api\n"
                    "    from ..select import graph\n    from . import config\n")
    found = imports_of(fake, known, name="sparkmodels.project.fake")
    assert found == {"sparkmodels.app.api", "sparkmodels.select.graph", "sparkmodels.project.config"}
    graph = nx.DiGraph([("sparkmodels.project.fake", dep) for dep in found])
    assert upward_edges(graph) == ["sparkmodels.project.fake -> sparkmodels.app.api",
                                   "sparkmodels.project.fake -> sparkmodels.select.graph"]
