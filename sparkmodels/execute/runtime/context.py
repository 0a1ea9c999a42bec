"""The run-time backend of a render: relations, run_query, statement/load_result and `adapter` in the run's session.

`RunContext` is what `Renderer.render(runtime=...)` (or `extra={"__sm_runtime": ctx}`) consults for
every call that needs the warehouse: ref()/source() become Relation objects named as the session
knows them (made queryable first), `run_query` and `{% call statement(...) %}` run SQL, and
`adapter.*` introspection answers from Spark (adapter.py). A SQL error is an ExecutionError, which
the renderer locates at the template line (of the model, or of the macro) that sent it.

One RunContext serves one run (models, hooks, operations): it caches nothing about relations but the
name lookup, so a relation built earlier in the run is seen by the next render.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace

from sparkmodels.errors import CompilationError, ExecutionError, SparkModelsError, did_you_mean
from sparkmodels.execute.runtime.adapter import RuntimeAdapter
from sparkmodels.execute.runtime.table import Table
from sparkmodels.plan.compiler import identifier, relation_name
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.project.render import dbt_context
from sparkmodels.project.render.introspect import Relation

_QUERY = re.compile(r"(?:\s+|--[^\n]*\n|/\*.*?\*/)*(?:select|with|values|show|describe|desc|explain)\b", re.I | re.S)


def relation_type(node: Node, kinds: Kinds) -> str:
    """dbt's Relation.type of a node: 'cte' (ephemeral), 'view' (session view) or 'table'."""
    if node.resource_type == "source":
        return "table"
    kind = kinds.of(node)
    return "cte" if kind.inlined else "view" if kind.session_scoped else "table"


class _Graph(Mapping):
    """dbt's `graph` (nodes, sources, macros), built on first read."""

    def __init__(self, manifest: Manifest):
        self._manifest = manifest
        self._data: dict | None = None

    def _load(self) -> dict:
        if self._data is None:
            nodes = self._manifest.nodes.values()
            self._data = {
                "nodes": {n.unique_id: n.to_dict() for n in nodes if n.resource_type != "source"},
                "sources": {n.unique_id: n.to_dict() for n in nodes if n.resource_type == "source"},
                "macros": {}, "exposures": {}, "metrics": {}, "groups": {}, "semantic_models": {},
            }
        return self._data

    def __getitem__(self, key):
        return self._load()[key]

    def __iter__(self) -> Iterator:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


class RunContext:
    """Run-time answers for renders in one engine's session (thread-safe for the runner's threads)."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, kinds: Kinds | None = None, *,
                 log: Callable[[str, bool], None] | None = None, selected=(), which: str = "run"):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self.kinds = kinds or engine.kinds
        self._log = log
        self.selected = tuple(selected)
        # dbt's flags as a run sees them (WHICH: dbt_utils.star writes a placeholder only for `compile`)
        self.flags = dbt_context.flags(full_refresh=bool(getattr(engine, "full_refresh", False)), which=which,
                                       project=getattr(config, "flags", None))
        self._names: dict | None = None
        self._results: dict[str, SimpleNamespace] = {}
        # Columns by relation name, for this run: a relation changes only when its node is built
        # (the runner calls forget()), dropped, or a statement other than a query runs.
        self._columns: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self.adapter = RuntimeAdapter(self)
        self.graph = _Graph(manifest)
        self.failure: SparkModelsError | None = None  # the last run-time error (kept for callers' messages)

    # -- names -----------------------------------------------------------------------------------
    def _known(self) -> dict:
        if self._names is None:
            refs: dict = {}
            for n in self.manifest.nodes.values():  # the root project's node of a name first, as ref() resolves it
                if n.resource_type in ("model", "seed", "snapshot"):
                    if n.package == self.config.name or (n.name,) not in refs:
                        refs[(n.name,)] = n
                    refs[(n.package, n.name)] = n
            sources = {(n.source_name, n.name): n for n in self.manifest.nodes.values() if n.resource_type == "source"}
            self._names = {"ref": refs, "source": sources}
        return self._names

    def node_named(self, name: str) -> Node | None:
        """The model/seed/snapshot whose relation is called `name` (its alias, else its name)."""
        for n in self.manifest.nodes.values():
            if n.resource_type in ("model", "seed", "snapshot") and identifier(n) == name:
                return n
        return None

    def schema_of(self, node: Node) -> str:
        if node.resource_type == "source":
            return str(node.config.get("schema") or node.source_name)
        return schema_for(self.config, node.config)

    def relation_of(self, node: Node, *, ensure: bool = True) -> Relation:
        """A node's Relation, named as the SQL needs it; made queryable in the session first."""
        kind = relation_type(node, self.kinds)
        if ensure and kind != "cte":
            try:
                self.engine.ensure_relation(node, self.schema_of(node))
            except SparkModelsError as exc:  # e.g. a table not built yet: its own, located error
                self.failure = exc
                raise
        name = node.identifier if node.resource_type == "source" else identifier(node)
        return Relation(name, self.schema_of(node), None, type=kind, text=relation_name(node, self.kinds))

    def relation(self, kind: str, args: tuple) -> Relation:
        """ref(name) / ref(package, name) / source(source, table) at run time."""
        known = self._known()[kind]
        key = tuple(str(a) for a in args)
        if key not in known:
            wanted = ".".join(key)
            raise CompilationError(f"{kind}('{wanted}') names nothing in the project."
                                   + did_you_mean(wanted, [".".join(k) for k in known]))
        return self.relation_of(known[key])

    # -- queries ---------------------------------------------------------------------------------
    def columns(self, name: str) -> tuple:
        """(name, type) pairs of a relation, analysed once per run (no Spark job)."""
        with self._lock:
            found = self._columns.get(name)
        if found is None:
            table = self.query(f"select * from {name}", what="get_columns_in_relation", rows=False)
            found = tuple(zip(table.column_names, table.column_types, strict=True))
            with self._lock:
                self._columns[name] = found
        return found

    def forget(self, name: str | None = None) -> None:
        """A relation was (re)built or dropped: read its columns again (None: every relation's)."""
        with self._lock:
            if name is None:
                self._columns.clear()
            else:
                self._columns.pop(name, None)

    def query(self, sql, what: str = "run_query", *, rows: bool = True) -> Table:
        """Run SQL in the session; rows=False: only its columns (analysed, no Spark job)."""
        text = str(sql).strip().rstrip(";").strip()
        if rows and not _QUERY.match(text):
            self.forget()  # DDL or DML sent by a macro may change any relation
        try:
            df = self.engine.sql(text)
            fields = df.schema.fields
            rows = df.collect() if fields and rows else []
        except Exception as exc:  # noqa: BLE001 - Spark's error, located at the calling line by the render
            from sparkmodels.execute.spark.failures import plain_message

            short = " ".join(text.split())
            self.failure = ExecutionError(f"{what} failed: {plain_message(str(exc))}",
                                          hint=f"The SQL sent: {short[:300]}{'...' if len(short) > 300 else ''}")
            raise self.failure from None
        return Table([f.name for f in fields], [tuple(r) for r in rows], [f.dataType.simpleString() for f in fields])

    def run_query(self, sql=None) -> Table:
        return self.query(sql)

    def statement(self, name=None, fetch_result=False, auto_begin=True, language="sql", caller=None, **_kw) -> str:
        """`{% call statement(name, fetch_result=true) %}SQL{% endcall %}`: runs SQL, keeps the result."""
        sql = caller() if caller is not None else ""
        if language != "sql":
            raise CompilationError(f"statement(language='{language}') is not supported; only SQL statements run.")
        table = self.query(sql, what=f"statement '{name}'" if name else "statement")
        response = SimpleNamespace(_message="OK", code="OK", rows_affected=len(table))
        if name is not None:
            with self._lock:
                self._results[str(name)] = SimpleNamespace(
                    response=response, table=table if fetch_result else None,
                    data=[tuple(r) for r in table.rows] if fetch_result else None)
        return ""

    def load_result(self, name=None):
        """A statement's result (`.table`, `.data`, `.response`), None for a name never run (dbt's)."""
        with self._lock:
            return self._results.get(str(name))

    def load_relation(self, relation=None):
        """dbt's load_relation(relation): the relation if it exists, else None."""
        return self.adapter.load_relation(relation)

    def log(self, msg, info: bool = False) -> str:
        if self._log is not None:
            self._log(str(msg), bool(info))
        return ""

    # -- what a render gets ----------------------------------------------------------------------
    def extra(self, node: Node | None = None) -> dict:
        """Context entries for Renderer.render(extra=...): the backend itself, plus dbt's run-time globals."""
        out = {"__sm_runtime": self, "graph": self.graph, "flags": self.flags,
               "selected_resources": list(self.selected)}
        if self._log is not None:
            out["log"] = self.log
        if self.manifest.metadata.get("invocation_id"):  # the load's, also when the Renderer is a new one
            out["invocation_id"] = self.manifest.metadata["invocation_id"]
        if node is not None:
            out["model"] = node.to_dict()
        return out
