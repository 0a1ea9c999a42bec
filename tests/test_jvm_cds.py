"""The driver JVM's class-data-sharing archive: dump once, publish only complete dumps, map it later."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sparkmodels.execute.spark import jvm_cds

MAGIC = bytes.fromhex("a8ab0bf0")


def _fake_dump(directory: Path, key: str, *, complete: bool, size: int = 2 << 20) -> Path:
    part = directory / f"{key}.1.1.part"
    part.write_bytes(MAGIC + b"\0" * size)
    log = "[1.0s][info][cds,dynamic] Copying 8 klasses\n"
    if complete:
        log += "[1.2s][info][cds,dynamic] Written dynamic archive 0x8 - 0x9 [984 bytes header, 97904 bytes total]\n"
    Path(f"{part}.log").write_text(log)
    return part


def test_first_run_dumps_then_a_complete_dump_is_published_and_mapped(tmp_path):
    conf: dict = {}
    key = jvm_cds.archive_key(conf)
    assert key is not None  # Java and pyspark are on this machine
    opts = jvm_cds.java_options(conf, tmp_path)
    part = jvm_cds.option_value(opts, jvm_cds.DUMP_FLAG)
    assert part and Path(part).parent == tmp_path and part.endswith(".part") and "-Xlog:cds=off" in opts
    Path(part).write_bytes(MAGIC)  # the dumping JVM has started writing: nobody else dumps or maps it
    assert jvm_cds.java_options(conf, tmp_path) == ""
    Path(part).unlink()
    _fake_dump(tmp_path, key, complete=True)
    opts = jvm_cds.java_options(conf, tmp_path)
    assert jvm_cds.option_value(opts, jvm_cds.USE_FLAG) == str(tmp_path / f"{key}.jsa")
    assert (tmp_path / f"{key}.jsa").is_file() and not list(tmp_path.glob("*.part*"))
    jvm_cds.discard_archive(opts)
    assert not (tmp_path / f"{key}.jsa").exists()


def test_incomplete_or_abandoned_dumps_are_never_mapped(tmp_path):
    key = jvm_cds.archive_key({})
    part = _fake_dump(tmp_path, key, complete=False)
    assert jvm_cds.java_options({}, tmp_path) == ""  # still being written
    _fake_dump(tmp_path, key, complete=True, size=10)  # a "complete" log but a truncated file
    assert jvm_cds.option_value(jvm_cds.java_options({}, tmp_path), jvm_cds.USE_FLAG) is None
    old = time.time() - 3600
    for f in tmp_path.iterdir():
        os.utime(f, (old, old))
    opts = jvm_cds.java_options({}, tmp_path)  # abandoned an hour ago: removed, and this run dumps
    assert jvm_cds.DUMP_FLAG in opts and not part.exists()


def test_archive_key_follows_the_jars_and_driver_classpath(tmp_path):
    jars = tmp_path / "spark" / "jars"
    jars.mkdir(parents=True)
    (jars / "a.jar").write_bytes(b"x")
    one = jvm_cds.archive_key({}, tmp_path / "spark")
    assert one == jvm_cds.archive_key({}, tmp_path / "spark")
    assert one != jvm_cds.archive_key({"spark.driver.extraClassPath": "/opt/x.jar"}, tmp_path / "spark")
    (jars / "b.jar").write_bytes(b"y")
    assert one != jvm_cds.archive_key({}, tmp_path / "spark")


def _run(root: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root)],
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cli_runs_dump_map_and_survive_a_damaged_archive(make_project, tmp_path):
    """Real JVMs: run 1 dumps the archive, run 2 maps it (classes come from the top archive), and a
    damaged archive costs one failed JVM start, not the run."""
    cache = tmp_path / "cache"
    classlog = tmp_path / "classload.log"
    root = make_project({
        "project.yml": "name: demo\nversion: '1'\ntarget: dev\ntargets:\n  dev:\n    conf:\n"
                       f"      spark.driver.extraJavaOptions: -Xlog:class+load=info:file={classlog}\n",
        "models/one.sql": "{{ config(materialized='table') }}\nselect 1 as id\n",
    })
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    directory = cache / "sparkmodels" / "cds"
    first = _run(root, env)
    assert first.returncode == 0, first.stdout + first.stderr
    deadline = time.time() + 300  # the JVM writes the dump as it exits, after the run
    while time.time() < deadline and not any(
            b"Written dynamic archive" in p.read_bytes() for p in directory.glob("*.part.log")):
        time.sleep(1)
    second = _run(root, env)
    assert second.returncode == 0, second.stdout + second.stderr
    archives = list(directory.glob("*.jsa"))
    assert len(archives) == 1
    assert "shared objects file (top)" in classlog.read_text()  # Spark's classes mapped from our archive
    assert "cds" not in second.stdout.lower() + second.stderr.lower()

    with archives[0].open("r+b") as fh:  # damage it: keep the header, drop the rest
        fh.truncate(2 << 20)
    third = _run(root, {**env})
    assert third.returncode == 0, third.stdout + third.stderr
    assert not archives[0].exists()  # discarded; a later run dumps a new one
    assert not list(root.glob("hs_err_pid*.log"))


def test_a_hive_enabled_driver_has_an_archive_of_its_own():
    """catalog: hive loads Hive's, DataNucleus' and Derby's classes: mapping the catalog-free archive
    would leave them out, so the key differs (and a catalog-free target's key is unchanged)."""
    from sparkmodels.execute.spark.launch import driver_java_options
    from sparkmodels.project.config import Target

    plain, hive = jvm_cds.archive_key({}), jvm_cds.archive_key({"spark.sql.catalogImplementation": "hive"})
    assert plain and hive and plain != hive
    assert jvm_cds.archive_key({"spark.sql.catalogImplementation": "in-memory"}) == plain
    opts = driver_java_options(Target(catalog="hive"))
    assert hive in opts and plain not in opts
