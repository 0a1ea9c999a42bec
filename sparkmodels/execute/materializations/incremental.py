"""The incremental materialisation: is_incremental() from the warehouse, {{ this }}, on_schema_change.

A run is incremental when the model's table has a complete current version, the run is not
`--full-refresh` (unless the model says `full_refresh: false`) and the model's `full_refresh`
config is not true. Then the SQL rendered with is_incremental() true runs, `{{ this }}` (a temp view
of the same name) reads the current version, and the strategy (strategies.py, microbatch.py) writes
a new version sharing the untouched files. Otherwise the model is built like a table.
"""

from __future__ import annotations

import re

from sparkmodels.errors import ExecutionError
from sparkmodels.execute.cache import recorded_schema
from sparkmodels.execute.materializations.base import MaterializationResult, StepContext, spark_error
from sparkmodels.execute.materializations.strategies import STRATEGIES, q
from sparkmodels.execute.materializations.versions import write_version
from sparkmodels.plan.compiler import identifier
from sparkmodels.project.incremental import columns_of, strategy_of
from sparkmodels.project.kinds import INCREMENTAL


def wants_full_refresh(ctx: StepContext) -> bool:
    """dbt's should_full_refresh(): the model's full_refresh config wins over --full-refresh."""
    configured = ctx.node.config.get("full_refresh")
    if configured is not None:
        return bool(configured)
    return bool(ctx.full_refresh or getattr(ctx.engine, "full_refresh", False))


def is_incremental(ctx: StepContext) -> bool:
    if wants_full_refresh(ctx):
        return False
    loc = ctx.engine.location(ctx.node, ctx.schema)
    current = loc.current()
    return current is not None and (loc.is_complete(current) or current == getattr(loc, "link", None))


def model_dataframe(ctx: StepContext, incremental: bool, sql: str | None = None):
    """The model's new rows: the is_incremental() branch the run chose (SQL), or model(ctx) (Python)."""
    engine = ctx.engine
    if ctx.node.language == "python":
        engine.incremental[ctx.node.unique_id] = incremental
        try:
            return ctx.dataframe()
        finally:
            engine.incremental.pop(ctx.node.unique_id, None)
    compiled = ctx.compiled.incremental if incremental and ctx.compiled.incremental is not None else ctx.compiled
    if sql is None and compiled is ctx.compiled:
        return ctx.dataframe()
    try:
        return engine.sql(sql or compiled.sql)
    except Exception as exc:  # noqa: BLE001 - a Spark error at the line of the branch that ran
        if type(exc).__name__ in ("ParseException", "AnalysisException"):
            raise spark_error(exc, ctx.node, compiled) from None
        raise


# Strategies that need only the table's columns, not its rows (they share files; see strategies.py).
_SCHEMA_ONLY = ("append", "insert_overwrite")


def reads_this(ctx: StepContext) -> bool:
    """Whether the incremental SQL names the model's own relation ({{ this }}), so the current
    version must be queryable; a Python model may read ctx.this at any point. A mention in a
    comment or a column name only costs the registration."""
    if ctx.node.language == "python":
        return True
    compiled = ctx.compiled.incremental or ctx.compiled
    name = re.escape(identifier(ctx.node))
    return re.search(rf"(?<![\w$]){name}(?![\w$])", compiled.sql, re.IGNORECASE) is not None


class _Current:
    """The table's current version for one incremental step: its schema from the record written
    with it (no file listing, no Spark call), its rows registered as {{ this }} only when needed."""

    def __init__(self, ctx: StepContext, version):
        self._ctx, self._version, self._frame = ctx, version, None

    def frame(self):
        if self._frame is None:
            ctx = self._ctx
            ctx.engine.ensure_relation(ctx.node, ctx.schema)
            self._frame = ctx.engine.spark.table(q(identifier(ctx.node)))
        return self._frame

    @property
    def schema(self):
        recorded = recorded_schema(self._version) if self._frame is None else None
        return recorded if recorded is not None else self.frame().schema


def reconcile_schema(ctx: StepContext, src, current):
    """Apply on_schema_change; returns (src, dest, full_rewrite, note). dest/src get one column list.
    `current` is the table (a DataFrame, or a _Current read only if its rows are needed); dest is
    None when the rows were not needed."""
    from pyspark.sql import functions as F

    mode = str(ctx.node.config.get("on_schema_change") or "ignore")
    schema = current.schema

    def dest_frame():
        return current.frame() if isinstance(current, _Current) else current

    old = {f.name.lower(): f for f in schema.fields}
    new = {f.name.lower(): f for f in src.schema.fields}
    added = [new[k].name for k in new if k not in old]
    removed = [old[k].name for k in old if k not in new]
    changed = [new[k].name for k in new if k in old and new[k].dataType != old[k].dataType]
    lazy = current._frame if isinstance(current, _Current) else current  # None: rows not read yet
    if not (added or removed or changed):
        return src.select(*[q(f.name) for f in schema.fields]), lazy, False, ""

    def describe() -> str:
        parts = []
        if added:
            parts.append(f"added {', '.join(added)}")
        if removed:
            parts.append(f"removed {', '.join(removed)}")
        if changed:
            parts.append("changed type of " + ", ".join(
                f"{c} ({old[c.lower()].dataType.simpleString()} -> {new[c.lower()].dataType.simpleString()})"
                for c in changed))
        return "; ".join(parts)

    if mode == "fail":
        raise ExecutionError(
            f"the model's columns differ from its table's: {describe()} (on_schema_change: fail).",
            node=ctx.node.name, path=ctx.node.path,
            hint="Set on_schema_change to append_new_columns or sync_all_columns, or run with --full-refresh.")
    if mode == "ignore" or (mode == "append_new_columns" and not added):
        # The table keeps its columns: new ones are dropped, missing ones null, types the table's.
        cols = [F.col(q(new[k].name)).cast(f.dataType).alias(f.name) if k in new
                else F.lit(None).cast(f.dataType).alias(f.name) for k, f in old.items()]
        note = f"on_schema_change {mode}: {describe()} (table columns kept)" if mode == "append_new_columns" else ""
        return src.select(*cols), lazy, False, note
    dest = dest_frame()
    if mode == "append_new_columns":
        # Old columns stay (null in new rows if the model dropped them), new ones are null in old rows.
        dest = dest.select(*[q(f.name) for f in dest.schema.fields],
                           *[F.lit(None).cast(new[c.lower()].dataType).alias(c) for c in added])
        src_cols = [F.col(q(new[k].name)).cast(f.dataType).alias(f.name) if k in new
                    else F.lit(None).cast(f.dataType).alias(f.name) for k, f in old.items()]
        src = src.select(*src_cols, *[q(c) for c in added])
        return src, dest, True, f"on_schema_change append_new_columns: added {', '.join(added)}"
    # sync_all_columns: the table takes the model's columns and types.
    dest_cols = [F.col(q(old[k].name)).cast(f.dataType).alias(f.name) if k in old
                 else F.lit(None).cast(f.dataType).alias(f.name) for k, f in new.items()]
    return src, dest.select(*dest_cols), True, f"on_schema_change sync_all_columns: {describe()}"


class IncrementalMaterialization:
    kind = INCREMENTAL

    def is_incremental(self, ctx: StepContext) -> bool:
        return is_incremental(ctx)

    def lazy_inputs(self, node, compiled) -> bool:
        """A SQL microbatch reads its event_time inputs through views over each window's files and
        runs all its SQL with Engine.sql: its inputs need registering only where a statement names them."""
        return (strategy_of(node.config) == "microbatch" and node.language == "sql"
                and compiled is not None and compiled.batch is not None)

    def execute(self, ctx: StepContext) -> MaterializationResult:
        node, engine = ctx.node, ctx.engine
        strategy = strategy_of(node.config)
        partition_by = columns_of(node.config.get("partition_by"))
        if strategy == "microbatch":
            from sparkmodels.execute.materializations.microbatch import run_microbatch

            return run_microbatch(ctx, is_incremental(ctx))
        if not is_incremental(ctx):
            stats = write_version(engine, ctx, model_dataframe(ctx, False), partition_by=partition_by)
            return MaterializationResult("created incremental table", rows=stats["rows"], extra=stats)
        loc = engine.location(node, ctx.schema)
        old = loc.current()
        current = _Current(ctx, old)
        if reads_this(ctx):
            current.frame()  # {{ this }} / ctx.this: the current version, queryable by its name
        src, dest, rewrite_all, note = reconcile_schema(ctx, model_dataframe(ctx, True), current)
        if dest is None and strategy not in _SCHEMA_ONLY:
            dest = current.frame()
        if rewrite_all:
            # A new column set: every file is rewritten once, so the version has one schema.
            stats = _rewrite(ctx, strategy, src, dest, partition_by)
        else:
            stats = STRATEGIES[strategy](ctx, src, dest, old, partition_by)
        message = f"{strategy} into incremental table" + (f" ({note})" if note else "")
        return MaterializationResult(message, rows=stats["rows"], extra={**stats, "strategy": strategy,
                                                                          "schema_change": note or None})


def _rewrite(ctx, strategy, src, dest, partition_by) -> dict:
    """The whole next version from dest and src (after a schema change), same semantics as the strategy."""
    keys = columns_of(ctx.node.config.get("unique_key"))
    if strategy == "append":
        out = dest.unionByName(src)
    elif strategy == "insert_overwrite":
        if partition_by:
            present = src.select(*partition_by).distinct()
            out = dest.join(present, list(partition_by), "left_anti").select(*dest.columns).unionByName(src)
        else:
            out = src
    else:  # merge, delete+insert: replace rows by key (all columns from the new rows)
        out = dest.join(src.select(*keys).distinct(), list(keys), "left_anti").select(*dest.columns).unionByName(src)
    return write_version(ctx.engine, ctx, out, partition_by=partition_by)
