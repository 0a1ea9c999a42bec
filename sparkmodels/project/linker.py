"""Linking: ref()/source() calls to the nodes they name (dbt's ref search order), one relation per name, disabled nodes dropped.

The loader renders every node first, recording its calls; these functions then turn calls into
`depends_on` on the loader's node dict, with located did-you-mean errors, check that no two nodes
share a relation name in the session, and drop disabled nodes (an error if something still
depends on one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sparkmodels.errors import CompilationError, ProjectError, did_you_mean
from sparkmodels.project.kinds import BUILTIN
from sparkmodels.project.manifest import Node


def link(nodes: dict[str, Node], root: str, only: str | None = None) -> None:
    """Turn ref()/source() calls into depends_on (each call remembers its target), with located
    did-you-mean errors (`only`: that node's alone). ref('m') looks where dbt looks: the root
    project, then the calling node's package, then every package (an error when several have an
    'm'); ref('pkg', 'm') in pkg only."""
    by_name: dict[str, dict[str, str]] = {}  # name -> {package: unique_id}
    for uid, n in nodes.items():
        if n.resource_type in ("model", "seed", "snapshot"):
            by_name.setdefault(n.name, {})[n.package] = uid
    sources = {(n.source_name, n.name): uid for uid, n in nodes.items() if n.resource_type == "source"}
    for uid, node in list(nodes.items()):
        if not node.calls or not node.enabled or (only is not None and uid != only):
            continue  # a disabled model's refs may point anywhere: it is dropped next
        deps: list[str] = []
        calls = []
        for call in node.calls:
            if call.kind == "ref":
                target = _resolve_ref(call, node, by_name, root)
            else:
                target = sources.get(tuple(call.args))
                if target is None:
                    known = [f"{s}.{t}" for s, t in sources]
                    raise CompilationError(
                        f"source('{call.args[0]}', '{call.args[1]}') is not defined in any schema YAML file."
                        + did_you_mean(".".join(call.args), known),
                        node=node.name, path=node.path, line=call.line,
                    )
            if target == uid:
                raise CompilationError(f"model '{node.name}' refers to itself.", node=node.name,
                                       path=node.path, line=call.line)
            if target not in deps:
                deps.append(target)
            calls.append(call if call.target == target else replace(call, target=target))
        nodes[uid] = node.evolve(depends_on=tuple(deps), calls=tuple(calls))

def check_relations(nodes: Mapping[str, Node]) -> None:
    """Two nodes may share a name across packages, not a relation: every table and view of a run is
    one name in the SparkSession (its alias, else its name), and an ephemeral model one CTE name."""
    seen: dict[str, Node] = {}
    for node in nodes.values():
        if node.resource_type not in ("model", "seed", "snapshot") or not node.enabled:
            continue
        inlined = node.resource_type == "model" and BUILTIN.named(node.materialized).inlined
        key = f"ephemeral {node.name}" if inlined else str(node.config.get("alias") or node.name)
        other = seen.get(key.lower())
        if other is not None:
            raise ProjectError(
                f"two resources have the relation name '{key}': {other.unique_id} ({other.path}) and "
                f"{node.unique_id} ({node.path}). Relations are named by their alias (else their name) "
                "in the run's session, so two of the same name cannot both exist. Give one of them "
                "another name or an `alias:` config.",
                node=node.name, path=node.path)
        seen[key.lower()] = node

def drop_disabled(nodes: dict[str, Node]) -> None:
    """Remove disabled nodes; a node still depending on one is a located error."""
    disabled = {uid for uid, n in nodes.items() if not n.enabled}
    for uid, node in nodes.items():
        for dep in node.depends_on:
            if dep in disabled and uid not in disabled:
                call = next((c for c in node.calls if c.target == dep), None)
                raise CompilationError(
                    f"it depends on '{dep.split('.')[-1]}', which is disabled (enabled: false).",
                    node=node.name, path=node.path, line=call.line if call else None,
                )
    for uid in disabled:
        del nodes[uid]


def _resolve_ref(call, node: Node, by_name: Mapping[str, Mapping[str, str]], root: str) -> str:
    """The unique_id a ref() call names, by dbt's search order (see link)."""
    name = call.args[-1]
    found = by_name.get(name, {})
    if len(call.args) > 1:
        package = call.args[0]
        if package in found:
            return found[package]
        elsewhere = f" (it exists in {', '.join(sorted(found))})" if found else ""
        raise CompilationError(
            f"ref('{package}', '{name}') refers to a model or seed that package '{package}' does not have"
            f"{elsewhere}." + ("" if found else did_you_mean(name, by_name)),
            node=node.name, path=node.path, line=call.line)
    for package in (root, node.package):
        if package in found:
            return found[package]
    if len(found) > 1:
        uids = sorted(found.values())
        raise CompilationError(
            f"when referencing '{name}', found nodes in multiple packages: "
            + ", ".join(f"'{u}'" for u in uids) + ". Use the two-argument ref with the package name first: "
            + " or ".join(f"ref('{u.split('.')[1]}', '{name}')" for u in uids) + ".",
            node=node.name, path=node.path, line=call.line)
    if found:
        return next(iter(found.values()))
    raise CompilationError(
        f"ref('{name}') refers to a model or seed that does not exist." + did_you_mean(name, by_name),
        node=node.name, path=node.path, line=call.line)
