"""The materialisation protocol: what a strategy is, how it builds, and the registry that names them.

A strategy is a small object with two attributes and two methods (structural typing, no base class):

    kind: Kind                 # its static traits (sparkmodels.project.kinds): name, inlined,
                               # session_scoped, stored, cacheable. The stages below execute/ read
                               # these through a Kinds table; nothing compares `materialized` strings.
    execute(ctx) -> MaterializationResult
                               # build the node: called once per run for every node whose kind runs,
                               # inside the step's Spark job scope, after every upstream relation is
                               # queryable in the session (views built, tables registered).
    is_incremental(ctx) -> bool
                               # whether this build changes the existing relation instead of replacing
                               # it (dbt's is_incremental(): the relation exists, the model is
                               # incremental, no --full-refresh). False for view/table/seed/ephemeral.
                               # Python models' ctx.is_incremental() asks it; SQL is rendered when the
                               # project loads, where is_incremental() is False.
    lazy_inputs(node, compiled) -> bool   (optional)
                               # True: the step reads its upstream relations only through SQL it runs
                               # with ctx.engine.sql, or through their files (relations.files_of), so
                               # the runner notes local Parquet inputs instead of registering each
                               # (a listing of all its files): a statement naming one registers it.

`StepContext` is what a strategy receives: the node, its compiled code, its schema, a DataFrame
factory for the model's SQL/Python, the build-cache fingerprint to record with a new table version
(None: not cacheable or unknown inputs), and the engine. A stored strategy writes through
`ctx.writer.write(df, node, schema, partition_by=..., fingerprint=ctx.fingerprint)` (execute/writer.py):
a new Parquet version, published atomically, with cancellation and row accounting handled there.
The context's typed parts: `ctx.spark`, `ctx.relations` (execute/relations.py), `ctx.writer`,
`ctx.project_root`; `ctx.engine` is the whole run.

A `Registry` maps names to strategies. `default_registry()` returns a new one holding the built-ins
(view, table, seed, ephemeral); `registry.with_strategy(s)` returns a copy with one more, and a run
gets its registry from the Project (`load_project(..., materializations=registry)`), so a strategy
added for one run (a test's throwaway, a plugin) leaks into no other. `registry.kinds` is the Kinds
table the compiler, planner, cache and reports of that run use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sparkmodels.errors import ExecutionError, ProjectError
from sparkmodels.plan.compiler import CompiledNode
from sparkmodels.project.config import Target
from sparkmodels.project.kinds import TEST, UNIT_TEST, Kind, Kinds
from sparkmodels.project.manifest import Node

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from sparkmodels.execute.engine import Engine
    from sparkmodels.execute.relations import Relations
    from sparkmodels.execute.writer import VersionWriter


@dataclass(frozen=True)
class StepContext:
    """What a materialisation gets: the node, its compiled code, where it goes, and the run's parts."""

    node: Node
    compiled: CompiledNode
    schema: str
    engine: Engine
    dataframe: Callable[[], DataFrame]  # builds the model's DataFrame (SQL or Python)
    fingerprint: Mapping | None = None  # build cache: recorded with the table version this step writes
    full_refresh: bool = False

    @property
    def spark(self) -> SparkSession:
        return self.engine.spark

    @property
    def relations(self) -> Relations:
        """What is queryable in the session and where tables live (location, stored_version, ...)."""
        return self.engine.relations

    @property
    def writer(self) -> VersionWriter:
        """Writes table versions: writer.write(df, node, schema, partition_by=..., fingerprint=...)."""
        return self.engine.writer

    @property
    def project_root(self) -> Path:
        return self.engine.project_root

    @property
    def target(self) -> Target:
        """The run's target (its seed typing, schema, conf)."""
        return self.engine.target


@dataclass(frozen=True)
class MaterializationResult:
    """What happened: a verb for the console ('created table'), rows written, and extras."""

    message: str
    rows: int | None = None
    extra: dict = field(default_factory=dict)


class Materialization(Protocol):
    kind: Kind

    def execute(self, ctx: StepContext) -> MaterializationResult: ...

    def is_incremental(self, ctx: StepContext) -> bool: ...


class Registry:
    """Materialisations by name (immutable); a model naming an unknown one gets a located error."""

    # Tests are steps too, but run by execute.checks, not by a strategy.
    _NON_STRATEGY_KINDS = (TEST, UNIT_TEST)

    def __init__(self, items: Iterable[Materialization] = ()):
        self._items: dict[str, Materialization] = {item.kind.name: item for item in items}
        self.kinds = Kinds((*self._NON_STRATEGY_KINDS, *(item.kind for item in self._items.values())))

    def with_strategy(self, item: Materialization) -> Registry:
        """A new registry with `item` added (or replacing the strategy of its name)."""
        return Registry((*self._items.values(), item))

    def get(self, name: str, node: Node) -> Materialization:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise ProjectError(f"unknown materialization '{name}'; known: {known}.",
                               node=node.name, path=node.path) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items


_LINE = re.compile(r"line (\d+),? pos(?:ition)? (\d+)", re.I)
_SQL_BLOCK = re.compile(r"\n== SQL.*", re.S)


def spark_error(exc: BaseException, node: Node, compiled: CompiledNode, *, root=None) -> ExecutionError:
    """A Spark exception as a one-paragraph ExecutionError at the model's source line: a common cause
    (disk full, permission, cancelled, malformed input...) said plainly, else Spark's message without
    Java frames (spark/failures.py). root: the project folder (a ragged seed's row is found there)."""
    from pathlib import Path

    from sparkmodels.execute.spark.failures import plain_message, summarize

    text = str(exc)
    seed = Path(root) / node.path if root is not None and node.resource_type == "seed" else None
    known = summarize(text, seed_path=seed)
    if known is not None:
        message, hint, line = known
        return ExecutionError(message, node=node.name, path=node.path, line=line, hint=hint)
    line = None
    ctx = []
    getter = getattr(exc, "getQueryContext", None)
    if callable(getter):
        try:
            ctx = getter() or []
        except Exception:  # noqa: BLE001
            ctx = []
    for qc in ctx:
        start = _call(qc, "startIndex")
        if isinstance(start, int) and start >= 0 and compiled.sql:
            line = compiled.sql.count("\n", 0, start) + 1
            break
    if line is None:
        m = _LINE.search(text)
        if m:
            line = int(m.group(1))
    message = plain_message(_SQL_BLOCK.sub("", text).strip())
    src_line = compiled.source_line(line) if node.language == "sql" else line
    return ExecutionError(message, node=node.name, path=node.path, line=src_line)


def _call(obj, name):
    attr = getattr(obj, name, None)
    try:
        return attr() if callable(attr) else attr
    except Exception:  # noqa: BLE001
        return None
