"""The dependency graph over manifest nodes: ancestors/descendants with depth, order, cycles (no Spark)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from sparkmodels.errors import GraphError
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.select.graph import Graph


def _manifest(edges: dict[str, tuple[str, ...]]) -> Manifest:
    nodes = {f"model.p.{name}": Node(unique_id=f"model.p.{name}", name=name, resource_type="model", package="p",
                                     path=f"models/{name}.sql", fqn=("p", name),
                                     depends_on=tuple(f"model.p.{d}" for d in deps))
             for name, deps in edges.items()}
    return Manifest("p", MappingProxyType(nodes))


# a -> b -> c -> d, a -> x, e -> c
EDGES = {"a": (), "b": ("a",), "c": ("b", "e"), "d": ("c",), "e": (), "x": ("a",)}


def _names(uids):
    return sorted(u.split(".")[-1] for u in uids)


@pytest.fixture
def graph():
    return Graph(_manifest(EDGES))


@pytest.mark.parametrize("name, depth, expected", [
    ("d", None, ["a", "b", "c", "e"]),
    ("d", 1, ["c"]),
    ("d", 2, ["b", "c", "e"]),
    ("a", None, []),
])
def test_ancestors(graph, name, depth, expected):
    assert _names(graph.ancestors(f"model.p.{name}", depth)) == expected


@pytest.mark.parametrize("name, depth, expected", [
    ("a", None, ["b", "c", "d", "x"]),
    ("a", 1, ["b", "x"]),
    ("e", 1, ["c"]),
    ("d", None, []),
])
def test_descendants(graph, name, depth, expected):
    assert _names(graph.descendants(f"model.p.{name}", depth)) == expected


def test_parents_children(graph):
    assert _names(graph.parents("model.p.c")) == ["b", "e"]
    assert _names(graph.children("model.p.a")) == ["b", "x"]


def test_topo_order_is_deterministic_and_valid(graph):
    order = graph.topo_order()
    pos = {u: i for i, u in enumerate(order)}
    for name, deps in EDGES.items():
        for d in deps:
            assert pos[f"model.p.{d}"] < pos[f"model.p.{name}"]
    assert order == Graph(_manifest(dict(reversed(list(EDGES.items()))))).topo_order()
    assert [u.split(".")[-1] for u in graph.topo_order({"model.p.d", "model.p.b", "model.p.x"})] == ["b", "d", "x"]


def test_cycle_error_names_models_and_files():
    with pytest.raises(GraphError) as info:
        Graph(_manifest({"a": ("c",), "b": ("a",), "c": ("b",), "ok": ()}))
    msg = str(info.value)
    assert msg.startswith("Graph error in ")
    for name in "abc":
        assert f"{name} (models/{name}.sql)" in msg
    assert "ok (" not in msg
    assert "Break the cycle" in msg


def test_two_node_cycle():
    with pytest.raises(GraphError, match=r"dependency cycle: (a -> b -> a|b -> a -> b)"):
        Graph(_manifest({"a": ("b",), "b": ("a",)}))
