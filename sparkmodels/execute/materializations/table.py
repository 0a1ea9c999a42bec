"""The table materialisation: Parquet under <warehouse>/<schema>/<model>, replaced atomically."""

from __future__ import annotations

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext


def partition_columns(value) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


class TableMaterialization:
    name = "table"

    def execute(self, ctx: StepContext) -> MaterializationResult:
        df = ctx.dataframe()
        stats = ctx.engine.write_table(
            df, ctx.node, ctx.schema, partition_by=partition_columns(ctx.node.config.get("partition_by"))
        )
        return MaterializationResult("created table", rows=stats["rows"], extra=stats)
