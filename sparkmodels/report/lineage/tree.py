"""The `lineage` command's trees: a model's or a column's upstream/downstream walk, for the CLI and API."""

from __future__ import annotations

from typing import Any

from sparkmodels.project.manifest import Manifest, Node


def lineage_tree(p: Any, node: str, *, upstream: bool = True, depth: int | None = None) -> dict:
    """Model- or column-level lineage of `model[.column]` in a loaded project `p` (app.project.Project:
    config, manifest, graph, compiled()) as a tree dict (no Spark).

    Column edges come from the compiled SQL; target/catalog.json, when present, adds Spark's schemas
    and the lineage of Python models.
    """
    import json

    from sparkmodels.errors import SelectionError, did_you_mean
    from sparkmodels.report.lineage.columns import ModelLineage, column_tree, project_column_lineage

    uid, column = _lineage_target(p.manifest, node)
    if uid is None:
        names = [n.name for n in p.manifest.nodes.values() if n.resource_type in ("model", "seed", "snapshot", "source")]
        raise SelectionError(f"no model, seed or source named '{node}'." + did_you_mean(node.split(".")[0], names))
    tree: dict
    if column is None:
        graph = p.graph

        def visit(u: str, level: int, path: frozenset) -> dict:
            n = p.manifest.nodes[u]
            item = {"node": u, "name": _display(n), "resource_type": n.resource_type, "children": []}
            if (depth is None or level < depth) and u not in path:
                nexts = graph.parents(u) if upstream else graph.children(u)
                item["children"] = [visit(x, level + 1, path | {u}) for x in sorted(nexts)
                                    if p.manifest.nodes[x].resource_type != "test"]
            return item

        tree = visit(uid, 0, frozenset())
    else:
        known, py = None, {}
        cat_path = p.config.target_dir / "catalog.json"
        if cat_path.is_file():
            from sparkmodels.report.docs.catalog import known_columns

            try:
                cat = json.loads(cat_path.read_text(encoding="utf-8"))
                known = known_columns(cat)
                py = {u: ModelLineage(d.get("columns", {}), d.get("complete", True), d.get("error"))
                      for u, d in (cat.get("column_lineage") or {}).items()
                      if p.manifest.nodes.get(u) is not None and p.manifest.nodes[u].language == "python"}
            except (OSError, ValueError):
                known = None
        compiled = p.compiled(p.manifest.nodes)
        data = project_column_lineage(p.manifest, compiled, known_columns=known, python_lineage=py,
                                      order=p.graph.topo_order())
        tree = column_tree(data, uid, column, upstream=upstream, depth=depth)

        def name_it(item: dict) -> dict:
            n = p.manifest.nodes.get(item["node"])
            item["name"] = _display(n) if n else item["node"]
            item["resource_type"] = n.resource_type if n else None
            for kid in item["children"]:
                name_it(kid)
            return item

        name_it(tree)
    return {"node": uid, "column": column, "direction": "upstream" if upstream else "downstream",
            "depth": depth, "tree": tree}


def _display(node: Node) -> str:
    return f"{node.source_name}.{node.name}" if node.resource_type == "source" else node.name


def _lineage_target(manifest: Manifest, spec: str) -> tuple[str | None, str | None]:
    """'model', 'model.column', 'source.table' or 'source.table.column' -> (unique_id, column)."""
    spec = spec.strip()
    for name, column in ((spec, None), *([tuple(spec.rsplit(".", 1))] if "." in spec else [])):
        node = manifest.by_name(name)
        if node is not None:
            return node.unique_id, column
        for n in manifest.of_type("source"):
            if f"{n.source_name}.{n.name}" == name:
                return n.unique_id, column
    return None, None
