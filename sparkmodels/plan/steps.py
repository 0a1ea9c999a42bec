"""Planning: selected nodes -> an ordered, immutable Plan of steps (views pulled in, tests gated)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sparkmodels.plan.compiler import CompiledNode, Compiler, Upstream, upstream
from sparkmodels.plan.gates import gate_on_tests, tests_after_targets
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
    reads: dict[str, Upstream] = {}

    def upstream_of(uid: str) -> Upstream:
        if uid not in reads:
            reads[uid] = upstream(nodes[uid], nodes, kinds)
        return reads[uid]

    def pull_views(uid: str, needed_by: str) -> None:
        for dep in upstream_of(uid).relations:
            if (dep.resource_type == "model" and kinds.of(dep).session_scoped
                    and dep.unique_id not in chosen and dep.unique_id not in reasons):
                reasons[dep.unique_id] = needed_by
                pull_views(dep.unique_id, dep.name)

    for uid in sorted(chosen):
        if not nodes[uid].is_unit_test:  # unit tests read mocked inputs
            pull_views(uid, nodes[uid].name)
    members = chosen | set(reasons)
    # The ephemerals between members too, so the topological order sees the real edges.
    between = {e.unique_id for uid in members for e in upstream_of(uid).ephemerals}
    order = [uid for uid in graph.topo_order(members | between) if uid in members]
    # Each step waits for the nearest plan members upstream of it, ephemerals seen through.
    deps = {uid: sorted(r.unique_id for r in upstream_of(uid).relations if r.unique_id in members)
            for uid in order}
    deps = gate_on_tests(order, deps, nodes)
    steps = []
    for uid in tests_after_targets(order, deps, nodes):
        reason = f"view needed by {reasons[uid]}" if uid in reasons else None
        steps.append(PlanStep(uid, nodes[uid], compiler.compile(uid), tuple(sorted(deps[uid])), reason))
    return Plan(tuple(steps), frozenset(chosen), tuple(warnings))
