"""Unit tests: a model run on Spark over temp views of given rows, compared with expected rows.

Each given input becomes a temp view with a name unique to the unit test: a SQL model's rendered
test SQL already points at those names; a Python model's ctx.ref()/ctx.source() are pointed at
them (and ctx.var() at the test's var overrides). Inputs are typed like the real upstream relation when
it can be read, otherwise from the Python values. Expected rows are cast to the types of the
model's output and compared as multisets (order-insensitive) with exceptAll in both directions.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping

from sparkmodels.errors import ExecutionError
from sparkmodels.execute.checks.outcome import TestOutcome
from sparkmodels.execute.spark.errors import is_spark_error
from sparkmodels.plan.steps import PlanStep
from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node

MAX_DIFF_ROWS = 20
_INT = re.compile(r"^-?\d{1,18}$")
_FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


def _sql_model(engine, manifest: Manifest, config, test: Node, model: Node, sql: str):
    return engine.sql(sql)  # the test's SQL already reads the given views


def _python_model(engine, manifest: Manifest, config, test: Node, model: Node, sql: str):
    from sparkmodels.execute.python.models import model_dataframe

    inputs = {g.key: g.view for g in test.test.given}
    overrides = thaw(test.test.var_overrides)
    variables = {**thaw(config.vars), **overrides} if overrides else None
    return model_dataframe(engine, manifest, config, model, inputs=inputs, variables=variables)


# How a model of each language is turned into a DataFrame over the mocked inputs:
# fn(engine, manifest, config, test_node, model_node, compiled_sql) -> DataFrame.
MODEL_DATAFRAMES: dict[str, Callable] = {"sql": _sql_model, "python": _python_model}


def upstream_schema(engine, config, dep: Node | None):
    """The StructType of the real upstream relation, or None when it cannot be read now."""
    if dep is None:
        return None
    from sparkmodels.project.config import schema_for

    try:
        if dep.resource_type == "source":
            return engine.read_external(dep).schema if dep.external else None
        if not engine.kinds.of(dep).holds_data:
            # Only a view built by this run is trusted; the session may hold other projects' views.
            return engine.spark.table(f"`{dep.name}`").schema if engine.is_registered(dep.name) else None
        current = engine.location(dep, schema_for(config, dep.config)).current()
        return engine.spark.read.parquet(str(current)).schema if current else None
    except Exception:  # noqa: BLE001 - fall back to types inferred from the rows
        return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _inferred_type(values):
    from pyspark.sql import types as T

    seen = {type(v) for v in values if v is not None}
    if not seen:
        return T.StringType()
    if seen == {str}:  # CSV text: read it as Spark's CSV inferSchema would
        texts = [v for v in values if v is not None]
        if all(v.lower() in ("true", "false") for v in texts):
            return T.BooleanType()
        if all(_INT.match(v) for v in texts):
            return T.LongType()
        if all(_FLOAT.match(v) for v in texts):
            return T.DoubleType()
    if seen <= {bool}:
        return T.BooleanType()
    if seen <= {int}:
        return T.LongType()
    if seen <= {int, float}:
        return T.DoubleType()
    if seen <= {_dt.datetime}:
        return T.TimestampType()
    if seen <= {_dt.date}:
        return T.DateType()
    return T.StringType()


def rows_dataframe(spark, rows: list[Mapping], schema=None, *, what: str = "rows"):
    """A DataFrame of the given rows: typed as `schema` when known (missing columns null), else inferred."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    rows = [dict(r) for r in rows]
    given: list[str] = list(dict.fromkeys(k for r in rows for k in r))
    if schema is None:
        if not given:
            raise ExecutionError(f"{what}: no rows and no known schema, so its columns are unknown; "
                                 "give at least one row or build the upstream relation first.")
        fields = [T.StructField(c, _inferred_type([r.get(c) for r in rows])) for c in given]
        data = [tuple(_plain(r.get(c), f.dataType) for c, f in zip(given, fields, strict=True)) for r in rows]
        return spark.createDataFrame(data, T.StructType(fields))
    by_lower = {f.name.lower(): f for f in schema.fields}
    unknown = [c for c in given if c.lower() not in by_lower]
    if unknown:
        raise ExecutionError(f"{what}: column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"not in its schema ({', '.join(f.name for f in schema.fields)}).")
    lowered = [{k.lower(): v for k, v in r.items()} for r in rows]
    used = [f for f in schema.fields if f.name.lower() in {c.lower() for c in given}]
    text_schema = T.StructType([T.StructField(f.name, T.StringType()) for f in used] or
                               [T.StructField("__sm_empty", T.StringType())])
    data = [tuple(_text(r.get(f.name.lower())) for f in used) or (None,) for r in lowered]
    df = spark.createDataFrame(data, text_schema)
    cols = [(F.col(f"`{f.name}`") if f in used else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in schema.fields]
    return df.select(*cols)


def _plain(value, dtype):
    from pyspark.sql import types as T

    if isinstance(value, str) and not isinstance(dtype, T.StringType):
        return {T.BooleanType: lambda v: v.lower() == "true", T.LongType: int,
                T.DoubleType: float}[type(dtype)](value)
    if value is not None and isinstance(dtype, T.DoubleType):
        return float(value)
    if value is not None and isinstance(dtype, T.StringType) and not isinstance(value, str):
        return _text(value)
    return value


def _fmt_row(row: Mapping) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in row.items()) + "}"


def diff_text(missing: list, unexpected: list) -> str:
    """A readable diff: expected rows the model did not return, and rows it should not have returned."""
    parts = []
    if missing:
        parts.append(f"{len(missing)} expected row{'s' if len(missing) != 1 else ''} missing")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected row{'s' if len(unexpected) != 1 else ''}")
    lines = [", ".join(parts) + ":"]
    lines += [f"  - missing:    {_fmt_row(r)}" for r in missing[:MAX_DIFF_ROWS]]
    lines += [f"  + unexpected: {_fmt_row(r)}" for r in unexpected[:MAX_DIFF_ROWS]]
    hidden = max(0, len(missing) - MAX_DIFF_ROWS) + max(0, len(unexpected) - MAX_DIFF_ROWS)
    if hidden:
        lines.append(f"  ... and {hidden} more")
    return "\n".join(lines)


def compare(spark, actual, expect_rows: list[Mapping], *, model: str) -> tuple[list, list]:
    """(missing, unexpected) rows as dicts, comparing only the columns the expected rows name."""
    from pyspark.sql import functions as F

    columns = list(dict.fromkeys(k for r in expect_rows for k in r))
    if columns:
        by_lower = {c.lower(): c for c in actual.columns}
        absent = [c for c in columns if c.lower() not in by_lower]
        if absent:
            raise ExecutionError(f"expected column{'s' if len(absent) > 1 else ''} {', '.join(absent)} "
                                 f"not in the output of {model} ({', '.join(actual.columns)}).")
        actual = actual.select(*[F.col(f"`{by_lower[c.lower()]}`").alias(c) for c in columns])
        expected = rows_dataframe(spark, expect_rows, actual.schema, what="expect")
        missing = [r.asDict() for r in expected.exceptAll(actual).collect()]
    else:
        missing = []
        if expect_rows:  # rows without columns: only the count matters
            return ([{}] * max(0, len(expect_rows) - actual.count()), [])
    unexpected_df = actual.exceptAll(expected) if columns else actual
    return missing, [r.asDict() for r in unexpected_df.collect()]


def run_unit_test(engine, manifest: Manifest, config, step: PlanStep) -> TestOutcome:
    """Register the given inputs, run the model's SQL on them, and diff the result with expect."""
    from sparkmodels.execute.materializations.base import spark_error

    test = step.node
    spec = test.test
    model = manifest.nodes[spec.attached_node]
    make_df = MODEL_DATAFRAMES.get(model.language)
    if make_df is None:
        raise ExecutionError(f"unit tests of {model.language} models are not supported yet.",
                             node=test.name, path=test.path, line=spec.yaml_line)
    spark = engine.spark
    views: list[str] = []
    try:
        for given in spec.given:
            dep = manifest.nodes.get(given.node) if given.node else None
            what = f"unit test '{test.name}', given {given.input}"
            try:
                df = rows_dataframe(spark, thaw(given.rows), upstream_schema(engine, config, dep), what=what)
                df.createOrReplaceTempView(given.view)
            except ExecutionError as exc:
                raise exc.located(node=test.name, path=test.path, line=spec.yaml_line) from None
            views.append(given.view)
        try:
            actual = make_df(engine, manifest, config, test, model, step.compiled.sql)
            missing, unexpected = compare(spark, actual, thaw(spec.expect), model=model.name)
        except ExecutionError as exc:
            if exc.path == model.path:  # raised in the Python model's own code: keep its file and line
                exc.message = f"unit test '{test.name}': {exc.message}"
                raise
            raise exc.located(node=test.name, path=test.path, line=spec.yaml_line) from None
        except Exception as exc:  # noqa: BLE001 - a Spark error in the model's SQL, located in the model
            if is_spark_error(exc):
                err = spark_error(exc, model, step.compiled)
                err.message = f"unit test '{test.name}': {err.message}"
                err.line = model.source_line(err.line)
                raise err from None
            raise
    finally:
        for view in views:
            spark.catalog.dropTempView(view)
    failures = len(missing) + len(unexpected)
    if not failures:
        return TestOutcome("pass", 0)
    status = "fail" if str(test.config.get("severity", "error")) == "error" else "warn"
    return TestOutcome(status, failures, diff_text(missing, unexpected))
