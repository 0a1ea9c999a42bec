"""Planning: selected nodes -> an ordered, immutable Plan of steps (views pulled in, tests gated)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sparkmodels.plan.compiler import CompiledNode, Compiler
from sparkmodels.plan.gates import gate_on_tests, tests_after_targets
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.select.graph import Graph


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
    kinds = compiler.kinds
    nodes = manifest.nodes
    chosen = {uid for uid in selected if nodes[uid].resource_type in EXECUTABLE and kinds.of(nodes[uid]).runs}
    reasons: dict[str, str] = {}

    def pull_views(uid: str, needed_by: str) -> None:
        for dep in nodes[uid].depends_on:
            dn = nodes[dep]
            if dn.resource_type != "model":
                continue
            kind = kinds.of(dn)
            if kind.inlined:
                pull_views(dep, needed_by)
            elif kind.session_scoped and dep not in chosen and dep not in reasons:
                reasons[dep] = needed_by
                pull_views(dep, nodes[dep].name)

    for uid in sorted(chosen):
        if nodes[uid].config.get("test_type") != "unit":  # unit tests read mocked inputs
            pull_views(uid, nodes[uid].name)
    members = chosen | set(reasons)
    order = [uid for uid in graph.topo_order(_with_ephemeral_paths(graph, members, nodes, kinds)) if uid in members]
    deps = {uid: _step_ancestors(uid, nodes, members, kinds) for uid in order}
    deps = gate_on_tests(order, deps, nodes)
    steps = []
    for uid in tests_after_targets(order, deps, nodes):
        reason = f"view needed by {reasons[uid]}" if uid in reasons else None
        steps.append(PlanStep(uid, nodes[uid], compiler.compile(uid), tuple(sorted(deps[uid])), reason))
    return Plan(tuple(steps), frozenset(chosen), tuple(warnings))


def _with_ephemeral_paths(graph: Graph, members: set[str], nodes: Mapping[str, Node], kinds: Kinds) -> set[str]:
    """Members plus the ephemerals between them, so the topological order sees the real edges."""
    extra = set()
    for uid in members:
        stack = list(nodes[uid].depends_on)
        while stack:
            dep = stack.pop()
            if kinds.of(nodes[dep]).inlined and dep not in extra:
                extra.add(dep)
                stack.extend(nodes[dep].depends_on)
    return members | extra


def _step_ancestors(uid: str, nodes: Mapping[str, Node], members: set[str], kinds: Kinds) -> list[str]:
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
        elif kinds.of(nodes[dep]).inlined:
            stack.extend(nodes[dep].depends_on)
    return sorted(out)
