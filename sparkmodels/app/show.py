"""`sparkmodels show`: the first rows of a model or of an inline query, running only what it reads.

dbt's `show`: the node's compiled SQL (an inline query is rendered like a model, ref()/source() and
macros included) is run with a limit and nothing is written. Its upstream views are built on the fly
in the session (ephemerals are inlined by the compiler, as in a run); tables, seeds, snapshots and
incremental models are read from the warehouse as they are, never rebuilt, and one that was never
built is a located error naming the command that builds it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sparkmodels.app.project import Project, ensure_project
from sparkmodels.app.selection import defer_location, selection_context
from sparkmodels.errors import ExecutionError, SelectionError, SparkModelsError, UsageError
from sparkmodels.plan.compiler import CompiledNode, Compiler, identifier, relation_name, upstream
from sparkmodels.plan.options import RunOptions
from sparkmodels.project.config import schema_for
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.select.selector import select as select_nodes

DEFAULT_LIMIT = 5  # dbt show's default
SHOWABLE = ("model", "seed", "snapshot", "analysis")


@dataclass(frozen=True)
class Preview:
    """The rows shown for one node: its name ('inline' for --inline), the SQL run, columns and rows."""

    node: str
    sql: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple, ...]
    limit: int | None  # None: every row

    def to_json(self) -> dict:
        """dbt's `show --output json` shape: {"node": name, "show": [{column: value}, ...]}."""
        return {"node": self.node, "show": [dict(zip(self.columns, map(_plain, row), strict=True)) for row in self.rows]}

    def table(self) -> str:
        """The rows as a text table (dbt's print_table: a header, a rule, one line per row)."""
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(self.columns)]
        numeric = [t in _NUMERIC or t.startswith("decimal") for t in self.types]

        def line(values: Sequence[str], rule: bool = False) -> str:
            out = []
            for value, width, right in zip(values, widths, numeric, strict=True):
                out.append(value.rjust(width) if right and not rule else value.ljust(width))
            return "| " + " | ".join(out) + " |"

        lines = [line(self.columns), line(["-" * w for w in widths], rule=True), *(line(r) for r in cells)]
        return "\n".join(lines)


_NUMERIC = frozenset({"tinyint", "smallint", "int", "bigint", "float", "double"})


def _plain(value):
    """A collected Spark value as JSON data."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value == value.to_integral_value() or len(value.as_tuple().digits) <= 15 else str(value)
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "asDict"):  # a struct (Row)
        return {k: _plain(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _cell(value) -> str:
    if value is None:
        return "null"
    plain = _plain(value)
    return plain if isinstance(plain, str) else json.dumps(plain, default=str)


class Previewer:
    """Runs previews in one engine: upstream views built at most once, tables registered as read."""

    def __init__(self, engine, manifest, config, compiler: Compiler):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self.compiler = compiler
        self.kinds = compiler.kinds
        self._runtime = None  # execute.runtime.ModelRenderer, for the first node that introspects

    def _rendered(self, node: Node, compiled: CompiledNode, incremental: bool) -> CompiledNode:
        """A node marked for run time (it introspects: run_query, adapter...) rendered again in this
        session, its inputs queryable; else `compiled`. incremental: the is_incremental() branch."""
        if not node.runtime_render or node.language != "sql":
            return compiled
        if self._runtime is None:
            from sparkmodels.execute.runtime.models import ModelRenderer

            self._runtime = ModelRenderer(self.engine, self.manifest, self.config, which="show")
        if not self._runtime.needs(node):
            return compiled
        fresh = self._runtime.compiled(node, schema_for(self.config, node.config))
        return fresh.incremental if incremental and fresh.incremental is not None else fresh

    def preview(self, node: Node, compiled: CompiledNode, limit: int | None) -> Preview:
        """Run one node's SQL (compiled) with a limit, after making what it reads queryable."""
        if node.resource_type in ("seed", "snapshot") or node.language == "python":
            if not self.kinds.of(node).holds_data:
                raise UsageError(f"show previews SQL; '{node.name}' is a Python model that is not stored.",
                                 node=node.name, path=node.path,
                                 hint="Materialize it as a table and build it, then show it.")
            self.engine.ensure_relation(node, schema_for(self.config, node.config))  # its stored rows
            compiled = CompiledNode(f"select * from {relation_name(node, self.kinds)}", ())
        else:
            self.ready(upstream(node, self.manifest.nodes, self.kinds).relations)
            schema = schema_for(self.config, node.config)
            stored = self.kinds.of(node).incremental and self.engine.stored_version(node, schema) is not None
            if stored:
                self.engine.ensure_relation(node, schema)  # its is_incremental() branch reads {{ this }}
            # rendered again: the is_incremental() branch a run would take (Project.shown_sql's rule)
            compiled = self._rendered(node, compiled, stored and not node.config.get("full_refresh"))
        try:
            df = self.engine.sql(compiled.sql)
            if limit is not None:
                df = df.limit(limit)
            rows = df.collect()
        except Exception as exc:  # noqa: BLE001 - a Spark error becomes a located one
            raise self._error(exc, node, compiled) from None
        fields = df.schema.fields
        return Preview(node.name, compiled.sql, tuple(f.name for f in fields),
                       tuple(f.dataType.simpleString() for f in fields), tuple(tuple(r) for r in rows), limit)

    def ready(self, relations: Iterable[Node]) -> None:
        """Make each relation queryable: stored ones read as they are, views built (their inputs first)."""
        for dep in relations:
            kind = self.kinds.of(dep)
            if dep.resource_type == "source" or kind.holds_data:
                self.engine.ensure_relation(dep, schema_for(self.config, dep.config))
                continue
            name = identifier(dep)
            if self.engine.is_registered(name):
                continue
            if dep.language == "python":
                raise ExecutionError(f"show builds upstream views on the fly, but '{dep.name}' is a Python "
                                     "view; only SQL views can be built here.", node=dep.name, path=dep.path,
                                     hint="Materialize it as a table and build it first.")
            self.ready(upstream(dep, self.manifest.nodes, self.kinds).relations)
            compiled = self._rendered(dep, self.compiler.compile(dep.unique_id), False)
            try:
                self.engine.sql(compiled.sql).createOrReplaceTempView(name)
            except Exception as exc:  # noqa: BLE001
                raise self._error(exc, dep, compiled) from None
            self.engine.mark_registered(name)

    def _error(self, exc: Exception, node: Node, compiled: CompiledNode) -> SparkModelsError:
        from sparkmodels.execute.materializations.base import spark_error
        from sparkmodels.execute.spark.errors import is_spark_error

        if isinstance(exc, SparkModelsError):
            return exc
        if is_spark_error(exc):
            return spark_error(exc, node, compiled, root=self.config.root)
        return ExecutionError(f"{type(exc).__name__}: {exc}", node=node.name, path=node.path)


def show(project_dir: str | Path = ".", *, inline: str | None = None, limit: int | None = 5,
         options: RunOptions | None = None, spark=None, project: Project | None = None, **keywords):
    """`sparkmodels show`: the first `limit` rows (None or a negative number: all) of the selected
    models, or of an `inline` query (Jinja with ref()/source() and macros), as app.show.Preview values.

    `options` (and its fields as keywords) give select/exclude/selector, target, vars and
    state/defer (unbuilt tables read from the state's warehouse). Upstream views are built in the
    session on the fly; stored tables are read as they are, never rebuilt (Previewer).
    """
    from sparkmodels.execute.engine import Engine
    from sparkmodels.project.loader import inline_node
    from sparkmodels.select.state import load_state

    options = (options or RunOptions()).replace(**keywords)
    if (inline is None) == (not (options.select or options.selector)):
        raise UsageError("show takes either --select MODEL or --inline 'select ...' (one of them).")
    limit = None if limit is None or limit < 0 else int(limit)
    p = ensure_project(project_dir, options.target, options.vars, project=project)
    previous = load_state(options.state) if options.state is not None else None
    if inline is not None:
        node = inline_node(p.config, p.manifest, inline)
        manifest = Manifest(p.manifest.project_name, MappingProxyType({**p.manifest.nodes, node.unique_id: node}),
                            p.manifest.macros, p.manifest.metadata, p.manifest.warnings)
        compiler = Compiler(manifest, p.compiler.kinds)
        todo = [(node, compiler.compile(node.unique_id))]
    else:
        select, context, _ = selection_context(p, options.select, selector=options.selector, previous=previous)
        sel = select_nodes(p.manifest, p.graph, select, options.exclude, resource_types=SHOWABLE, context=context)
        if not sel.selected:
            raise SelectionError(f"show: the selection {' '.join(options.select or (options.selector or '',))!r} "
                                 "matches no model, seed, snapshot or analysis." + "".join(f" {w}" for w in sel.warnings))
        manifest, compiler = p.manifest, p.compiler
        order = [uid for uid in p.graph.topo_order() if uid in sel.selected]
        todo = []
        for uid in order:
            shown = p.shown_sql(uid)  # an incremental model: the branch its table's state implies
            compiled = compiler.compile(uid)
            if shown != compiled.sql:
                compiled = compiled.incremental or compiled
            todo.append((manifest.nodes[uid], compiled))
    target = p.config.target
    engine = Engine(target, spark, project_root=p.config.root, app_name="sparkmodels show", kinds=compiler.kinds)
    if options.defer and previous is not None:
        engine.defer = defer_location(previous, p)
    try:
        from sparkmodels.execute.python.models import register_udfs

        register_udfs(engine, p.config)  # SQL may call the project's UDFs by name
        previewer = Previewer(engine, manifest, p.config, compiler)
        return tuple(previewer.preview(node, compiled, limit) for node, compiled in todo)
    finally:
        engine.stop()
