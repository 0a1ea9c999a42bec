"""A minimal run-time Jinja context for hooks and run-operation: `run_query`, `this`, `execute`, logging.

TO BE REPLACED by runtime18's context (sparkmodels/execute/runtime/: Relation-returning ref/this,
adapter, run_query, statement/load_result), which was not on main when hooks and run-operation were
written. Everything hooks and operations need from a run-time render comes from `RunContext.extra()`,
so switching is one change in execute/hooks.py (`render_hook`) and execute/operations.py.

`run_query(sql)` runs one statement in the run's session and returns a `Table` with dbt's usual
access (`.rows`, `.columns`, `.column_names`, `columns[0].values()`, `rows[0][0]`, `print_table()`);
a SQL error is an ExecutionError, which the render locates at the template line that called it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sparkmodels.errors import CompilationError, ExecutionError, SparkModelsError, did_you_mean
from sparkmodels.plan.compiler import relation_name
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Manifest


class Column:
    """One column of a Table: its name and values (dbt's agate column: `.values()`, `.name`)."""

    def __init__(self, name: str, values: Sequence):
        self.name = name
        self._values = tuple(values)

    def values(self) -> tuple:
        return self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class Table:
    """run_query's result: rows (tuples, also readable by column name) and columns."""

    def __init__(self, names: Sequence[str], rows: Sequence[Sequence]):
        self.column_names = tuple(names)
        self.rows = tuple(Row(self.column_names, r) for r in rows)
        self.columns = _Columns(Column(n, [r[i] for r in self.rows]) for i, n in enumerate(self.column_names))

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def print_table(self, max_rows: int = 20, **_ignored) -> str:
        lines = [" | ".join(self.column_names)]
        lines += [" | ".join("null" if v is None else str(v) for v in r) for r in self.rows[:max_rows]]
        print("\n".join(lines))  # noqa: T201 - dbt's print_table prints
        return ""


class Row(tuple):
    """A row: by position (`row[0]`) or by column name (`row['n']`, `row.n`)."""

    def __new__(cls, names: Sequence[str], values: Sequence):
        obj = super().__new__(cls, tuple(values))
        obj._names = tuple(names)
        return obj

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str):
        try:
            return self[name]
        except ValueError:
            raise AttributeError(name) from None

    def keys(self) -> tuple[str, ...]:
        return self._names

    def values(self) -> tuple:
        return tuple(self)

    def dict(self) -> dict:
        return dict(zip(self._names, self, strict=True))


class _Columns(tuple):
    """Columns by position or by name (`table.columns['n']`)."""

    def __new__(cls, columns):
        return super().__new__(cls, tuple(columns))

    def __getitem__(self, key):
        if isinstance(key, str):
            for column in self:
                if column.name == key:
                    return column
            raise KeyError(key)
        return tuple.__getitem__(self, key)


class RunContext:
    """The run-time entries of a render in one engine: run_query, ref/source (the session's relation
    names, made queryable first), execute=True, and log() lines handed to `log(text, info)`."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, kinds: Kinds, *,
                 log: Callable[[str, bool], None] | None = None):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self.kinds = kinds
        self._log = log
        self._names: dict | None = None
        self.failure: SparkModelsError | None = None  # the run-time error raised inside the template

    def unwrapped(self, exc: SparkModelsError) -> SparkModelsError:
        """A render error as raised inside the template: the renderer reports any exception from user
        Jinja as a CompilationError naming its type; a run_query/ref failure is a run-time error,
        located at the template line that called it unless it names its own node (a table not built)."""
        failure = self.failure
        if failure is None or not isinstance(exc, CompilationError) or not exc.message.startswith(
                f"{type(failure).__name__}: "):
            return exc
        if failure.path is None:
            failure.path, failure.line = exc.path, exc.line
        return failure.located(node=exc.node)

    def run_query(self, sql) -> Table:
        text = str(sql).strip().rstrip(";")
        try:
            df = self.engine.sql(text)
            rows = df.collect()
            names = [f.name for f in df.schema.fields]
        except Exception as exc:  # noqa: BLE001 - Spark's error, located at the call by the render
            from sparkmodels.execute.spark.failures import plain_message

            self.failure = ExecutionError(f"run_query failed: {plain_message(str(exc))}")
            raise self.failure from None
        return Table(names, [tuple(r) for r in rows])

    def relation(self, kind: str, args: tuple) -> str:
        """ref(name)/source(source, table) as the SQL name the session knows, made queryable."""
        if self._names is None:
            nodes = self.manifest.nodes.values()
            refs: dict = {}
            for n in nodes:  # the root project's node of a name first, as ref() resolves it
                if n.resource_type in ("model", "seed", "snapshot"):
                    if n.package == self.config.name or (n.name,) not in refs:
                        refs[(n.name,)] = n
                    refs[(n.package, n.name)] = n
            self._names = {
                "ref": refs,
                "source": {(n.source_name, n.name): n for n in nodes if n.resource_type == "source"},
            }
        known = self._names[kind]
        key = tuple(str(a) for a in args)
        if key not in known:
            wanted = ".".join(key)
            raise CompilationError(f"{kind}('{wanted}') names nothing in the project."
                                   + did_you_mean(wanted, [".".join(k) for k in known]))
        node = known[key]
        try:
            self.engine.ensure_relation(node, schema_for(self.config, node.config))
        except SparkModelsError as exc:  # e.g. a table not built yet
            self.failure = exc
            raise
        return relation_name(node, self.kinds)

    def log(self, msg, info: bool = False) -> str:
        if self._log is not None:
            self._log(str(msg), bool(info))
        return ""

    def extra(self) -> dict:
        """Context entries for Renderer.render(extra=...)."""
        return {"run_query": self.run_query, "execute": True, "log": self.log,
                "ref": lambda *args, **_version: self.relation("ref", args),
                "source": lambda source, table: self.relation("source", (source, table))}

