"""The Hadoop FileSystem storage: pointer files, publish, clean, and whole runs through the JVM's FileSystem API.

S3 and HDFS are not reachable here; a `file:` warehouse with `warehouse_storage: hadoop` goes through
the same code (Hadoop's LocalFileSystem behind org.apache.hadoop.fs.FileSystem), on a real session.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import sparkmodels
from sparkmodels.errors import EnvironmentProblem, ProjectError, SelectionError
from sparkmodels.execute.storage import LocalWarehouse, open_warehouse
from sparkmodels.execute.storage.hadoop import HadoopTableLocation, HadoopWarehouse
from sparkmodels.project.config import load_config


@pytest.fixture
def wh(tmp_path, spark):
    return open_warehouse(f"file:{tmp_path / 'wh'}", "hadoop").connect(spark)


@pytest.fixture
def loc(wh):
    return wh.table("main", "orders")


def _local(path) -> str:
    return str(path).removeprefix("file:")


def _write(spark, loc, n: int, complete: bool = True):
    version = loc.new_version()
    spark.range(n).write.parquet(str(version))
    if not complete:  # what a killed write leaves: files, no _SUCCESS
        os.remove(os.path.join(_local(version), "_SUCCESS"))
    return version


def _count(spark, loc) -> int:
    return spark.read.parquet(str(loc.current())).count()


# -- choosing the storage --------------------------------------------------------------------------
@pytest.mark.parametrize("uri, kind", [
    ("/data/wh", "local"), ("file:/data/wh", "local"), ("file:///data/wh", "local"),
    ("hdfs://nn:8020/wh", "hadoop"), ("s3a://bucket/wh", "hadoop"), ("abfss://c@acct.dfs.core.windows.net/wh", "hadoop"),
])
def test_scheme_chooses_the_storage(uri, kind):
    assert open_warehouse(uri).kind == kind


def test_explicit_option_forces_hadoop_for_a_local_path():
    assert isinstance(open_warehouse("/data/wh", "hadoop"), HadoopWarehouse)
    assert open_warehouse("/data/wh", "hadoop").uri == "file:/data/wh"
    assert isinstance(open_warehouse("file:/data/wh", "local"), LocalWarehouse)
    assert open_warehouse("foo://x/wh", "hadoop").uri == "foo://x/wh"  # any scheme Hadoop may know


def test_unknown_scheme_and_bad_combinations_are_refused_clearly():
    with pytest.raises(EnvironmentProblem, match=r"scheme 's3://'.*does not know") as err:
        open_warehouse("s3://bucket/wh", target="prod")
    assert "s3a://" in str(err.value) and "target 'prod'" in str(err.value)
    with pytest.raises(EnvironmentProblem, match="not a local path"):
        open_warehouse("s3a://bucket/wh", "local")
    with pytest.raises(EnvironmentProblem, match="cannot be used over Spark Connect"):
        open_warehouse("hdfs://nn/wh", remote="sc://h:15002")
    with pytest.raises(EnvironmentProblem, match="warehouse_storage must be one of"):
        open_warehouse("/wh", "s3")


def test_target_option_is_parsed_and_validated(make_project):
    root = make_project({"project.yml": "name: d\nversion: '1'\ntargets:\n  h:\n    warehouse_storage: hadoop\n"
                                        "  bad:\n    warehouse_storage: posix\n"})
    assert load_config(root, target="h").target.warehouse_storage == "hadoop"
    assert load_config(root).target.warehouse_storage == "hadoop"  # the first target is the default
    with pytest.raises(ProjectError, match="warehouse_storage must be auto, local or hadoop"):
        load_config(root, target="bad")


def test_s3a_without_hadoop_aws_names_the_package(spark):
    with pytest.raises(EnvironmentProblem, match="S3AFileSystem not found") as err:
        open_warehouse("s3a://bucket/wh").connect(spark)
    assert "org.apache.hadoop:hadoop-aws:" in str(err.value)


# -- pointers --------------------------------------------------------------------------------------
def test_publish_writes_a_pointer_readers_resolve(spark, loc):
    assert loc.current() is None and loc.clean() == []
    v1 = _write(spark, loc, 3)
    assert loc.current() is None  # committed but not published: readers see nothing yet
    loc.publish(v1)
    assert loc.current() == v1 and _count(spark, loc) == 3
    [pointer] = [n for n in os.listdir(_local(loc.pointers)) if not n.startswith(".")]
    with open(os.path.join(_local(loc.pointers), pointer)) as f:
        assert f.read() == v1.name + "\n"
    assert not os.path.lexists(_local(loc.plain))  # nothing at <schema>/<model>: no symlink, no folder


def test_previous_version_kept_older_removed_pointers_pruned(spark, loc):
    versions = []
    for i in range(4):
        v = _write(spark, loc, i + 1)
        loc.publish(v)
        removed = loc.clean()
        versions.append(v)
        assert _count(spark, loc) == i + 1
        if i >= 2:
            assert removed == [versions[i - 2]]
    left = sorted(n for n in os.listdir(_local(loc.versions)) if n.startswith("v"))
    assert left == sorted([versions[2].name, versions[3].name])
    # the current pointer and the previous one (it names the previous version)
    assert len([n for n in os.listdir(_local(loc.pointers)) if n.startswith("p")]) == 2
    assert loc.previous() == versions[2].name


def test_killed_write_never_changes_the_table_and_is_cleaned_later(spark, loc):
    v1 = _write(spark, loc, 1)
    loc.publish(v1)
    crashed = _write(spark, loc, 9, complete=False)  # killed between the data and the commit
    assert loc.current() == v1
    assert loc.clean() == []  # its lease is held: a write in progress
    assert os.path.isdir(_local(crashed))
    loc.leases.release(loc.fs, loc.versions / "_leases" / crashed.name)  # the writer is gone
    v2 = _write(spark, loc, 2)
    loc.publish(v2)
    assert crashed in loc.clean() and not os.path.exists(_local(crashed))
    assert os.path.isdir(_local(v1)) and _count(spark, loc) == 2


def test_half_written_or_dangling_pointers_are_skipped(spark, loc):
    v1 = _write(spark, loc, 1)
    loc.publish(v1)
    pointers, soon = _local(loc.pointers), time.time_ns() + 10**12
    # a newer pointer cut off before its newline (a killed create on a store that shows partial files)
    with open(os.path.join(pointers, f"p{soon + 2}_aaaaaaaa"), "w") as f:
        f.write("v2099")
    assert loc.current() == v1
    # a newer pointer naming a version that was never committed
    uncommitted = _write(spark, loc, 5, complete=False)
    with open(os.path.join(pointers, f"p{soon + 1}_bbbbbbbb"), "w") as f:
        f.write(uncommitted.name + "\n")
    assert loc.current() == v1 and _count(spark, loc) == 1
    # the next publish still wins over both: pointer names only grow
    v2 = _write(spark, loc, 2)
    loc.publish(v2)
    assert loc.current() == v2
    loc.clean()
    assert sorted(os.listdir(pointers))[-1].startswith(f"p{soon + 3}")  # the bad ones are older now: gone
    assert len([n for n in os.listdir(pointers) if n.startswith("p")]) == 2  # v2's and v1's (the previous)


def test_temp_pointer_of_a_dead_publish_is_invisible_and_cleaned(spark, loc):
    v1 = _write(spark, loc, 1)
    loc.publish(v1)
    v2 = _write(spark, loc, 2)
    tmp = os.path.join(_local(loc.pointers), ".p0000000000000000001_cccccccc.tmp")
    with open(tmp, "w") as f:
        f.write(v2.name + "\n")
    assert loc.current() == v1  # a temp name is never read
    loc.clean()
    assert not os.path.exists(tmp)


def test_direct_put_publish_for_object_stores(spark, loc):
    direct = HadoopTableLocation(loc.fs, loc.warehouse, loc.schema, loc.name, direct_put=True)
    v1 = _write(spark, direct, 4)
    direct.publish(v1)
    assert direct.current() == v1 and loc.current() == v1


def test_plain_folder_written_by_another_tool_is_readable_until_published(spark, loc):
    spark.range(6).write.parquet(str(loc.plain))
    assert loc.current() == loc.plain and _count(spark, loc) == 6
    v1 = _write(spark, loc, 2)
    loc.publish(v1)
    assert loc.current() == v1
    loc.clean()
    assert os.path.isdir(_local(loc.plain))  # never deleted: it is not ours


def test_names_that_are_paths_are_refused(wh):
    from sparkmodels.errors import WarehouseError

    for schema, name in (("../../victim", "t"), ("main", ".."), ("/abs", "t")):
        with pytest.raises(WarehouseError, match="writes only inside the warehouse"):
            wh.table(schema, name)


def test_a_leased_write_survives_another_publish_until_its_lease_lapses(spark, wh):
    slow, fast = wh.table("main", "t"), HadoopTableLocation(wh._fs, wh.root, "main", "t")  # two runs' leases
    long_write = _write(spark, slow, 5, complete=False)  # older than what the fast run publishes
    fast.publish(_write(spark, fast, 1))
    assert fast.clean() == [] and os.path.isdir(_local(long_write))
    with pytest.raises(Exception, match="changed while this run wrote it"):
        slow.publish(long_write)  # its base (no table) is not current any more: compare-and-swap
    assert not os.path.exists(_local(long_write)) and _count(spark, fast) == 1
    dead = _write(spark, slow, 2)
    slow.leases._held.clear()  # as after kill -9: the lease file stays, nobody refreshes it
    fast.leases.LEASE_TTL = 0.0
    assert dead in fast.clean()


def test_an_unpublished_complete_orphan_never_costs_the_previous_version(spark, loc):
    v1 = _write(spark, loc, 1)
    loc.publish(v1)
    v2 = _write(spark, loc, 2)
    loc.publish(v2)
    orphan = _write(spark, loc, 7)  # committed, never published, its writer gone
    loc.leases.release(loc.fs, loc.versions / "_leases" / orphan.name)
    v3 = _write(spark, loc, 3)
    loc.publish(v3)
    removed = loc.clean()
    assert orphan in removed and v1 in removed and os.path.isdir(_local(v2)) and loc.previous() == v2.name


def test_files_beside_the_data(spark, loc):
    v1 = _write(spark, loc, 3)
    loc.write_text(v1, "_sparkmodels.json", '{"k": "é"}')
    assert loc.read_text(v1, "_sparkmodels.json") == '{"k": "é"}'
    assert loc.read_text(v1, "missing.json") is None
    assert loc.is_complete(v1) and loc.data_files(v1) >= 1
    size, mtime = loc.usage(v1)
    assert size > 0 and mtime > 0


# -- whole runs through the Hadoop variant ---------------------------------------------------------
PROJECT = {
    "project.yml": """
        name: demo
        version: '1'
        targets:
          hfs:
            warehouse: warehouse
            warehouse_storage: hadoop
        models:
          demo:
            +materialized: table
    """,
    "seeds/nums.csv": "id\n1\n2\n3\n",
    "models/base.sql": "select id from {{ ref('nums') }}",
    "models/v.sql": "{{ config(materialized='view') }}select id * 10 as x from {{ ref('base') }}",
    "models/top.sql": "select count(*) as n, sum(x) as sx from {{ ref('v') }}",
}


def _table(root, spark, name):
    loc = open_warehouse(f"file:{root / 'warehouse'}", "hadoop").connect(spark).table("demo", name)
    return loc, loc.current()


def test_build_cache_failure_and_docs_through_hadoop_storage(make_project, spark):
    from sparkmodels.app.api import docs_generate, table_path

    root = make_project(PROJECT)
    first = sparkmodels.build(root, spark=spark)
    assert first.success, [r.message for r in first.results]
    loc, top = _table(root, spark, "top")
    assert spark.read.parquet(str(top)).collect()[0].asDict() == {"n": 3, "sx": 60}
    assert not os.path.lexists(root / "warehouse" / "demo" / "top")  # no symlink: the pointer names it
    metrics = next(r for r in first.results if r.name == "top").extra["spark_metrics"]
    assert metrics["files_written"] >= 1  # counted by listing the version through the FileSystem API

    # unchanged: the fingerprint is read back through the FileSystem API, nothing is rewritten
    again = sparkmodels.build(root, spark=spark)
    assert {r.name for r in again.results if r.extra.get("cached")} == {"nums", "base", "top"}
    assert _table(root, spark, "top")[1] == top
    fp = json.loads(loc.read_text(top, "_sparkmodels.json"))
    assert fp["inputs"]["upstream"]["model.demo.v"]["upstream"]["model.demo.base"].startswith("demo/.versions/base/v")

    # a failing write leaves the table on its previous version and removes its partial files
    (root / "models/top.sql").write_text("select count(*) as n, sum(assert_true(x < 0)) as sx from {{ ref('v') }}")
    failed = sparkmodels.run(root, spark=spark, select=["top"])
    assert not failed.success
    assert _table(root, spark, "top")[1] == top
    assert sorted(n for n in os.listdir(_local(loc.versions)) if n.startswith("v")) == [top.name]

    # an upstream change rebuilds downstream; the previous version is kept, older ones cleaned
    (root / "models/top.sql").write_text("select count(*) as n, max(x) as sx from {{ ref('v') }}")
    (root / "seeds/nums.csv").write_text("id\n1\n2\n3\n4\n")
    rebuilt = sparkmodels.build(root, spark=spark)
    assert rebuilt.success and not any(r.extra.get("cached") for r in rebuilt.results if r.name == "top")
    _, top2 = _table(root, spark, "top")
    assert top2 != top and spark.read.parquet(str(top2)).collect()[0].asDict() == {"n": 4, "sx": 40}
    assert sorted(n for n in os.listdir(_local(loc.versions)) if n.startswith("v")) == sorted([top.name, top2.name])

    # where outside readers find the data: the version the newest pointer names
    assert table_path(root, "top", spark=spark) == str(top2)
    with pytest.raises(SelectionError, match="no table or seed named 'v'"):
        table_path(root, "v", spark=spark)

    # docs generate: schemas and stats of tables found through the pointers
    docs_generate(root, spark=spark, stats=True)
    cat = json.loads((root / "target" / "catalog.json").read_text())
    entry = cat["nodes"]["model.demo.top"]
    assert list(entry["columns"]) == ["n", "sx"] and entry["error"] is None
    assert entry["stats"]["built"] and entry["stats"]["rows"] == 1 and entry["stats"]["bytes"] > 0
    assert cat["nodes"]["seed.demo.nums"]["stats"]["rows"] == 4


def test_table_path_cli_on_a_local_warehouse_needs_no_spark(make_project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    root = make_project({"models/t.sql": "{{ config(materialized='table') }}select 1 as x"})
    res = CliRunner().invoke(cli, ["table-path", "t", "--project-dir", str(root)])
    assert res.exit_code == 1 and "'t' has not been built yet" in res.output
    loc = LocalWarehouse(root / "warehouse").table("demo", "t")
    version = loc.new_version()
    version.mkdir()
    (version / "_SUCCESS").write_text("")
    loc.publish(version)
    res = CliRunner().invoke(cli, ["table-path", "t", "--project-dir", str(root)])
    assert res.exit_code == 0 and res.output.strip() == str(root / "warehouse" / "demo" / "t")


def test_defer_reads_upstream_from_a_hadoop_storage_state(tmp_path, spark):
    import shutil

    from conftest import write_files

    models = {"models/a.sql": "{{ config(materialized='table') }}select 1 as id union all select 2 as id",
              "models/c.sql": "{{ config(materialized='table') }}select sum(id) as n from {{ ref('a') }}"}
    prod = write_files(tmp_path / "prod", {**models, "project.yml": "name: demo\nversion: '1'\ntargets:\n  p:\n"
                                           "    warehouse: warehouse\n    warehouse_storage: hadoop\n"})
    assert sparkmodels.run(prod, select="a", spark=spark).success
    state = shutil.copytree(prod / "target", tmp_path / "prod-state")
    dev = write_files(tmp_path / "dev", {**models, "project.yml": "name: demo\nversion: '1'\n"})  # local storage
    res = sparkmodels.run(dev, select="c", spark=spark, state=state, defer=True)
    assert res.success, [(r.name, r.message) for r in res.results]
    assert spark.read.parquet(str(dev / "warehouse" / "demo" / "c")).collect()[0]["n"] == 3
