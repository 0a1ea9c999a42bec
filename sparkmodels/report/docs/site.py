"""The static docs site: target/docs/ (index.html, app.js, app.css, data.js) from the manifest (no Spark).

data.js assigns one global, `window.SPARKMODELS_DOCS`, so the site works from file:// without fetch().
The graph layout (layer = topological depth, order within a layer by barycentre sweeps) is computed here
once, so the browser only draws what is in view.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node

STATIC = Path(__file__).parent / "static"
STATIC_FILES = ("index.html", "app.js", "app.css")
GRAPH_TYPES = ("model", "seed", "source")
X_GAP, Y_GAP = 280, 44


def layout(manifest: Manifest, uids: list[str]) -> dict[str, tuple[int, int]]:
    """(layer, position) per node: layer = longest path from a root; positions by barycentre sweeps."""
    members = set(uids)
    nodes = manifest.nodes
    parents = {u: [d for d in nodes[u].depends_on if d in members] for u in uids}
    children: dict[str, list[str]] = {u: [] for u in uids}
    for u, ps in parents.items():
        for p in ps:
            children[p].append(u)
    layer: dict[str, int] = {}
    for u in _topo(uids, parents, children):
        layer[u] = 1 + max((layer[p] for p in parents[u]), default=-1)
    layers: dict[int, list[str]] = {}
    for u in sorted(uids, key=lambda x: (nodes[x].path, nodes[x].name)):
        layers.setdefault(layer[u], []).append(u)
    pos = {u: i for members_ in layers.values() for i, u in enumerate(members_)}
    depth = max(layers) if layers else 0
    for sweep in range(4):  # down, up, down, up: each node moves towards its neighbours' mean position
        rng = range(1, depth + 1) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for li in rng:
            row = layers[li]
            near = parents if sweep % 2 == 0 else children

            def key(u, near=near):
                ns = near[u]
                return (sum(pos[n] for n in ns) / len(ns)) if ns else pos[u]

            row.sort(key=key)
            for i, u in enumerate(row):
                pos[u] = i
    return {u: (layer[u], pos[u]) for u in uids}


def _topo(uids, parents, children) -> list[str]:
    waiting = {u: len(parents[u]) for u in uids}
    ready = [u for u in uids if waiting[u] == 0]
    out = []
    while ready:
        u = ready.pop()
        out.append(u)
        for c in children[u]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    return out


def _folder(node: Node) -> str:
    if node.resource_type == "source":
        return f"sources/{node.source_name}"
    parent = Path(node.path).parent.as_posix()
    return "" if parent == "." else parent


def _run_results(target_dir: Path) -> dict[str, dict]:
    path = target_dir / "run_results.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for r in data.get("results") or []:
        timing = r.get("timing") or [{}]
        out[r.get("unique_id")] = {
            "status": r.get("status"), "message": r.get("message"), "time": r.get("execution_time"),
            "at": timing[-1].get("completed_at") if timing else None,
            "rows": (r.get("adapter_response") or {}).get("rows_affected"),
            "command": (data.get("args") or {}).get("command"),
        }
    return out


def site_data(manifest: Manifest, compiled: Mapping[str, str], *, catalog: Mapping | None = None,
              column_lineage: Mapping[str, Mapping] | None = None, run_results: Mapping | None = None,
              project_name: str | None = None) -> dict:
    """Everything the single-page app shows, as one JSON-able dict (edges by node index)."""
    nodes = manifest.nodes
    shown = sorted((u for u, n in nodes.items() if n.resource_type in GRAPH_TYPES),
                   key=lambda u: (nodes[u].resource_type != "source", nodes[u].path, nodes[u].name))
    index = {u: i for i, u in enumerate(shown)}
    cat_nodes = {**((catalog or {}).get("nodes") or {}), **((catalog or {}).get("sources") or {})}
    run_results = run_results or {}
    tests_by_node: dict[str, list[int]] = {}
    tests = []
    for uid, n in sorted(nodes.items()):
        if n.resource_type != "test":
            continue
        spec = n.test
        tests.append({"id": uid, "name": n.name, "test": spec.name if spec else n.name,
                      "node": index.get(spec.attached_node if spec else None, -1),
                      "column": spec.column_name if spec else None,
                      "type": "unit" if n.is_unit_test else "data", "path": n.path,
                      "status": (run_results.get(uid) or {}).get("status")})
        for dep in n.depends_on:
            tests_by_node.setdefault(dep, []).append(len(tests) - 1)
    pos = layout(manifest, shown)
    children: dict[str, list[int]] = {u: [] for u in shown}
    for u in shown:
        for d in nodes[u].depends_on:
            if d in children:
                children[d].append(index[u])
    out_nodes = []
    for u in shown:
        n = nodes[u]
        cat = cat_nodes.get(u) or {}
        cat_cols = cat.get("columns") or {}
        cols, seen = [], set()
        for c in n.columns.values():
            cc = _match(cat_cols, c.name)
            cols.append({"name": c.name, "desc": c.description, "type": (cc or {}).get("type") or c.data_type or ""})
            seen.add(c.name.lower())
        for name, cc in cat_cols.items():  # columns Spark knows but the YAML does not document
            if name.lower() not in seen:
                cols.append({"name": name, "desc": "", "type": cc.get("type") or ""})
                seen.add(name.lower())
        lin = (column_lineage or {}).get(u) or {}
        lin_cols = lin.get("columns", {}) if isinstance(lin, Mapping) else {}
        for name in lin_cols:  # columns only the SQL reveals (no catalog)
            if name.lower() not in seen:
                cols.append({"name": name, "desc": "", "type": ""})
                seen.add(name.lower())
        layer, p = pos[u]
        out_nodes.append({
            "id": u, "name": n.name, "type": n.resource_type, "mat": n.materialized if n.resource_type == "model" else n.resource_type,
            "path": n.path, "folder": _folder(n), "lang": n.language, "desc": n.description,
            "source": n.source_name, "tags": list(n.config.get("tags") or ()),
            "config": _plain(thaw(n.config)), "external": _plain(thaw(n.external)) if n.external else None,
            "raw": n.raw_code, "compiled": compiled.get(u) if n.language == "sql" else None,
            "cols": cols, "deps": [index[d] for d in n.depends_on if d in index], "kids": children[u],
            "tests": tests_by_node.get(u, []), "x": layer * X_GAP, "y": p * Y_GAP, "layer": layer,
            "run": run_results.get(u), "stats": cat.get("stats"), "catalog_error": cat.get("error"),
            "lineage": {c: [[index.get(e["node"], -1), e["column"], e["kind"]] for e in edges]
                        for c, edges in lin_cols.items()},
            "lineage_complete": lin.get("complete", True) if isinstance(lin, Mapping) else True,
        })
    return {
        "project": project_name or manifest.project_name,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "has_catalog": catalog is not None, "nodes": out_nodes, "tests": tests,
        "spark_version": ((catalog or {}).get("metadata") or {}).get("spark_version"),
    }


def _match(cols: Mapping, name: str):
    if name in cols:
        return cols[name]
    low = name.lower()
    return next((v for k, v in cols.items() if k.lower() == low), None)


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def write_site(out_dir: Path, data: Mapping) -> Path:
    """Copy the vendored app next to a freshly written data.js; returns index.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in STATIC_FILES:
        shutil.copyfile(STATIC / name, out_dir / name)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    # "</" inside a <script src> file is harmless, but U+2028/2029 are not valid in older JS string literals.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    tmp = out_dir / "data.js.tmp"
    tmp.write_text(f"window.SPARKMODELS_DOCS = {text};\n", encoding="utf-8")
    tmp.replace(out_dir / "data.js")
    return out_dir / "index.html"


def run_results_for(target_dir: Path) -> dict[str, dict]:
    """Last status per unique_id from target/run_results.json ({} when absent)."""
    return _run_results(target_dir)
