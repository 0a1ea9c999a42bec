"""The dependency graph: a networkx DiGraph over manifest nodes (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from sparkmodels.errors import GraphError
from sparkmodels.project.manifest import Manifest


class Graph:
    """Parent -> child edges between node unique_ids, checked for cycles on construction."""

    def __init__(self, manifest: Manifest):
        self.manifest = manifest
        g = nx.DiGraph()
        g.add_nodes_from(manifest.nodes)
        for uid, node in manifest.nodes.items():
            for dep in node.depends_on:
                g.add_edge(dep, uid)
        self.g = g
        self._check_cycles()

    def _check_cycles(self) -> None:
        # find_cycle walks every edge the slow way; the DAG test is linear and almost always true.
        if nx.is_directed_acyclic_graph(self.g):
            return
        try:
            cycle = nx.find_cycle(self.g)
        except nx.NetworkXNoCycle:
            return
        members = [edge[0] for edge in cycle]
        nodes = [self.manifest.nodes[m] for m in members]
        chain = " -> ".join(n.name for n in [*nodes, nodes[0]])
        files = ", ".join(f"{n.name} ({n.path})" for n in nodes)
        first = nodes[0]
        raise GraphError(
            f"dependency cycle: {chain}. Models on the cycle: {files}.",
            node=first.name, path=first.path,
            hint="Break the cycle by removing one of these ref() calls.",
        )

    def ancestors(self, uid: str, depth: int | None = None) -> set[str]:
        if depth is None:
            return nx.ancestors(self.g, uid)
        return set(nx.single_source_shortest_path_length(self.g.reverse(copy=False), uid, cutoff=depth)) - {uid}

    def descendants(self, uid: str, depth: int | None = None) -> set[str]:
        if depth is None:
            return nx.descendants(self.g, uid)
        return set(nx.single_source_shortest_path_length(self.g, uid, cutoff=depth)) - {uid}

    def parents(self, uid: str) -> list[str]:
        return list(self.g.predecessors(uid))

    def children(self, uid: str) -> list[str]:
        return list(self.g.successors(uid))

    def topo_order(self, subset: Iterable[str] | None = None) -> list[str]:
        """Deterministic topological order (ties broken by unique_id)."""
        g = self.g if subset is None else self.g.subgraph(subset)
        return list(nx.lexicographical_topological_sort(g))
