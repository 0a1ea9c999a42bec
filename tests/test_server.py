"""`sparkmodels server`: a warm Spark Connect server that runs of the same target attach to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sparkmodels.app import api
from sparkmodels.execute.spark import server
from sparkmodels.project.config import Target, load_config

PROJECT = {
    "project.yml": "name: srv\nversion: '1'\nmodels:\n  srv:\n    +materialized: table\n",
    "seeds/base.csv": "id,amount\n1,10\n2,20\n3,30\n",
    "models/doubled.sql": "select id, amount * {{ var('factor', 2) }} as amount from {{ ref('base') }}\n",
    "models/total.sql": "{{ config(materialized='view') }}\nselect sum(amount) as total from {{ ref('doubled') }}\n",
}


def _cli(root: Path, *args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "sparkmodels", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=root)


# -- the key and the records (no JVM) ------------------------------------------------------------
def test_the_key_follows_every_session_setting_and_nothing_else(tmp_path):
    base = Target(warehouse=str(tmp_path / "wh"))
    key = server.server_key(base)
    assert key is not None and key == server.server_key(replace(base))
    changed = [replace(base, master="local[1]"), replace(base, warehouse=str(tmp_path / "other")),
               replace(base, conf={"spark.sql.shuffle.partitions": "3"}), replace(base, jars=("x.jar",)),
               replace(base, packages=("org.example:lib:1.0",)), replace(base, catalog="hive")]
    assert len({server.server_key(t) for t in changed} | {key}) == len(changed) + 1
    # what a run chooses per invocation does not need another server
    assert server.server_key(replace(base, threads=4, name="dev", schema="other")) == key


def _record(target: Target, pid: int, tmp_path: Path) -> Path:
    server.servers_dir().mkdir(parents=True, exist_ok=True)
    record = server.servers_dir() / f"{server.server_key(target)}.json"
    record.write_text(json.dumps({"key": server.server_key(target), "pid": pid, "url": "sc://127.0.0.1:1",
                                  "target": "local", "project": str(tmp_path), "master": "local[*]",
                                  "warehouse": target.warehouse, "started": time.time(), "log": "x.log"}))
    return record


def test_a_record_whose_process_is_gone_is_removed_and_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = Target(warehouse=str(tmp_path / "wh"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = _record(target, dead.pid, tmp_path)
    assert server.find(target) is None
    assert not record.exists()
    assert server.servers() == []


def test_a_record_naming_an_unrelated_live_process_is_dropped_and_that_process_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = Target(warehouse=str(tmp_path / "wh"))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # e.g. a pid reused after a reboot
    try:
        record = _record(target, other.pid, tmp_path)
        assert server.servers() == [] and not record.exists()
        _record(target, other.pid, tmp_path)
        assert api.server_stop(tmp_path, every=True) == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_connect_target_is_refused_with_a_reason(make_project):
    root = make_project({"project.yml": "name: srv\nversion: '1'\ntargets:\n  c:\n    remote: sc://127.0.0.1:1\n"})
    proc = _cli(root, "server", "start", "--target", "c")
    assert proc.returncode == 2
    assert "already uses a Spark Connect server" in proc.stderr and "Traceback" not in proc.stderr


def test_a_hadoop_warehouse_is_refused_before_any_jvm_starts(make_project):
    root = make_project({"project.yml": "name: srv\nversion: '1'\ntargets:\n  h:\n    warehouse: hdfs://nn:8020/wh\n"})
    proc = _cli(root, "server", "start", "--target", "h")
    assert proc.returncode == 2
    assert "cannot be used over Spark Connect" in proc.stderr and "Traceback" not in proc.stderr


def test_stop_and_status_without_a_server_say_so(make_project, tmp_path):
    root = make_project({"project.yml": f"name: srv\nversion: '1'\ntargets:\n  local:\n    warehouse: {tmp_path}/w\n"})
    assert "No server was running" in _cli(root, "server", "stop").stdout


def test_jdbc_port_makes_the_thrift_server_the_main_class_with_connect_as_a_plugin(tmp_path):
    from sparkmodels.execute.spark.launch import JDBC_READER_CONF

    target = Target(warehouse=str(tmp_path / "wh"), catalog="hive",
                    conf={"spark.plugins": "com.example.Mine"})
    plain = server._command(target, 15002, "")
    assert plain[plain.index("--class") + 1] == server.SERVER_CLASS and plain[-1] == "spark-internal"
    cmd = server._command(target, 15002, "", jdbc_port=10123)
    assert cmd[cmd.index("--class") + 1] == server.THRIFT_CLASS
    confs = dict(c.split("=", 1) for c in cmd[cmd.index("--class"):] if "=" in c and c.startswith("spark."))
    # the user's plugin stays, Connect is added; the Hive session is the target's, embedded Derby included
    assert confs["spark.plugins"] == f"com.example.Mine,{server.CONNECT_PLUGIN}"
    assert confs["spark.sql.catalogImplementation"] == "hive"
    assert "metastore_db" in confs["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert confs["spark.connect.grpc.binding.port"] == "15002"
    assert all(confs[k] == v for k, v in JDBC_READER_CONF.items())
    assert cmd[-4:] == ["--hiveconf", "hive.server2.thrift.port=10123", "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1"]


def test_jdbc_port_needs_a_catalog_hive_target(make_project, tmp_path):
    root = make_project({"project.yml": f"name: srv\nversion: '1'\ntargets:\n  local:\n    warehouse: {tmp_path}/w\n"})
    proc = _cli(root, "server", "start", "--jdbc-port", "10123")
    assert proc.returncode == 2
    assert "catalog: hive" in proc.stderr and "Traceback" not in proc.stderr


def test_a_connect_server_without_hive_support_is_refused_for_a_catalog_hive_target():
    from sparkmodels.errors import EnvironmentProblem
    from sparkmodels.execute.catalog import HiveCatalog

    class Conf:  # what a Connect session answers for the server's static conf
        def __init__(self, kind):
            self.kind = kind

        def get(self, key, default=None):
            return self.kind if key == "spark.sql.catalogImplementation" else default

    class Session:
        def __init__(self, kind):
            self.conf = Conf(kind)

    target = Target(name="c", remote="sc://10.0.0.5:15002", catalog="hive")
    HiveCatalog(Session("hive"), target)._check_server_has_hive()
    with pytest.raises(EnvironmentProblem, match="runs without Hive support") as err:
        HiveCatalog(Session("in-memory"), target)._check_server_has_hive()
    assert "sc://10.0.0.5:15002" in str(err.value)  # the CLI: this paragraph, exit 2


# -- a real server -------------------------------------------------------------------------------
@pytest.mark.slow
def test_runs_attach_to_the_server_until_it_stops(make_project, spark):
    root = make_project(PROJECT)
    target = load_config(root).target
    started = _cli(root, "server", "start")
    try:
        assert started.returncode == 0, started.stderr
        assert "Started: target 'local'" in started.stdout
        running = server.find(target)
        assert running is not None and running.url in started.stdout
        assert "Already running" in _cli(root, "server", "start").stdout
        status = subprocess.run([sys.executable, "-m", "sparkmodels", "server", "status"],
                                capture_output=True, text=True, timeout=60)
        assert running.url in status.stdout and str(root) in status.stdout

        built = _cli(root, "build")
        assert built.returncode == 0, built.stdout + built.stderr
        assert "via sparkmodels server" in built.stdout
        results = json.loads((root / "target" / "run_results.json").read_text())["results"]
        metrics = {r["unique_id"]: r["spark_metrics"] for r in results}
        assert metrics["model.srv.doubled"]["source"] == "spark-connect"
        rows = spark.read.parquet(str(root / "warehouse" / "srv" / "doubled")).collect()
        assert sorted(r.amount for r in rows) == [20, 40, 60]

        # the cache works across server runs: nothing changed, nothing rebuilt
        again = _cli(root, "build")
        assert again.returncode == 0 and "SKIP (unchanged)" in again.stdout

        # a var is rendered by the client: the server needs no restart for it
        tripled = _cli(root, "run", "--vars", "{factor: 3}")
        assert tripled.returncode == 0 and "via sparkmodels server" in tripled.stdout
        rows = spark.read.parquet(str(root / "warehouse" / "srv" / "doubled")).collect()
        assert sorted(r.amount for r in rows) == [30, 60, 90]

        # a changed session setting is another session: that run starts its own JVM, the server stays
        yml = root / "project.yml"
        yml.write_text(yml.read_text() + "targets:\n  local:\n    conf:\n      spark.sql.shuffle.partitions: '3'\n")
        own = _cli(root, "run", "-s", "total")
        assert own.returncode == 0, own.stderr
        assert "via sparkmodels server" not in own.stdout
        assert server.find(target) is not None
        yml.write_text(PROJECT["project.yml"])
    finally:
        stopped = _cli(root, "server", "stop")
    assert stopped.returncode == 0 and "Stopped: target 'local'" in stopped.stdout
    assert not server._alive(running.pid)
    assert server.find(target) is None
    assert not (server.servers_dir() / f"{running.key}.json").exists()


def test_tables_move_their_registered_location_only_where_other_sessions_read_meanwhile():
    from sparkmodels.execute.catalog import HiveCatalog, NoCatalog

    class Classic:  # a session this run's own JVM started: embedded Derby has no other user meanwhile
        pass

    Connect = type("SparkSession", (), {"__module__": "pyspark.sql.connect.session"})
    assert not HiveCatalog(Classic(), Target(catalog="hive")).shared_readers
    assert HiveCatalog(Connect(), Target(catalog="hive")).shared_readers  # the server: JDBC clients
    remote = Target(catalog="hive", conf={"spark.hadoop.hive.metastore.uris": "thrift://ms:9083"})
    assert HiveCatalog(Classic(), remote).shared_readers
    assert not NoCatalog().shared_readers
