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


def typed_seed_dataframe(spark, path: str, types: list[tuple[str, str]], options: dict | None = None):
    """Read a seed CSV with a schema given for every column (no inference pass)."""
    from pyspark.sql.types import StructType

    opts = {"header": "true", "escape": '"', "multiLine": "true", "mode": "FAILFAST", **(options or {})}
    ddl = ", ".join(f"`{name}` {dtype}" for name, dtype in types)
    return spark.read.options(**opts).schema(StructType.fromDDL(ddl)).csv(path)


class SeedMaterialization:
    kind = SEED

    def is_incremental(self, ctx: StepContext) -> bool:
        return False

    def execute(self, ctx: StepContext) -> MaterializationResult:
        node = ctx.node
        path = str(ctx.project_root / node.path)
        options = {k: str(v) for k, v in {"delimiter": node.config.get("delimiter")}.items() if v}
        column_types = dict(node.config.get("column_types") or {})
        if ctx.target.seed_typing == "dbt":  # a dbt project on a dbt-spark profile: dbt's types
            from sparkmodels.project.seedtypes import dbt_seed_types

            df = typed_seed_dataframe(ctx.spark, path, dbt_seed_types(path, column_types, options.get("delimiter", ",")),
                                      options)
        else:
            df = seed_dataframe(ctx.spark, path, column_types, options)
        stats = ctx.writer.write(df, node, ctx.schema, fingerprint=ctx.fingerprint)
        return MaterializationResult("loaded seed", rows=stats["rows"], extra=stats)
