"""Column-level lineage: which upstream columns each model column derives from, and how (pure, no Spark).

SQL models: the compiled SQL is parsed with sqlglot's Spark dialect, qualified against the upstream
columns known so far (Spark's schemas from the catalog when given, else columns inferred from the
upstream models' own SQL, else the manifest's declared columns), and each output column is walked back
through CTEs, subqueries, joins and unions to the relations ref()/source() compiled to.
Python models get their lineage from the DataFrame's analyzed plan at catalog time (docs/catalog.py).

An edge is plain data, as stored in manifest.json/catalog.json:
    {"node": "<upstream unique_id>", "column": "<upstream column>", "kind": KIND}
KIND is one of passthrough (same name, no change), renamed, transformed (any expression, casts and
UDFs included), aggregated (through an aggregate function outside a window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sparkmodels.plan.compiler import upstream
from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Manifest, Node

KINDS = ("passthrough", "renamed", "transformed", "aggregated")
_PASS, _TRANSFORM, _AGG = 0, 2, 3
_RANK = {"passthrough": 0, "renamed": 1, "transformed": 2, "aggregated": 3}


@dataclass(frozen=True)
class ModelLineage:
    """One model's column lineage: output column -> upstream edges (in SELECT order)."""

    columns: Mapping[str, tuple[dict, ...]]
    complete: bool = True  # False when a `*` over an unknown schema hides some output columns
    error: str | None = None

    def to_dict(self) -> dict:
        return {"columns": {c: list(e) for c, e in self.columns.items()}, "complete": self.complete,
                "error": self.error}


@dataclass
class _Walk:
    """One query's walk over sqlglot scopes (no `qualify`: stars and unqualified columns resolved here).

    relations maps a lower-cased table key to the upstream unique_id; schema maps it to known columns.
    """

    relations: Mapping[str, str]
    schema: Mapping[str, list[str]]
    memo: dict = field(default_factory=dict)
    names_memo: dict = field(default_factory=dict)

    # -- which columns a scope or relation outputs (None: unknown) -----------------------------
    def names(self, scope) -> list[str] | None:
        key = id(scope)
        if key not in self.names_memo:
            self.names_memo[key] = None  # cycle guard
            self.names_memo[key] = self._names(scope)
        return self.names_memo[key]

    def _names(self, scope) -> list[str] | None:
        from sqlglot import exp

        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            branches = scope.set_operation_scopes
            return self.names(branches[0]) if branches else None
        out: list[str] = []
        for sel in getattr(expr, "selects", []):
            if not sel.is_star:
                out.append(sel.alias_or_name)
                continue
            table = sel.table if isinstance(sel, exp.Column) else ""
            for alias in ([table] if table else list(scope.selected_sources)):
                cols = self.source_names(scope.sources.get(alias))
                if cols is None:
                    return None
                out.extend(cols)
        return out

    def source_names(self, src) -> list[str] | None:
        from sqlglot import exp

        if src is None:
            return None
        if isinstance(src, exp.Table):
            return self.schema.get(_table_key(src))
        return self.names(src)

    # -- lineage -----------------------------------------------------------------------------
    def output(self, scope, name: str | None, index: int | None = None, depth: int = 0) -> list:
        """Leaves (uid, column, rank) that output column `name` (or position `index`) of scope comes from."""
        key = (id(scope), name.lower() if name else None, index)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = []  # guards recursive CTE cycles
        out = self._output(scope, name, index, depth) if depth < 64 else []
        self.memo[key] = out
        return out

    def _output(self, scope, name, index, depth) -> list:
        from sqlglot import exp

        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            branches = scope.set_operation_scopes
            if index is None and branches:
                first = self.names(branches[0]) or []
                index = next((i for i, n in enumerate(first) if n.lower() == (name or "").lower()), None)
            out = []
            for branch in branches:
                names = self.names(branch)
                if index is not None and names is not None and index < len(names):
                    out += self.output(branch, names[index], None, depth + 1)
                elif name is not None:
                    out += self.output(branch, name, None, depth + 1)
            return out
        selects = getattr(expr, "selects", [])
        if index is not None:
            names = self.names(scope)
            name = names[index] if names is not None and index < len(names) else name
        if name is None:
            return []
        low = name.lower()
        proj = next((s for s in selects if not s.is_star and s.alias_or_name.lower() == low), None)
        if proj is not None:
            return self.expression(scope, proj, depth)
        out = []  # a star: the column passes through from the star's source(s) that have it
        for star in (s for s in selects if s.is_star):
            table = star.table if isinstance(star, exp.Column) else ""
            if table:
                out += self.source(scope, table, name, depth)
            else:
                out += self.source(scope, "", name, depth)
        return out

    def expression(self, scope, proj, depth: int) -> list:
        from sqlglot import exp

        inner = proj.unalias() if isinstance(proj, exp.Alias) else proj
        if isinstance(inner, exp.Column):
            step = _PASS
        elif any(not a.find_ancestor(exp.Window) for a in inner.find_all(exp.AggFunc)):
            step = _AGG
        else:
            step = _TRANSFORM
        columns = [inner] if isinstance(inner, exp.Column) else list(inner.find_all(exp.Column))
        aliases = {s.alias_or_name.lower(): s for s in scope.expression.selects if s is not proj and not s.is_star}
        out = []
        for col in columns:
            if col.is_star or col is not inner and col.find_ancestor(exp.Select) is not scope.expression:
                continue  # columns of a scalar subquery belong to its own scope
            leaves = self.source(scope, col.table, col.name, depth)
            if not leaves and not col.table and col.name.lower() in aliases:  # Spark's lateral alias
                leaves = self.expression(scope, aliases[col.name.lower()], depth + 1)
            out += [(uid, c, max(rank, step)) for uid, c, rank in leaves]
        return out

    def source(self, scope, alias: str, name: str, depth: int) -> list:
        from sqlglot import exp

        sources = scope.sources
        if not alias:
            candidates = list(scope.selected_sources)
            if len(candidates) > 1:
                # Unqualified over several relations: the one that has it, else the only unknown one.
                known = {a: self.source_names(sources.get(a)) for a in candidates}
                hits = [a for a, cols in known.items() if cols and name.lower() in {c.lower() for c in cols}]
                unknown = [a for a, cols in known.items() if cols is None]
                candidates = hits if hits else unknown
            if len(candidates) != 1:
                return []
            alias = candidates[0]
        src = sources.get(alias)
        if src is None:
            return []
        if isinstance(src, exp.Table):
            uid = self.relations.get(_table_key(src))
            return [(uid, name, _PASS)] if uid else []
        return self.output(src, name, None, depth + 1)


def _leftmost(expr):
    from sqlglot import exp

    while isinstance(expr, exp.SetOperation):
        expr = expr.left
    while isinstance(expr, exp.Subquery):
        expr = expr.this
    return expr


def _table_key(table) -> str:
    return (f"{table.db}.{table.name}" if table.db else table.name).lower()


def relation_key(node: Node) -> str:
    """The lower-cased `db.name`/`name` key of the relation a ref()/source() to node compiles to."""
    from sparkmodels.plan.compiler import relation_name

    return relation_name(node).replace("`", "").lower()


def sql_column_lineage(sql: str, relations: Mapping[str, str],
                       schema: Mapping[str, Iterable[str]] | None = None) -> ModelLineage:
    """Lineage of every output column of one SELECT; relations and schema are keyed by relation key."""
    from sqlglot import errors, exp, parse_one
    from sqlglot.optimizer.scope import build_scope

    try:
        tree = parse_one(sql, read="spark")
        root = build_scope(tree)
    except (errors.SqlglotError, RecursionError, KeyError, ValueError) as exc:
        return ModelLineage({}, False, f"sqlglot could not parse the SQL: {str(exc).splitlines()[0][:200]}")
    if root is None:
        return ModelLineage({}, False, "not a query")
    walk = _Walk(relations, {k: list(v) for k, v in (schema or {}).items()})
    names = walk.names(root)
    complete = names is not None
    if names is None:  # a `*` over an unknown relation: only the explicit projections are known
        top = _leftmost(root.expression)
        names = [s.alias_or_name for s in getattr(top, "selects", []) if not s.is_star]
    is_set = isinstance(root.expression, exp.SetOperation)
    columns: dict[str, tuple[dict, ...]] = {}
    for i, name in enumerate(names):
        if not name or name in columns:
            continue
        leaves = walk.output(root, None if is_set and complete else name, i if is_set and complete else None)
        columns[name] = _edges(name, leaves)
    return ModelLineage(columns, complete)


def _edges(name: str, leaves) -> tuple[dict, ...]:
    best: dict[tuple[str, str], int] = {}
    for uid, col, rank in leaves:
        rank = rank if rank != _PASS else (0 if col.lower() == name.lower() else 1)
        k = (uid, col)
        best[k] = max(best.get(k, -1), rank)
    return tuple({"node": uid, "column": col, "kind": KINDS[rank]} for (uid, col), rank in best.items())


def _relations_for(node: Node, nodes: Mapping[str, Node], kinds: Kinds = BUILTIN) -> dict[str, str]:
    """Relation key -> uid for node's upstream, looking through ephemeral models (inlined as CTEs)."""
    reads = upstream(node, nodes, kinds)
    out = {relation_key(dep): dep.unique_id for dep in (*reads.ephemerals, *reads.relations)}
    return {(k.split(".", 1)[1] if k.startswith(".") else k): v for k, v in out.items()}


def project_column_lineage(manifest: Manifest, compiled: Mapping[str, str], *,
                           known_columns: Mapping[str, Iterable[str]] | None = None,
                           python_lineage: Mapping[str, ModelLineage] | None = None,
                           order: Iterable[str] | None = None, kinds: Kinds = BUILTIN) -> dict[str, ModelLineage]:
    """Column lineage of every model, upstream first, each model's result feeding its children's schema.

    known_columns: complete column lists by uid (e.g. Spark's schemas from the catalog).
    """
    nodes = manifest.nodes
    known = {uid: list(cols) for uid, cols in (known_columns or {}).items()}
    declared = {uid: list(n.columns) for uid, n in nodes.items() if n.columns}
    out: dict[str, ModelLineage] = {}
    if order is None:
        from sparkmodels.select.graph import Graph

        order = Graph(manifest).topo_order()
    for uid in order:
        node = nodes[uid]
        if node.resource_type != "model":
            continue
        if node.language == "python" or uid not in compiled:
            if python_lineage and uid in python_lineage:
                out[uid] = python_lineage[uid]
            continue
        relations = _relations_for(node, nodes, kinds)
        schema = {}
        for key, dep in relations.items():
            cols = known.get(dep) or declared.get(dep)
            if cols:
                schema[key] = cols
        result = sql_column_lineage(compiled[uid], relations, schema)
        out[uid] = result
        if uid not in known and result.complete and result.columns:
            known[uid] = list(result.columns)
    return out


# -- Python models: Spark's analyzed plan (LogicalPlan.toJSON(), pre-order with "num-children") ---------
def _tree(flat: list) -> dict:
    """Rebuild a pre-order flattened Catalyst tree: each item gets a `_kids` list."""
    pos = 0

    def take() -> dict:
        nonlocal pos
        item = flat[pos]
        pos += 1
        item["_kids"] = [take() for _ in range(int(item.get("num-children", 0)))]
        return item

    return take()


def _cls(item: Mapping) -> str:
    return str(item.get("class", "")).rsplit(".", 1)[-1]


def _expr_id(item: Mapping) -> int | None:
    eid = item.get("exprId")
    return eid.get("id") if isinstance(eid, Mapping) else None


def _named(flat_expr: list) -> tuple[str, int] | None:
    """(name, exprId) of a named expression (AttributeReference or Alias) given flattened."""
    if not flat_expr or not isinstance(flat_expr, list):
        return None
    top = flat_expr[0]
    if _cls(top) in ("AttributeReference", "Alias") and _expr_id(top) is not None:
        return str(top.get("name")), _expr_id(top)
    return None


class _PlanWalk:
    """Output attributes per plan node, attribute definitions, and the stop relations (upstream views)."""

    def __init__(self, relations: Mapping[str, str]):
        self.relations = {k.rsplit(".", 1)[-1]: v for k, v in relations.items()}
        self.defs: dict[int, tuple[list, int]] = {}  # exprId -> (input exprIds, step rank)
        self.unions: dict[int, list[int]] = {}  # union output exprId -> other branches' exprIds
        self.stops: dict[int, tuple[str, str]] = {}  # exprId -> (uid, column)

    def output(self, node: dict) -> list[tuple[str, int]]:
        cls, kids = _cls(node), node["_kids"]
        if cls in ("View", "SubqueryAlias"):
            out = self.output(kids[0]) if kids else []
            name = self._relation_name(node)
            uid = self.relations.get(name) if name else None
            if uid:
                for col, eid in out:
                    self.stops[eid] = (uid, col)  # outermost wins: views keep passthrough exprIds
            return out
        kid_outs = [self.output(k) for k in kids]
        if cls in ("Project", "Aggregate", "Window"):
            key = {"Project": "projectList", "Aggregate": "aggregateExpressions"}.get(cls, "windowExpressions")
            items = node.get(key) or []
            out = list(kid_outs[0]) if cls == "Window" and kid_outs else []
            for flat in items:
                named = _named(flat)
                if named is None:
                    continue
                out.append(named)
                if _cls(flat[0]) == "Alias":
                    self.defs[named[1]] = self._definition(flat, aggregate=cls == "Aggregate")
            return out
        if cls == "Union" and kid_outs:
            first = kid_outs[0]
            for other in kid_outs[1:]:
                for i, (_, eid) in enumerate(first):
                    if i < len(other):
                        self.unions.setdefault(eid, []).append(other[i][1])
            return first
        if cls == "Join":
            join_type = str(node.get("joinType", "")).lower()
            return kid_outs[0] if ("semi" in join_type or "anti" in join_type) else [a for o in kid_outs for a in o]
        declared = node.get("output")
        if isinstance(declared, list) and declared and isinstance(declared[0], list):
            out = [n for n in (_named(f) for f in declared) if n]
            inputs = [eid for o in kid_outs for _, eid in o]
            for _, eid in out:  # opaque operators (mapInPandas, ...): every input may feed every output
                if kids and eid not in inputs:
                    self.defs.setdefault(eid, (inputs, _TRANSFORM))
            return out
        if cls == "Generate" and kid_outs:
            gen = [n for n in (_named(f) for f in node.get("generatorOutput") or []) if n]
            return [*kid_outs[0], *gen]
        return [a for o in kid_outs for a in o]

    def _relation_name(self, node: dict) -> str | None:
        if _cls(node) == "View":
            ident = (node.get("desc") or {}).get("identifier") or {}
            return str(ident.get("table", "")).lower() or None
        ident = node.get("identifier") or {}
        return str(ident.get("name", "")).lower() or None

    @staticmethod
    def _definition(flat: list, aggregate: bool) -> tuple[list, int]:
        body = flat[1:]
        refs = [_expr_id(e) for e in body if _cls(e) == "AttributeReference" and _expr_id(e) is not None]
        classes = {_cls(e) for e in body}
        if len(body) == 1 and _cls(body[0]) == "AttributeReference":
            return refs, _PASS
        if aggregate and "AggregateExpression" in classes and "WindowExpression" not in classes:
            return refs, _AGG
        return refs, _TRANSFORM

    def trace(self, eid: int, seen: frozenset = frozenset()) -> list:
        if eid in self.stops:
            uid, col = self.stops[eid]
            out = [(uid, col, _PASS)]
        elif eid in seen:
            return []
        elif eid in self.defs:
            refs, step = self.defs[eid]
            out = [(u, c, max(r, step)) for ref in refs for u, c, r in self.trace(ref, seen | {eid})]
        else:
            out = []
        for other in self.unions.get(eid, ()):
            out += self.trace(other, seen | {eid})
        return out


def plan_column_lineage(plan_json: str, relations: Mapping[str, str]) -> ModelLineage:
    """Column lineage of a DataFrame from its analyzed plan's JSON (`queryExecution().analyzed().toJSON()`).

    relations: upstream temp view name (lower-cased) -> unique_id; the walk stops at those views.
    UDFs are seen through: a column computed by a Python UDF derives from the UDF's input columns.
    """
    import json

    try:
        root = _tree(json.loads(plan_json))
    except (ValueError, IndexError, TypeError, KeyError) as exc:
        return ModelLineage({}, False, f"cannot read the analyzed plan: {exc}")
    walk = _PlanWalk(relations)
    outputs = walk.output(root)
    columns: dict[str, tuple[dict, ...]] = {}
    for name, eid in outputs:
        if name not in columns:
            columns[name] = _edges(name, walk.trace(eid))
    return ModelLineage(columns, True)


def _lineage_of(data: Mapping, uid: str) -> Mapping:
    """Accept ModelLineage objects or their dict form."""
    item = data.get(uid)
    if item is None:
        return {}
    return item.columns if isinstance(item, ModelLineage) else item.get("columns", {})


def column_children(lineage: Mapping) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(uid, column) -> [(child uid, child column, kind)], the downstream direction of the edges."""
    kids: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for uid in lineage:
        for col, edges in _lineage_of(lineage, uid).items():
            for e in edges:
                kids.setdefault((e["node"], e["column"].lower()), []).append((uid, col, e["kind"]))
    return kids


def column_tree(lineage: Mapping, uid: str, column: str, *, upstream: bool = True,
                depth: int | None = None) -> dict:
    """{"node", "column", "kind", "children": [...]} walking column edges up- or downstream."""
    kids = None if upstream else column_children(lineage)

    def visit(u: str, c: str, kind: str | None, level: int, path: frozenset) -> dict:
        item = {"node": u, "column": c, "kind": kind, "children": []}
        if (depth is not None and level >= depth) or (u, c.lower()) in path:
            return item
        path = path | {(u, c.lower())}
        if upstream:
            cols = _lineage_of(lineage, u)
            match = next((k for k in cols if k.lower() == c.lower()), None)
            nexts = [(e["node"], e["column"], e["kind"]) for e in cols.get(match, ())] if match else []
        else:
            nexts = kids.get((u, c.lower()), [])
        item["children"] = [visit(n, nc, k, level + 1, path) for n, nc, k in nexts]
        return item

    return visit(uid, column, None, 0, frozenset())


__all__ = ["KINDS", "ModelLineage", "sql_column_lineage", "plan_column_lineage", "project_column_lineage", "column_tree",
           "column_children", "relation_key"]
