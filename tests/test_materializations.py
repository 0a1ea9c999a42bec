"""view, table, ephemeral, partitioned tables, seeds and atomic replacement on a real SparkSession."""

from __future__ import annotations

import os

import pytest

import sparkmodels
from sparkmodels.project.kinds import Kind

BASE = {
    "project.yml": """
        name: demo
        version: '1'
        models:
          demo:
            marts:
              +materialized: table
    """,
    "seeds/people.csv": "id,name,zip,score\n1,Ann,01234,1.5\n2,O'Brien,10001,2.0\n3,\"Smith, J\",02110,3.25\n",
    "seeds/schema.yml": """
        version: 2
        seeds:
          - name: people
            config:
              column_types: {zip: string, id: bigint}
    """,
    "models/staging/stg_people.sql": "select id, upper(name) as name, zip, score from {{ ref('people') }}",
    "models/staging/people_eph.sql": "{{ config(materialized='ephemeral') }}\nselect id, score * 2 as double_score from {{ ref('stg_people') }}",
    "models/marts/people_scores.sql": "select p.id, p.name, e.double_score from {{ ref('stg_people') }} p join {{ ref('people_eph') }} e on p.id = e.id",
    "models/marts/people_by_zip.sql": "{{ config(partition_by=['zip']) }}\nselect id, name, zip from {{ ref('stg_people') }}",
}


def table_path(root, schema, name):
    return root / "warehouse" / schema / name


def test_seed_column_types_and_quotes(make_project, spark):
    root = make_project(BASE)
    result = sparkmodels.seed(root, spark=spark)
    assert result.success
    [r] = result.results
    assert r.rows == 3
    df = spark.read.parquet(str(table_path(root, "demo", "people")))
    types = dict(df.dtypes)
    assert types == {"id": "bigint", "name": "string", "zip": "string", "score": "double"}
    rows = {r.id: (r.name, r.zip) for r in df.collect()}
    assert rows[1] == ("Ann", "01234")  # leading zero kept: column_types applied at read time
    assert rows[2][0] == "O'Brien" and rows[3][0] == "Smith, J"


def test_view_table_ephemeral_and_partitions(make_project, spark):
    root = make_project(BASE)
    result = sparkmodels.build(root, spark=spark)
    assert result.success, [r.message for r in result.results]
    by_name = {r.name: r for r in result.results}
    assert "people_eph" not in by_name  # ephemeral: inlined, never executed
    assert by_name["stg_people"].materialized == "view"
    assert by_name["people_scores"].rows == 3
    scores = spark.read.parquet(str(table_path(root, "demo", "people_scores")))
    assert sorted(r.double_score for r in scores.collect()) == [3.0, 4.0, 6.5]
    # the compiled SQL inlines the ephemeral as a CTE
    compiled = (root / "target/compiled/demo/models/marts/people_scores.sql").read_text()
    assert "__sm_eph_people_eph as (" in compiled
    # partition_by writes Hive-style partition folders
    part_dir = table_path(root, "demo", "people_by_zip").resolve()
    assert sorted(p.name for p in part_dir.iterdir() if p.is_dir()) == ["zip=01234", "zip=02110", "zip=10001"]
    # the view exists only in the session, not in the warehouse
    assert not table_path(root, "demo", "stg_people").exists()
    assert spark.table("stg_people").count() == 3


def test_failed_rebuild_keeps_previous_version(make_project, spark):
    root = make_project({**BASE, "models/marts/totals.sql": "select count(*) as n from {{ ref('people') }}"})
    assert sparkmodels.build(root, spark=spark).success
    link = table_path(root, "demo", "totals")
    first_version = os.readlink(link)
    assert spark.read.parquet(str(link)).collect()[0].n == 3
    # Second run: the model now fails at runtime inside the write (a bad cast in ANSI mode).
    (root / "models/marts/totals.sql").write_text(
        "select cast(name as int) as n from {{ ref('people') }}")
    result = sparkmodels.run(root, select="totals", spark=spark)
    assert not result.success
    assert result.results[0].status == "error"
    assert os.readlink(link) == first_version
    assert spark.read.parquet(str(link)).collect()[0].n == 3
    # no partial version left behind next to the good one
    versions = [p for p in (root / "warehouse/demo/.versions/totals").iterdir() if p.name.startswith("v")]
    assert [v.name for v in versions] == [os.path.basename(first_version)]


def test_rebuild_keeps_one_previous_version_and_cleans_older(make_project, spark):
    root = make_project({**BASE, "models/marts/one.sql": "select 1 as x"})
    for _ in range(3):  # full_refresh: an unchanged model would otherwise be reused (build cache)
        assert sparkmodels.run(root, select="one", spark=spark, full_refresh=True).success
    versions = sorted(p.name for p in (root / "warehouse/demo/.versions/one").iterdir() if p.name.startswith("v"))
    assert len(versions) == 2
    assert os.path.basename(os.readlink(table_path(root, "demo", "one"))) == versions[-1]


def test_unknown_materialization_is_a_located_error(make_project, spark):
    root = make_project({"models/m.sql": "{{ config(materialized='snapshotz') }}\nselect 1 as x"})
    result = sparkmodels.run(root, spark=spark)
    [r] = result.results
    assert r.status == "error"
    assert "unknown materialization 'snapshotz'" in r.message
    assert r.error.path == "models/m.sql"


@pytest.mark.parametrize("sql,line,needle", [
    ("select\n  id,\n  nosuchcol\nfrom {{ ref('people') }}", 3, "nosuchcol"),
    ("{% set cols = ['id',\n 'name'] %}\nselect\n  {{ cols | join(',\\n  ') }},\n  from {{ ref('people') }}", 5, ""),
])
def test_spark_errors_point_at_the_source_line(make_project, spark, sql, line, needle):
    root = make_project({**BASE, "models/bad.sql": sql})
    assert sparkmodels.seed(root, spark=spark).success
    result = sparkmodels.run(root, select="bad", spark=spark)
    [r] = result.results
    assert r.status == "error"
    assert r.error.path == "models/bad.sql"
    assert r.error.line == line, str(r.error)
    assert needle in r.error.message
    assert "Traceback" not in str(r.error) and "py4j" not in str(r.error).lower()


def _engine_and_node(root, spark, name):
    from sparkmodels.execute.engine import Engine

    p = sparkmodels.load_project(root)
    node = p.manifest.by_name(name)
    return Engine(p.config.target, spark, project_root=p.config.root), node


def test_rewritten_table_is_what_the_next_reader_sees(make_project, spark):
    """No eager read-back after a write: a table rewritten after a downstream read is registered
    again (new version, written schema) on the next ensure_relation, and its stale view is gone."""
    root = make_project({**BASE, "models/marts/one.sql": "select 1 as x"})
    from sparkmodels.execute.materializations.table import write_version

    engine, node = _engine_and_node(root, spark, "one")
    first = write_version(engine, spark.sql("select 1 as x, 'a' as tag"), node, "demo")
    assert first["rows"] == 1 and first["files"] >= 1
    engine.ensure_relation(node, "demo")
    assert spark.table("one").collect()[0].x == 1
    second = write_version(engine, spark.sql("select explode(array(2, 3)) as x, 'b' as tag"), node, "demo")
    assert second["rows"] == 2 and second["version"] != first["version"]
    assert not spark.catalog.tableExists("one")  # the view over the old version was dropped
    engine.ensure_relation(node, "demo")
    assert sorted(r.x for r in spark.table("one").collect()) == [2, 3]
    assert spark.table("one").columns == ["x", "tag"]


def test_rows_of_a_write_inside_and_outside_a_job_scope(make_project, spark):
    root = make_project({**BASE, "models/marts/one.sql": "select 1 as x"})
    from sparkmodels.execute.materializations.table import write_version

    engine, node = _engine_and_node(root, spark, "one")
    query = "select id % 7 as k, count(*) as n from range(1000) group by id % 7"  # a shuffle: two stages
    with engine.job_scope("sparkmodels-one", "sparkmodels: model one", "one") as scope:
        spark.range(50).count()  # a job of the same step before the write: not rows of the table
        stats = write_version(engine, spark.sql(query), node, "demo", partition_by=("k",))
    assert stats["rows"] == 7 == spark.read.parquet(stats["path"]).count()
    assert scope.values["rows_written"] == 7 and scope.values["jobs"] >= 2
    assert scope.values["files_written"] == stats["files"] >= 7  # one directory per partition value
    assert write_version(engine, spark.sql("select 1 as x"), node, "demo")["rows"] == 1  # no scope


# -- the protocol: a strategy added from outside the package -------------------------------------
class StampedTable:
    """A throwaway strategy: a table whose rows carry the name of the strategy that built them."""

    kind = Kind("stamped", stored=True, cacheable=True)

    def is_incremental(self, ctx) -> bool:
        return False

    def execute(self, ctx):
        from pyspark.sql import functions as F

        from sparkmodels.execute.materializations import MaterializationResult
        from sparkmodels.execute.materializations.table import write_version

        df = ctx.dataframe().withColumn("built_by", F.lit(self.kind.name))
        stats = write_version(ctx.engine, df, ctx.node, ctx.schema, fingerprint=ctx.fingerprint)
        return MaterializationResult("created stamped table", rows=stats["rows"], extra=stats)


@pytest.fixture
def stamped_registry():
    """The built-ins plus the throwaway, for one project: the default registry stays as it was."""
    from sparkmodels.execute.materializations import default_registry

    return default_registry().with_strategy(StampedTable())


STAMPED = {
    "models/base.sql": "{{ config(materialized='stamped') }}\nselect id from range(3)",
    "models/top.sql": "{{ config(materialized='table') }}\nselect id, built_by from {{ ref('base') }}",
}


def test_a_strategy_registered_by_a_test_builds_a_model(make_project, spark, stamped_registry):
    root = make_project(STAMPED)
    p = sparkmodels.load_project(root, materializations=stamped_registry)
    result = sparkmodels.build(root, spark=spark, project=p)
    assert result.success, [r.message for r in result.results]
    by_name = {r.name: r for r in result.results}
    assert by_name["base"].materialized == "stamped" and by_name["base"].message == "created stamped table"
    assert by_name["base"].rows == 3
    # stored like a table: a Parquet version in the warehouse, read by the downstream table from there
    rows = spark.read.parquet(str(table_path(root, "demo", "base"))).collect()
    assert sorted((r.id, r.built_by) for r in rows) == [(0, "stamped"), (1, "stamped"), (2, "stamped")]
    assert spark.read.parquet(str(table_path(root, "demo", "top"))).count() == 3
    # cacheable: the build cache reuses it on the next run, as it does a table
    again = sparkmodels.build(root, spark=spark, project=p)
    assert {r.name: r.message for r in again.results} == {"base": "unchanged", "top": "unchanged"}


def test_a_registered_strategy_leaks_into_no_other_project(make_project, spark, stamped_registry):
    from sparkmodels.execute.materializations import default_registry

    assert "stamped" in stamped_registry and "stamped" not in default_registry()
    root = make_project(STAMPED)
    result = sparkmodels.run(root, spark=spark, select="base")  # loaded with the default registry
    [r] = result.results
    assert r.status == "error" and "unknown materialization 'stamped'" in r.message


def test_the_default_registry_matches_the_kinds_table():
    """project/kinds.BUILTIN is what the stages below execute/ read: it must say what the strategies are."""
    from sparkmodels.execute.materializations import default_registry
    from sparkmodels.project.kinds import BUILTIN

    assert dict(default_registry().kinds) == dict(BUILTIN)
