"""The table materialisation: Parquet under <warehouse>/<schema>/<model>, replaced atomically.

The write itself is execute/writer.py's VersionWriter (ctx.writer); `write_version` is the same
for callers holding an engine (a test's store_failures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext
from sparkmodels.project.kinds import TABLE
from sparkmodels.project.manifest import Node

if TYPE_CHECKING:
    from sparkmodels.execute.engine import Engine


def partition_columns(value) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def write_version(engine: Engine, df, node: Node, schema: str, *, partition_by=(),
                  fingerprint: Mapping | None = None) -> dict:
    """engine.writer.write: a new Parquet version of node's table, published atomically (stats)."""
    return engine.writer.write(df, node, schema, partition_by=partition_by, fingerprint=fingerprint)


class TableMaterialization:
    kind = TABLE

    def is_incremental(self, ctx: StepContext) -> bool:
        return False

    def execute(self, ctx: StepContext) -> MaterializationResult:
        df = ctx.dataframe()
        stats = ctx.writer.write(df, ctx.node, ctx.schema,
                                 partition_by=partition_columns(ctx.node.config.get("partition_by")),
                                 fingerprint=ctx.fingerprint)
        return MaterializationResult("created table", rows=stats["rows"], extra=stats)
