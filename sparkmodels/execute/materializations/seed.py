"""The seed materialisation: a CSV read by Spark's CSV reader, written as a Parquet table."""

from __future__ import annotations

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext
from sparkmodels.project.kinds import SEED


def seed_dataframe(spark, path: str, column_types: dict, options: dict | None = None):
    """Read a seed CSV: inferred types, with column_types overriding (applied at read, not by cast)."""
    from pyspark.sql.types import StructType

    opts = {"header": "true", "escape": '"', "multiLine": "true", "mode": "FAILFAST", **(options or {})}
    reader = spark.read.options(**opts)
    if not column_types:
        return reader.option("inferSchema", "true").csv(path)
    inferred = reader.option("inferSchema", "true").csv(path).schema
    lowered = {str(k).lower(): str(v) for k, v in column_types.items()}
    missing = set(lowered) - {f.name.lower() for f in inferred.fields}
    if missing:
        raise ValueError(f"column_types names columns not in the CSV header: {', '.join(sorted(missing))}")
    ddl = ", ".join(
        f"`{f.name}` {lowered.get(f.name.lower(), f.dataType.simpleString())}" for f in inferred.fields
    )
    return reader.schema(StructType.fromDDL(ddl)).csv(path)


class SeedMaterialization:
    kind = SEED

    def is_incremental(self, ctx: StepContext) -> bool:
        return False

    def execute(self, ctx: StepContext) -> MaterializationResult:
        node = ctx.node
        path = str(ctx.project_root / node.path)
        options = {k: str(v) for k, v in {"delimiter": node.config.get("delimiter")}.items() if v}
        df = seed_dataframe(ctx.spark, path, dict(node.config.get("column_types") or {}), options)
        stats = ctx.writer.write(df, node, ctx.schema, fingerprint=ctx.fingerprint)
        return MaterializationResult("loaded seed", rows=stats["rows"], extra=stats)
