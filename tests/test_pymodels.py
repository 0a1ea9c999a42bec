"""Python models: materialisations, ctx API, the AST dependency scan, located errors, and the example build."""

from __future__ import annotations

import pandas as pd
import pytest

import sparkmodels
from sparkmodels.errors import CompilationError

SOURCES_YML = """
version: 2
sources:
  - name: raw
    tables:
      - name: events
        external:
          location: data/events.parquet
          format: parquet
"""


def _with_events(root):
    (root / "data").mkdir(exist_ok=True)
    pd.DataFrame({"id": [1, 2, 3, 4], "kind": ["a", "b", "a", "c"]}).to_parquet(root / "data" / "events.parquet")
    return root


def _failed(result):
    return [(r.name, r.status, r.message) for r in result.results if r.status != "success"]


def test_python_model_as_view_and_as_table(make_project, spark):
    root = _with_events(make_project({
        "models/sources.yml": SOURCES_YML,
        "models/py_view.py": """
            def model(ctx):
                return ctx.source("raw", "events").where("kind = 'a'")
        """,
        "models/py_table.py": """
            from pyspark.sql import functions as F

            def model(ctx):
                ctx.config(materialized="table")
                return ctx.ref("py_view").withColumn("doubled", F.col("id") * 2)
        """,
        "models/downstream.sql": "select sum(doubled) as total from {{ ref('py_table') }}",
    }))
    project = sparkmodels.load_project(root)
    nodes = project.manifest.nodes
    assert nodes["model.demo.py_view"].materialized == "view"
    assert nodes["model.demo.py_table"].materialized == "table"

    result = sparkmodels.run(root, spark=spark)
    assert result.success, _failed(result)
    assert [r.message for r in result.results] == ["created view", "created table", "created view"]
    table = next(r for r in result.results if r.name == "py_table")
    assert table.rows == 2
    # the table is real Parquet under the warehouse, readable without the session's temp views
    written = spark.read.parquet(table.extra["path"])
    assert sorted((r.id, r.doubled) for r in written.collect()) == [(1, 2), (3, 6)]
    assert spark.table("downstream").collect()[0].total == 8


def test_ref_source_var_config_this_inside_python_model(make_project, spark):
    root = _with_events(make_project({
        "project.yml": "name: demo\nversion: '1'\nvars:\n  min_id: 2\n",
        "models/sources.yml": SOURCES_YML + """
models:
  - name: inspect
    config:
      meta: {owner: data-team}
""",
        "models/kinds.sql": "select distinct kind from {{ source('raw', 'events') }}",
        "models/inspect.py": """
            from pyspark.sql import functions as F

            def model(ctx):
                ctx.config(materialized="table", tags=["py"])
                events = ctx.source("raw", "events").where(F.col("id") >= ctx.var("min_id"))
                kinds = ctx.ref("kinds")
                return (events.join(kinds, "kind")
                        .withColumn("this", F.lit(str(ctx.this)))
                        .withColumn("owner", F.lit(ctx.config.get("meta")["owner"]))
                        .withColumn("mat", F.lit(ctx.config["materialized"]))
                        .withColumn("fallback", F.lit(ctx.var("missing", "dflt")))
                        .withColumn("incremental", F.lit(ctx.is_incremental())))
        """,
    }))
    node = sparkmodels.load_project(root).manifest.nodes["model.demo.inspect"]
    assert set(node.depends_on) == {"source.demo.raw.events", "model.demo.kinds"}
    assert list(node.config["tags"]) == ["py"]

    result = sparkmodels.run(root, vars={"min_id": 3}, spark=spark)
    assert result.success, _failed(result)
    rows = spark.table("inspect").orderBy("id").collect()
    assert [r.id for r in rows] == [3, 4]  # --vars overrides project vars
    assert {(r.this, r.owner, r.mat, r.fallback, r.incremental) for r in rows} == {
        ("`inspect`", "data-team", "table", "dflt", False)}


def test_ast_scan_finds_dependencies_without_running_the_file(make_project):
    root = make_project({
        "models/a.sql": "select 1 as x",
        "models/b.sql": "select 2 as x",
        "models/py.py": """
            raise SystemExit("the loader must never execute model files")

            def model(ctx):
                ctx.config(materialized="table", schema="ml")
                left = ctx.ref("a")
                return left.union(ctx.ref("b"))
        """,
    })
    project = sparkmodels.load_project(root)
    node = project.manifest.nodes["model.demo.py"]
    assert node.language == "python"
    assert set(node.depends_on) == {"model.demo.a", "model.demo.b"}
    assert node.config["materialized"] == "table" and node.config["schema"] == "ml"
    assert [c.line for c in node.calls] == [5, 6]
    nodes, _ = sparkmodels.ls(root, select=["+py"])
    assert [n.name for n in nodes][-1] == "py"


def test_dynamic_ref_is_a_located_error(make_project):
    root = make_project({
        "models/a.sql": "select 1 as x",
        "models/dyn.py": """
            def model(ctx):
                name = "a"
                return ctx.ref(name)
        """,
    })
    with pytest.raises(CompilationError) as info:
        sparkmodels.load_project(root)
    assert info.value.path == "models/dyn.py" and info.value.line == 3
    assert "models/dyn.py:3" in str(info.value) and "literal" in str(info.value)


def test_unknown_ref_in_python_model_is_a_located_error(make_project):
    root = make_project({"models/p.py": "def model(ctx):\n    return ctx.ref('nope')\n"})
    with pytest.raises(CompilationError) as info:
        sparkmodels.load_project(root)
    assert (info.value.path, info.value.line) == ("models/p.py", 2)


def test_exception_in_python_model_names_file_and_line(make_project, spark):
    root = make_project({
        "models/a.sql": "select 1 as x",
        "models/boom.py": """
            def helper(df):
                raise ValueError("bad threshold")

            def model(ctx):
                df = ctx.ref("a")
                return helper(df)
        """,
        "models/bad_column.py": """
            def model(ctx):
                df = ctx.ref("a")
                return df.select("no_such_column")
        """,
        "models/not_df.py": "def model(ctx):\n    return 42\n",
        "models/after.sql": "select * from {{ ref('boom') }}",
    })
    result = sparkmodels.run(root, spark=spark)
    by_name = {r.name: r for r in result.results}
    boom = by_name["boom"]
    assert boom.status == "error"
    assert (boom.error.path, boom.error.line) == ("models/boom.py", 2)
    assert "ValueError: bad threshold" in boom.message
    assert by_name["after"].status == "skipped"

    bad = by_name["bad_column"].error
    assert (bad.path, bad.line) == ("models/bad_column.py", 3)
    assert "no_such_column" in bad.message
    text = str(bad)
    assert "Py4J" not in text and "at org.apache" not in text and "Traceback" not in text
    assert "models/bad_column.py:3" in text

    not_df = by_name["not_df"].error
    assert not_df.path == "models/not_df.py" and "returned int" in not_df.message


def test_ephemeral_ref_from_python_model_is_a_clear_error(make_project, spark):
    root = make_project({
        "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as x",
        "models/py.py": "def model(ctx):\n    return ctx.ref('eph')\n",
    })
    result = sparkmodels.run(root, spark=spark)
    err = next(r for r in result.results if r.name == "py").error
    assert err is not None and "ephemeral" in err.message
    assert (err.path, err.line) == ("models/py.py", 2)


def test_python_models_and_udfs_in_the_example_build(built_example, spark):
    """The example project's build includes the UDF SQL model and the batch-inference Python model."""
    project = sparkmodels.load_project(built_example)
    warehouse = project.config.target.warehouse
    schema = project.config.target.schema
    preds = spark.read.parquet(f"{warehouse}/{schema}/trip_duration_predictions")
    trips = spark.read.parquet(f"{warehouse}/{schema}/trips_data")
    assert preds.count() == trips.count() > 0
    bad = preds.where("abs(predicted_duration_minutes - (2 + 5 * coalesce(trip_distance, 0))) > 1e-9")
    assert bad.count() == 0
    assert preds.where("actual_duration_minutes is null").count() == 0

    by_base = {r.base_id: r.total_trips for r in
               spark.read.parquet(f"{warehouse}/{schema}/fhvhv_trips_by_base").collect()}
    fhvhv = spark.read.parquet(str(built_example / "data" / "fhvhv" / "*" / "*" / "*.parquet"))
    assert sum(by_base.values()) == fhvhv.count()
    assert by_base["e/9ce"] == fhvhv.where("dispatching_base_num = 'B02510'").count()  # 2510 = 0x9ce
    assert all(k[:2] in ("s/", "a/", "e/") for k in by_base)


def test_batch_function_failing_on_a_worker_names_the_model_line(make_project, spark):
    root = make_project({
        "models/m.py": """
            def score(batch):
                batch["score"] = batch["id"] / 0
                return batch.missing_attribute

            def model(ctx):
                ctx.config(materialized="table")
                return ctx.map_batches(ctx.spark.range(10), score, schema="id bigint, score double")
        """,
    })
    result = sparkmodels.run(root, spark=spark)
    err = result.results[0].error
    assert err is not None
    assert (err.path, err.line) == ("models/m.py", 3)
    assert "AttributeError" in err.message and "score()" in err.message


def test_python_model_cannot_be_ephemeral(make_project):
    root = make_project({"models/p.py": "def model(ctx):\n    ctx.config(materialized='ephemeral')\n"
                                        "    return ctx.spark.range(1)\n"})
    with pytest.raises(CompilationError, match="cannot be ephemeral") as info:
        sparkmodels.load_project(root)
    assert (info.value.path, info.value.line) == ("models/p.py", 2)


def test_cli_reports_a_python_model_error_as_one_located_line(make_project, spark):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    root = make_project({"models/boom.py": "def model(ctx):\n    return 1 / 0\n"})
    out = CliRunner().invoke(cli, ["run", "--project-dir", str(root)])
    assert out.exit_code != 0
    assert "models/boom.py:2" in out.output and "ZeroDivisionError" in out.output
    assert "Traceback" not in out.output and "py4j" not in out.output.lower()
