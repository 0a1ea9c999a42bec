"""Planning: selected nodes -> an ordered, immutable Plan with compiled SQL (refs resolved, ephemerals inlined)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from .checks.planning import gate_on_tests, tests_after_targets
from .graph import Graph
from .manifest import Manifest, Node
from .render import resolve

EPHEMERAL_PREFIX = "__sm_eph_"
# Leading whitespace and SQL comments, then the first keyword.
_LEAD = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_WITH = re.compile(r"with(\s+recursive)?\b", re.I)
_TRAILING_SEMI = re.compile(r"(\s*;)+\Z")  # legal after a statement, not inside a CTE


def relation_name(node: Node) -> str:
    """The SQL name a ref()/source() to this node compiles to."""
    if node.resource_type == "source":
        if node.external:
            return f"`{source_view_name(node)}`"
        schema = node.config.get("schema")
        return f"`{schema}`.`{node.identifier}`" if schema else f"`{node.identifier}`"
    if node.resource_type == "model" and node.materialized == "ephemeral":
        return f"`{EPHEMERAL_PREFIX}{node.name}`"
    return f"`{node.name}`"


def source_view_name(node: Node) -> str:
    """Temp view name under which an external source's files are registered."""
    return f"{node.source_name}__{node.name}"


@dataclass(frozen=True)
class CompiledNode:
    """Compiled SQL plus the map from its lines back to the source file's lines."""

    sql: str
    line_map: tuple[int, ...]

    def source_line(self, node: Node, line: int | None) -> int | None:
        if line is None or not self.line_map:
            return line
        return self.line_map[min(max(line, 1), len(self.line_map)) - 1]


class Compiler:
    """Resolves placeholders and inlines ephemeral models; memoised per manifest."""

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        self.compile = cache(self._compile)

    def _resolved(self, node: Node) -> str:
        nodes = self.manifest.nodes
        by_name = {}
        for dep in node.depends_on:
            dn = nodes[dep]
            by_name[("source", dn.source_name, dn.name) if dn.resource_type == "source" else ("ref", dn.name)] = dn
        rels = []
        for call in node.calls:
            key = ("source", *call.args) if call.kind == "source" else ("ref", call.args[-1])
            rels.append(relation_name(by_name[key]))
        return resolve(node.rendered, rels)

    def ephemeral_chain(self, node: Node) -> list[Node]:
        """Ephemeral ancestors reachable through ephemerals, dependencies first."""
        nodes = self.manifest.nodes
        order: list[Node] = []
        seen: set[str] = set()

        def visit(uid: str) -> None:
            for dep in nodes[uid].depends_on:
                dn = nodes[dep]
                if dn.resource_type == "model" and dn.materialized == "ephemeral" and dep not in seen:
                    seen.add(dep)
                    visit(dep)
                    order.append(dn)

        visit(node.unique_id)
        return order

    def _compile(self, uid: str) -> CompiledNode:
        node = self.manifest.nodes[uid]
        if node.language != "sql" or node.resource_type not in ("model", "test"):
            return CompiledNode(node.raw_code if node.language == "python" else "", ())
        sql = self._resolved(node)
        line_map = tuple(node.line_map)
        # A unit test's SQL reads mocked inputs only: no ephemeral upstream to inline.
        chain = self.ephemeral_chain(node) if node.config.get("test_type") != "unit" else []
        if chain:
            ctes = ",\n".join(
                f"{EPHEMERAL_PREFIX}{e.name} as (\n{_TRAILING_SEMI.sub('', self._resolved(e).strip())}\n)"
                for e in chain
            )
            sql, line_map = inject_ctes(sql, ctes, line_map)
        return CompiledNode(sql, line_map)


def inject_ctes(sql: str, ctes: str, line_map: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """Put CTEs in front of a query, merging with its own WITH clause; shift the line map."""
    lead = _LEAD.match(sql).end()
    added = ctes.count("\n") + 1
    m = _WITH.match(sql, lead)
    if m:
        at = m.end()
        line = sql.count("\n", 0, at) + 1
        new_sql = f"{sql[:at]}\n{ctes},{sql[at:]}"
    else:
        at = lead
        line = sql.count("\n", 0, at) + 1
        new_sql = f"{sql[:at]}with {ctes}\n{sql[at:]}"
    if not line_map:
        return new_sql, ()
    fill = line_map[line - 1] if line - 1 < len(line_map) else line_map[-1]
    return new_sql, (*line_map[:line], *([fill] * added), *line_map[line:])


@dataclass(frozen=True)
class PlanStep:
    """One node to execute: what, how, and why (when it was pulled in for a dependent)."""

    unique_id: str
    node: Node
    compiled: CompiledNode
    depends_on: tuple[str, ...]  # unique_ids of other steps in the plan
    reason: str | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def materialized(self) -> str:
        return self.node.materialized


@dataclass(frozen=True)
class Plan:
    """Steps in a valid execution order; the runner may run independent ones concurrently."""

    steps: tuple[PlanStep, ...]
    selected: frozenset[str]
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.steps)


EXECUTABLE = ("model", "seed", "test")


def build_plan(manifest: Manifest, graph: Graph, selected: Iterable[str], *,
               compiler: Compiler | None = None, warnings: Iterable[str] = ()) -> Plan:
    """Order the selected nodes, adding the unselected upstream views they need in this session."""
    compiler = compiler or Compiler(manifest)
    nodes = manifest.nodes
    chosen = {uid for uid in selected if nodes[uid].resource_type in EXECUTABLE
              and not (nodes[uid].resource_type == "model" and nodes[uid].materialized == "ephemeral")}
    reasons: dict[str, str] = {}

    def pull_views(uid: str, needed_by: str) -> None:
        for dep in nodes[uid].depends_on:
            dn = nodes[dep]
            if dn.resource_type != "model":
                continue
            if dn.materialized == "ephemeral":
                pull_views(dep, needed_by)
            elif dn.materialized == "view" and dep not in chosen and dep not in reasons:
                reasons[dep] = needed_by
                pull_views(dep, nodes[dep].name)

    for uid in sorted(chosen):
        if nodes[uid].config.get("test_type") != "unit":  # unit tests read mocked inputs
            pull_views(uid, nodes[uid].name)
    members = chosen | set(reasons)
    order = [uid for uid in graph.topo_order(_with_ephemeral_paths(graph, members, nodes)) if uid in members]
    deps = {uid: _step_ancestors(uid, nodes, members) for uid in order}
    deps = gate_on_tests(order, deps, nodes)
    steps = []
    for uid in tests_after_targets(order, deps, nodes):
        reason = f"view needed by {reasons[uid]}" if uid in reasons else None
        steps.append(PlanStep(uid, nodes[uid], compiler.compile(uid), tuple(sorted(deps[uid])), reason))
    return Plan(tuple(steps), frozenset(chosen), tuple(warnings))


def _with_ephemeral_paths(graph: Graph, members: set[str], nodes: Mapping[str, Node]) -> set[str]:
    """Members plus the ephemerals between them, so the topological order sees the real edges."""
    extra = set()
    for uid in members:
        stack = list(nodes[uid].depends_on)
        while stack:
            dep = stack.pop()
            if nodes[dep].materialized == "ephemeral" and nodes[dep].resource_type == "model" and dep not in extra:
                extra.add(dep)
                stack.extend(nodes[dep].depends_on)
    return members | extra


def _step_ancestors(uid: str, nodes: Mapping[str, Node], members: set[str]) -> list[str]:
    """Nearest plan members upstream of uid, looking through ephemeral models."""
    out: list[str] = []
    stack = list(nodes[uid].depends_on)
    seen = set()
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        if dep in members:
            out.append(dep)
        elif nodes[dep].resource_type == "model" and nodes[dep].materialized == "ephemeral":
            stack.extend(nodes[dep].depends_on)
    return sorted(out)
