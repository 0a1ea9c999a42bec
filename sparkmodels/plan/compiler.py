"""Compiling: a node's rendered SQL with refs resolved to relation names and ephemerals inlined as CTEs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Manifest, Node, source_line
from sparkmodels.project.render.jinja import resolve

EPHEMERAL_PREFIX = "__sm_eph_"
# Leading whitespace and SQL comments, then the first keyword.
_LEAD = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
_WITH = re.compile(r"with(\s+recursive)?\b", re.I)
_TRAILING_SEMI = re.compile(r"(\s*;)+\Z")  # legal after a statement, not inside a CTE
_BATCH_OPEN, _BATCH_CLOSE = "\ue004", "\ue005"
_BATCH = re.compile(f"{_BATCH_OPEN}(.*?){_BATCH_CLOSE}", re.S)


def batch_sql(compiled: CompiledNode, predicate) -> str:
    """A microbatch model's SQL for one batch: predicate(column) fills each event_time input's filter."""
    return _BATCH.sub(lambda m: predicate(m.group(1)), compiled.batch or compiled.sql)


def identifier(node: Node) -> str:
    """The name of a model's or seed's relation: its `alias` config (dbt's generate_alias_name), else its name."""
    return str(node.config.get("alias") or node.name)


def is_ephemeral(node: Node, kinds: Kinds = BUILTIN) -> bool:
    """An inlined model (ephemeral): no relation of its own, compiled as a CTE into whatever reads it."""
    return node.resource_type == "model" and kinds.of(node).inlined


@dataclass(frozen=True)
class Upstream:
    """What a node reads once ephemeral models are seen through (the one walk over them)."""

    ephemerals: tuple[Node, ...]  # inlined into the node's SQL, each after the ephemerals it reads
    relations: tuple[Node, ...]  # the real relations its SQL (CTEs included) reads


def upstream(node: Node, nodes: Mapping[str, Node], kinds: Kinds = BUILTIN) -> Upstream:
    """The ephemerals a node inlines and the relations it then reads, each once."""
    ephemerals: list[Node] = []
    relations: list[Node] = []
    seen: set[str] = set()

    def visit(reader: Node) -> None:
        for dep in reader.depends_on:
            if dep in seen or dep not in nodes:
                continue
            seen.add(dep)
            if is_ephemeral(nodes[dep], kinds):
                visit(nodes[dep])
                ephemerals.append(nodes[dep])
            else:
                relations.append(nodes[dep])

    visit(node)
    return Upstream(tuple(ephemerals), tuple(relations))


def relation_name(node: Node, kinds: Kinds = BUILTIN) -> str:
    """The SQL name a ref()/source() to this node compiles to (an inlined node's CTE name)."""
    if node.resource_type == "source":
        if node.external:
            return f"`{source_view_name(node)}`"
        schema = node.config.get("schema")
        return f"`{schema}`.`{node.identifier}`" if schema else f"`{node.identifier}`"
    if kinds.of(node).inlined:
        return f"`{EPHEMERAL_PREFIX}{node.name}`"
    return f"`{identifier(node)}`"


def source_view_name(node: Node) -> str:
    """Temp view name under which an external source's files are registered."""
    return f"{node.source_name}__{node.name}"


@dataclass(frozen=True)
class CompiledNode:
    """Compiled SQL plus the map from its lines back to the source file's lines."""

    sql: str
    line_map: tuple[int, ...]
    # An incremental model's SQL with is_incremental() true (None: the same SQL either way).
    incremental: CompiledNode | None = None
    # A microbatch model's SQL with each event_time input wrapped in a filter to fill per batch.
    batch: str | None = None

    def source_line(self, line: int | None) -> int | None:
        """The source file's line behind a line of this SQL."""
        return source_line(self.line_map, line)


class Compiler:
    """Resolves placeholders and inlines ephemeral models; memoised per manifest.

    `kinds` says which materialisations are inlined; the plan, cache and reports built over this
    compiler read it too, so one run sees one table."""

    def __init__(self, manifest: Manifest, kinds: Kinds = BUILTIN):
        self.manifest = manifest
        self.kinds = kinds
        self.compile = cache(self._compile)

    def _resolved(self, node: Node, text: str | None = None, *, batch: bool = False) -> str:
        nodes = self.manifest.nodes
        by_name = {}
        for dep in node.depends_on:
            dn = nodes[dep]
            by_name[("source", dn.source_name, dn.name) if dn.resource_type == "source" else ("ref", dn.name)] = dn
        rels = []
        for call in node.calls:
            if call.target is not None and call.target in nodes:  # linked: the node it resolved to
                dn = nodes[call.target]
            else:
                dn = by_name[("source", *call.args) if call.kind == "source" else ("ref", call.args[-1])]
            rel = relation_name(dn, self.kinds)
            if batch and dn.config.get("event_time"):  # microbatch: this input is read one window at a time
                rel = f"(select * from {rel} where {_BATCH_OPEN}`{dn.config['event_time']}`{_BATCH_CLOSE})"
            rels.append(rel)
        return resolve(node.rendered if text is None else text, rels)

    def _compile(self, uid: str) -> CompiledNode:
        return self.compile_node(self.manifest.nodes[uid])

    def compile_node(self, node: Node) -> CompiledNode:
        """Compile a node that need not be the manifest's (a model rendered again at run time)."""
        if node.language != "sql" or node.resource_type not in ("model", "test", "snapshot", "analysis"):
            return CompiledNode(node.raw_code if node.language == "python" else "", ())
        # A unit test's SQL reads mocked inputs only: no ephemeral upstream to inline.
        chain = upstream(node, self.manifest.nodes).ephemerals if not node.is_unit_test else ()
        ctes = ",\n".join(
            f"{EPHEMERAL_PREFIX}{e.name} as (\n{_TRAILING_SEMI.sub('', self._resolved(e).strip())}\n)"
            for e in chain
        )

        def one(text: str | None, line_map: tuple[int, ...], batch=False) -> tuple[str, tuple[int, ...]]:
            sql = self._resolved(node, text, batch=batch)
            return inject_ctes(sql, ctes, tuple(line_map)) if ctes else (sql, tuple(line_map))

        incremental = batch = None
        if node.rendered_incremental is not None:
            incremental = CompiledNode(*one(node.rendered_incremental, node.line_map_incremental))
        if node.config.get("incremental_strategy") == "microbatch":
            batch = one(None, node.line_map, batch=True)[0]
        return CompiledNode(*one(None, node.line_map), incremental, batch)


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
