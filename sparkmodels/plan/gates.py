"""Where tests go in a plan: right after what they test, and in front of what consumes it (build)."""

from __future__ import annotations

from collections.abc import Mapping

from sparkmodels.project.manifest import Node


def _is_test(node: Node) -> bool:
    return node.resource_type == "test"


def _closure(uid: str, deps: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(deps[uid])
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(deps[d])
    return seen


def gate_on_tests(order: list[str], deps: Mapping[str, list[str]], nodes: Mapping[str, Node]) -> dict:
    """Step dependencies with tests as gates, as in `dbt build`.

    A data test on X gates every step that reads X: a failing error-severity test then skips them,
    so a bad table is not consumed. A unit test gates the model it tests. Gates that would close
    a cycle (a test also reading something downstream of the consumer) are left out.
    """
    out = {uid: list(d) for uid, d in deps.items()}
    members = set(order)
    readers: dict[str, list[str]] = {}
    for uid in order:
        if not _is_test(nodes[uid]):
            for d in deps[uid]:
                readers.setdefault(d, []).append(uid)
    for uid in order:
        node = nodes[uid]
        if not _is_test(node):
            continue
        if node.is_unit_test:
            gated = [node.test.attached_node] if node.test.attached_node in members else []
        else:
            gated = sorted({r for d in deps[uid] for r in readers.get(d, [])})
        for step in gated:
            if step != uid and step not in _closure(uid, out) and uid not in out[step]:
                out[step].append(uid)
    return out


def tests_after_targets(order: list[str], deps: Mapping[str, list[str]], nodes: Mapping[str, Node]) -> list[str]:
    """The order with each test moved right behind the last step it waits for."""
    placed = [uid for uid in order if not _is_test(nodes[uid])]
    index = {uid: i for i, uid in enumerate(placed)}
    after: dict[int, list[str]] = {}
    for uid in order:
        if _is_test(nodes[uid]):
            # Right after its last dependency (-1: no dependency in the plan). A model's tests thus
            # run before anything else starts, and a unit test (which waits only for the model's
            # parents) lands in front of its model. The runner still honours every dependency.
            after.setdefault(max((index[d] for d in deps[uid] if d in index), default=-1), []).append(uid)
    out = list(after.get(-1, []))
    for i, uid in enumerate(placed):
        out.append(uid)
        out.extend(after.get(i, []))
    return out
