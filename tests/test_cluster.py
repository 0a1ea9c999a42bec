"""The example project built on real Spark clusters on loopback: a standalone master with one worker,
and a Spark Connect server; results must equal the local build's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_fixtures import free_port, running, start_connect_server, start_standalone
from conftest import copy_example

TABLE = ("nyc_taxi", "dim_monthly_zone_revenue")


@pytest.fixture(scope="session")
def standalone_master(tmp_path_factory):
    """spark://127.0.0.1:<port> of a standalone master with one 1-core, 1 GiB worker."""
    try:
        master, worker = start_standalone(tmp_path_factory.mktemp("standalone"))
    except RuntimeError as exc:
        pytest.fail(f"the standalone cluster did not start: {exc}")
    with running(master, worker):
        yield master.url


@pytest.fixture(scope="session")
def connect_url(tmp_path_factory):
    """sc://127.0.0.1:<port> of a Spark Connect server started from the installed pyspark."""
    try:
        server = start_connect_server(tmp_path_factory.mktemp("connect"))
    except RuntimeError as exc:
        pytest.fail(f"the Spark Connect server did not start: {exc}")
    with running(server):
        yield server.url


def _profiles(root: Path, standalone: str | None = None, connect: str | None = None) -> None:
    import yaml

    targets = {}
    if standalone:
        targets["standalone"] = {
            "master": standalone, "warehouse": f"file:{root / 'warehouse'}", "threads": 2,
            "conf": {"spark.executor.memory": "512m", "spark.cores.max": 1, "spark.ui.enabled": False,
                     "spark.sql.shuffle.partitions": 2,
                     # a secret reaching the target through env_var(): must never be printed or stored
                     "spark.sparkmodels.test.token": "{{ env_var('SPARKMODELS_TEST_TOKEN') }}"},
        }
    if connect:
        targets["connect"] = {"remote": connect, "warehouse": str(root / "warehouse"), "threads": 2}
    (root / "profiles.yml").write_text(yaml.safe_dump({"targets": targets}), encoding="utf-8")


def _cli(root: Path, *args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARKMODELS_TEST_TOKEN": "s3cr3t-t0ken-value"}
    return subprocess.run([sys.executable, "-m", "sparkmodels", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=root)


def _rows(spark, warehouse: Path) -> list:
    df = spark.read.parquet(str(warehouse.joinpath(*TABLE)))
    return sorted(df.collect(), key=lambda r: tuple(str(v) for v in r))


def _assert_same_as_local(spark, built_example, root: Path) -> None:
    got, expected = _rows(spark, root / "warehouse"), _rows(spark, built_example / "warehouse")
    assert len(got) == len(expected) > 0
    assert got == expected


@pytest.mark.slow
def test_build_on_standalone_cluster_equals_local(standalone_master, built_example, spark, tmp_path):
    root = copy_example(tmp_path / "example")
    _profiles(root, standalone=standalone_master)
    debug = _cli(root, "debug", "--target", "standalone")
    assert debug.returncode == 0, debug.stdout + debug.stderr
    assert standalone_master in debug.stdout
    assert "executors:" in debug.stdout and "cores:" in debug.stdout
    assert "s3cr3t-t0ken-value" not in debug.stdout + debug.stderr

    proc = _cli(root, "build", "--target", "standalone")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _assert_same_as_local(spark, built_example, root)
    results = json.loads((root / "target" / "run_results.json").read_text())
    metrics = {r["name"]: r["spark_metrics"] for r in results["results"]}
    m = metrics[TABLE[1]]
    assert m["rows_written"] == len(_rows(spark, root / "warehouse")) and m["tasks"] >= 1
    assert m["scheduler_pool"] == TABLE[1]  # threads: 2 -> FAIR, one pool per model
    assert "s3cr3t-t0ken-value" not in (root / "target" / "run_results.json").read_text()


@pytest.mark.slow
def test_build_over_spark_connect_equals_local(connect_url, built_example, spark, tmp_path):
    root = copy_example(tmp_path / "example")
    _profiles(root, connect=connect_url)
    debug = _cli(root, "debug", "--target", "connect")
    assert debug.returncode == 0, debug.stdout + debug.stderr
    assert connect_url in debug.stdout and "4." in debug.stdout

    proc = _cli(root, "build", "--target", "connect")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _assert_same_as_local(spark, built_example, root)
    results = json.loads((root / "target" / "run_results.json").read_text())
    m = {r["name"]: r["spark_metrics"] for r in results["results"]}[TABLE[1]]
    # Connect exposes the write's own numbers; the driver's task accounting is not visible (null).
    assert m["source"] == "spark-connect"
    assert m["rows_written"] == len(_rows(spark, root / "warehouse"))
    assert m["files_written"] >= 1 and m["tasks"] is None

    # The docs catalog over Connect: analysed schemas of views, tables, seeds and sources.
    docs = _cli(root, "docs", "generate", "--target", "connect")
    assert docs.returncode == 0, docs.stdout[-3000:] + docs.stderr[-3000:]
    catalog = json.loads((root / "target" / "catalog.json").read_text())
    nodes = {**catalog["nodes"], **catalog.get("sources", {})}
    cols = nodes["model.nyc_taxi.dim_monthly_zone_revenue"]["columns"]
    assert cols["revenue_monthly_fare"]["type"] == "double"
    assert "pickup_datetime" in nodes["model.nyc_taxi.stg_green_tripdata"]["columns"]
    assert "locationid" in nodes["seed.nyc_taxi.taxi_zone_lookup"]["columns"]


@pytest.mark.slow
def test_build_on_standalone_cluster_with_hadoop_storage(standalone_master, built_example, spark, tmp_path):
    """Executors write the versions, the driver publishes pointers through the JVM's FileSystem API."""
    import yaml

    root = copy_example(tmp_path / "example")
    _profiles(root, standalone=standalone_master)
    profiles = yaml.safe_load((root / "profiles.yml").read_text())
    profiles["targets"]["standalone"]["warehouse_storage"] = "hadoop"
    (root / "profiles.yml").write_text(yaml.safe_dump(profiles), encoding="utf-8")
    proc = _cli(root, "build", "--target", "standalone")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not (root / "warehouse").joinpath(*TABLE).exists()  # no symlink: a pointer names the version
    where = _cli(root, "table-path", TABLE[1], "--target", "standalone")
    assert where.returncode == 0, where.stderr[-3000:]
    version = where.stdout.strip().splitlines()[-1]
    assert version.startswith(f"file:{root / 'warehouse' / TABLE[0] / '.versions' / TABLE[1]}/v")
    got = sorted(spark.read.parquet(version).collect(), key=lambda r: tuple(str(v) for v in r))
    assert got == _rows(spark, built_example / "warehouse")


def test_hadoop_storage_over_connect_is_refused_before_connecting(make_project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    root = make_project({"project.yml": "name: d\nversion: '1'\ntargets:\n  c:\n    remote: sc://127.0.0.1:1\n"
                                        "    warehouse: hdfs://nn:8020/wh\n",
                         "models/m.sql": "select 1 as x"})
    res = CliRunner().invoke(cli, ["run", "--project-dir", str(root)])
    assert res.exit_code == 2
    assert "Hadoop FileSystem warehouse ('hdfs://nn:8020/wh') cannot be used over Spark Connect" in res.output


def test_connect_target_with_packages_is_a_clear_error():
    from sparkmodels.errors import EnvironmentProblem
    from sparkmodels.execute.spark.session import build_session
    from sparkmodels.project.config import Target

    target = Target(name="c", master=None, remote="sc://127.0.0.1:1", packages=("org.x:y:1",))
    with pytest.raises(EnvironmentProblem, match="packages/jars"):
        build_session(target)


def test_object_store_warehouse_is_refused_clearly():
    from sparkmodels.errors import EnvironmentProblem
    from sparkmodels.execute.storage import local_path

    assert str(local_path("file:/mnt/shared/wh")) == "/mnt/shared/wh"
    with pytest.raises(EnvironmentProblem, match="not a local path"):
        local_path("s3a://bucket/wh")


def test_debug_names_the_reason_an_unreachable_connect_server_fails(make_project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    port = free_port()  # nothing listens there
    root = make_project({"project.yml": f"name: d\nversion: '1'\ntargets:\n  c:\n    remote: sc://127.0.0.1:{port}\n"})
    res = CliRunner().invoke(cli, ["debug", "--project-dir", str(root), "--target", "c"])
    assert res.exit_code == 1
    assert f"cannot reach the Spark Connect server of target 'c' at 127.0.0.1:{port}" in res.output
