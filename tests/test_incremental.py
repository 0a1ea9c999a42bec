"""Incremental models on real Spark: validation at load, both is_incremental() branches, every
strategy, on_schema_change, full refresh, shared files between versions, kill -9 mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import sparkmodels
from sparkmodels.app.project import load_project
from sparkmodels.errors import ProjectError
from sparkmodels.execute.cache import stored_schema

ROWS1 = "(1, 'a', '2020-01'), (2, 'b', '2020-01'), (3, 'c', '2020-02')"
ROWS2 = "(2, 'B', '2020-01'), (4, 'd', '2020-03')"


def inc(strategy: str, extra: str = "", body: str = "select id, v, m from {{ ref('src') }}") -> str:
    return f"{{{{ config(materialized='incremental', incremental_strategy='{strategy}'{extra}) }}}}\n{body}\n"


FILES = {
    "project.yml": "name: demo\nversion: '1'\n",
    "models/src.sql": "select * from values {{ var('rows') }} as t(id, v, m)",
    "models/app.sql": inc("append", ", partition_by=['m']"),
    "models/io.sql": inc("insert_overwrite", ", partition_by=['m']"),
    "models/io_whole.sql": inc("insert_overwrite"),
    "models/mg.sql": inc("merge", ", unique_key='id', merge_update_columns=['v']"),
    "models/mg_keep_m.sql": inc("merge", ", unique_key=['id'], merge_exclude_columns=['m']",
                                "select id, v, {% if is_incremental() %}'zz'{% else %}m{% endif %} as m "
                                "from {{ ref('src') }}"),
    "models/mg_pred.sql": inc("merge", ", unique_key='id', incremental_predicates=[\"DBT_INTERNAL_DEST.m >= '2020-02'\"]"),
    "models/di.sql": inc("delete+insert", ", unique_key='id'"),
    "models/only_new.sql": inc("append", "", "select id, v, m from {{ ref('src') }}\n"
                               "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}"),
    "models/py_inc.py": (
        "def model(ctx, spark):\n"
        "    ctx.config(materialized='incremental', incremental_strategy='append')\n"
        "    df = ctx.ref('src')\n"
        "    if ctx.is_incremental():\n"
        "        top = spark.table(ctx.this).agg({'id': 'max'}).collect()[0][0]\n"
        "        df = df.where(df.id > top)\n"
        "    return df\n"),
}


def rows(spark, root, name):
    return sorted(tuple(r) for r in spark.read.parquet(str(root / "warehouse" / "demo" / name))
                  .select("id", "v", "m").collect())


def ok(result):
    assert result.success, [(r.name, r.message) for r in result.results if r.status != "success"]
    return {r.name: r for r in result.results}


# -- load time (no Spark) -----------------------------------------------------------------------

@pytest.mark.parametrize("config, expected", [
    ("incremental_strategy='upsert'", "unknown incremental_strategy 'upsert'"),
    ("incremental_strategy='merge'", "needs a unique_key"),
    ("incremental_strategy='delete+insert'", "needs a unique_key"),
    ("incremental_strategy='microbatch', event_time='ts'", "needs batch_size, begin"),
    ("incremental_strategy='microbatch', event_time='ts', batch_size='week', begin='2020-01-01'",
     "batch_size 'week'"),
    ("incremental_strategy='insert_overwrite', partition_by=['nope']", "partition_by column 'nope'"),
    ("on_schema_change='explode'", "unknown on_schema_change"),
])
def test_invalid_configs_are_located_errors_at_load(make_project, config, expected):
    root = make_project({"models/m.sql": f"-- m\n{{{{ config(materialized='incremental', {config}) }}}}\n"
                                         "select 1 as id, timestamp'2020-01-01' as ts"})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    err = info.value
    assert expected in err.message and err.node == "m" and err.path == "models/m.sql" and err.line == 2


def test_both_branches_are_rendered_at_load_with_the_union_of_refs(make_project):
    root = make_project({
        "models/a.sql": "select 1 as id", "models/b.sql": "select 2 as id",
        "models/m.sql": "{{ config(materialized='incremental') }}\nselect id from {{ ref('a') }}\n"
                        "{% if is_incremental() %}union all select id from {{ ref('b') }} "
                        "where id > (select max(id) from {{ this }}){% endif %}",
    })
    p = load_project(root)
    node = p.manifest.nodes["model.demo.m"]
    assert set(node.depends_on) == {"model.demo.a", "model.demo.b"}
    compiled = p.compiler.compile(node.unique_id)
    assert "`b`" not in compiled.sql and "from `a`" in compiled.sql
    assert "select id from `b` where id > (select max(id) from `m`)" in compiled.incremental.sql


# -- strategies on Spark ------------------------------------------------------------------------

def test_every_strategy_builds_then_changes_its_table(make_project, spark):
    root = make_project(FILES)
    first = ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS1}))
    assert first["mg"].message == "created incremental table"
    shown = root / "target" / "compiled" / "demo" / "models" / "only_new.sql"
    assert "max(id)" not in shown.read_text()  # the first run built it in full
    sparkmodels.compile(root, vars={"rows": ROWS1})  # no Spark: the warehouse says the table exists
    assert "where id > (select max(id) from `only_new`)" in shown.read_text()
    second = ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS2}))
    assert rows(spark, root, "app") == [(1, "a", "2020-01"), (2, "B", "2020-01"), (2, "b", "2020-01"),
                                        (3, "c", "2020-02"), (4, "d", "2020-03")]
    # the 2020-01 partition is replaced by the new rows, 2020-02 kept, 2020-03 added
    assert rows(spark, root, "io") == [(2, "B", "2020-01"), (3, "c", "2020-02"), (4, "d", "2020-03")]
    assert rows(spark, root, "io_whole") == [(2, "B", "2020-01"), (4, "d", "2020-03")]
    assert rows(spark, root, "mg") == [(1, "a", "2020-01"), (2, "B", "2020-01"), (3, "c", "2020-02"),
                                       (4, "d", "2020-03")]
    # merge_exclude_columns: m keeps the old value for the updated key, new keys get the new one
    assert rows(spark, root, "mg_keep_m") == [(1, "a", "2020-01"), (2, "B", "2020-01"), (3, "c", "2020-02"),
                                              (4, "d", "zz")]
    # incremental_predicates: id 2 sits in 2020-01, outside the predicate: not matched, inserted again
    assert rows(spark, root, "mg_pred") == [(1, "a", "2020-01"), (2, "B", "2020-01"), (2, "b", "2020-01"),
                                            (3, "c", "2020-02"), (4, "d", "2020-03")]
    assert rows(spark, root, "di") == [(1, "a", "2020-01"), (2, "B", "2020-01"), (3, "c", "2020-02"),
                                       (4, "d", "2020-03")]
    assert rows(spark, root, "only_new") == [(1, "a", "2020-01"), (2, "b", "2020-01"), (3, "c", "2020-02"),
                                             (4, "d", "2020-03")]
    assert rows(spark, root, "py_inc") == rows(spark, root, "only_new")
    assert second["app"].rows == 2 and second["only_new"].rows == 1
    # append shares every old file: hard links, not copies
    assert second["app"].extra["shared_files"] >= 2
    current = (root / "warehouse" / "demo" / "app").resolve()
    linked = [p for p in current.rglob("part-*") if p.stat().st_nlink >= 2]
    assert len(linked) == second["app"].extra["shared_files"]
    # insert_overwrite rewrote 2020-01 only: the 2020-02 file is the previous version's
    io_files = list((root / "warehouse" / "demo" / "io").resolve().glob("m=2020-02/part-*"))
    assert io_files and all(p.stat().st_nlink >= 2 for p in io_files)
    assert not any(p.stat().st_nlink >= 2
                   for p in (root / "warehouse" / "demo" / "io").resolve().glob("m=2020-01/part-*"))
    # merge rewrote only the files holding a matched key
    assert second["mg"].extra["rewritten_files"] >= 1
    # a partitioned version records the schema Spark reads it with (partition column last), so the
    # next run reads {{ this }} without a footer-inference job
    recorded = json.loads(stored_schema(current))
    assert [f["name"] for f in recorded["fields"]] == spark.read.parquet(str(current)).columns == ["id", "v", "m"]


def test_full_refresh_rebuilds_unless_the_model_says_full_refresh_false(make_project, spark):
    root = make_project({
        "models/src.sql": FILES["models/src.sql"],
        "models/app.sql": inc("append"),
        "models/kept.sql": inc("append", ", full_refresh=false"),
        "models/always.sql": inc("append", ", full_refresh=true"),
        "project.yml": FILES["project.yml"],
    })
    ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS1}))
    res = ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS2}, full_refresh=True))
    assert res["app"].message == "created incremental table"
    assert len(rows(spark, root, "app")) == 2
    assert len(rows(spark, root, "kept")) == 5  # protected from --full-refresh
    assert len(rows(spark, root, "always")) == 2
    ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS1}))
    assert len(rows(spark, root, "always")) == 3  # full_refresh: true rebuilds on every run


@pytest.mark.parametrize("mode", ["ignore", "fail", "append_new_columns", "sync_all_columns"])
def test_on_schema_change(make_project, spark, mode):
    root = make_project({
        "project.yml": FILES["project.yml"],
        "models/m.sql": f"{{{{ config(materialized='incremental', on_schema_change='{mode}') }}}}\n"
                        "select id{% if var('wide', false) %}, id * 10 as w{% else %}, 'x' as old{% endif %} "
                        "from values (1), (2) as t(id)",
    })
    ok(sparkmodels.run(root, spark=spark))
    result = sparkmodels.run(root, spark=spark, vars={"wide": True})
    table = spark.read.parquet(str(root / "warehouse" / "demo" / "m"))
    got = {tuple(r) for r in table.collect()}
    [r] = result.results
    if mode == "fail":
        assert r.status == "error"
        assert "added w" in r.message and "removed old" in r.message
        assert table.columns == ["id", "old"] and len(got) == 2  # the table is unchanged
        return
    assert r.status == "success", r.message
    if mode == "ignore":
        assert table.columns == ["id", "old"] and got == {(1, "x"), (1, None), (2, "x"), (2, None)}
    elif mode == "append_new_columns":
        assert table.columns == ["id", "old", "w"] and "added w" in r.message
        assert got == {(1, None, 10), (1, "x", None), (2, None, 20), (2, "x", None)}
    else:
        assert table.columns == ["id", "w"] and "added w; removed old" in r.message
        assert got == {(1, None), (1, 10), (2, None), (2, 20)}


@pytest.mark.slow
def test_kill_9_during_an_incremental_write_leaves_the_previous_version(make_project, spark):
    slow = ("select id, v, m from {{ ref('src') }}\n"
            "{% if is_incremental() %}where reflect('java.lang.Thread', 'sleep', cast(60000 as bigint)) is null"
            "{% endif %}")  # Thread.sleep returns void: null, so every row passes after the sleep
    # src a table: over a view of literal rows Spark's optimizer would run the sleeps while planning,
    # before the write starts (minutes of a test waiting for nothing).
    root = make_project({"project.yml": FILES["project.yml"],
                         "models/src.sql": "{{ config(materialized='table') }}\n" + FILES["models/src.sql"],
                         "models/app.sql": inc("append", ", partition_by=['m']", slow)})
    ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS1}))
    before = rows(spark, root, "app")
    versions = root / "warehouse" / "demo" / ".versions" / "app"
    existing = set(os.listdir(versions))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root),
                             "--vars", f"{{rows: \"{ROWS2}\"}}"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (set(os.listdir(versions)) - existing):
            time.sleep(0.5)
        assert set(os.listdir(versions)) - existing, "the run never started writing a version"
        time.sleep(2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert rows(spark, root, "app") == before
    # the next run recovers without clean-up (a fast model this time)
    (root / "models" / "app.sql").write_text(inc("append", ", partition_by=['m']"))
    ok(sparkmodels.run(root, spark=spark, vars={"rows": ROWS2}))
    assert len(rows(spark, root, "app")) == len(before) + 2
