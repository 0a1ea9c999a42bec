"""Shared fixtures: one local SparkSession per test session, and helpers to write small projects."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PARTS = ("project.yml", "models", "macros", "seeds", "snapshots", "data", "data_tests", "udfs")


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run (local[2], no UI, 2 shuffle partitions)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    log4j = REPO / "sparkmodels" / "include" / "log4j2.properties"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("sparkmodels-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
    )
    from sparkmodels.execute.spark.launch import WRITE_CONF

    for key, value in WRITE_CONF.items():  # partitioned writes as in the sessions sparkmodels starts
        session = session.config(key, value)
    session = session.getOrCreate()
    yield session
    session.stop()


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root (text is dedented)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path):
    """make_project({path: text}) -> project dir; project.yml defaults to a minimal one."""

    def make(files: dict[str, str], name: str = "proj") -> Path:
        root = tmp_path / name
        defaults = {"project.yml": "name: demo\nversion: '1'\n"}
        write_files(root, {**defaults, **files})
        return root

    return make


def copy_example(dest: Path) -> Path:
    """A private copy of the repository's example project (no target/ or warehouse/)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in EXAMPLE_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        elif src.is_file():
            shutil.copy2(src, dest / part)
    return dest


@pytest.fixture
def example_project(tmp_path):
    return copy_example(tmp_path / "example")


@pytest.fixture(scope="session")
def built_example(tmp_path_factory, spark):
    """The example project built once (seeds + models) for tests that only read its tables."""
    import sparkmodels

    root = copy_example(tmp_path_factory.mktemp("built") / "example")
    result = sparkmodels.build(root, spark=spark)
    assert result.success, [(r.name, r.message) for r in result.results if r.status not in ("success", "pass", "warn")]
    # Other tests run more commands on this project; keep the build's own run_results.
    shutil.copy2(root / "target/run_results.json", root / "target/build_run_results.json")
    return root
