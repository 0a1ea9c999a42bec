"""The build cache: unchanged tables are skipped; any change to code, config, vars, data or upstream rebuilds."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import sparkmodels
from sparkmodels.app.cli import cli
from sparkmodels.execute.cache import FINGERPRINT_FILE, nondeterministic, stored_schema

FILES = {
    "project.yml": "name: demo\nversion: '1'\nvars:\n  max_id: 100\n",
    "seeds/nums.csv": "id\n1\n2\n3\n",
    "data/events/part-0.csv": "id,kind\n1,a\n2,b\n",
    "models/sources.yml": """
        sources:
          - name: raw
            tables:
              - name: events
                external: {location: data/events, format: csv, options: {header: 'true'}}
    """,
    "models/base.sql": "{{ config(materialized='table') }}select id from {{ ref('nums') }}",
    "models/mid.sql": ("{{ config(materialized='table') }}"
                       "select id, id * 2 as x from {{ ref('base') }} where id <= {{ var('max_id') }}"),
    "models/v.sql": "select * from {{ ref('mid') }}",
    "models/top.sql": "{{ config(materialized='table') }}select count(*) as n, sum(x) as sx from {{ ref('v') }}",
    "models/events.sql": "{{ config(materialized='table') }}select * from {{ source('raw', 'events') }}",
    "models/clock.sql": "{{ config(materialized='table') }}select current_timestamp() as t",
    "models/clock_ok.sql": "{{ config(materialized='table', deterministic=true) }}select current_date() as d",
}
TABLES = {"nums", "base", "mid", "top", "events", "clock", "clock_ok"}


def _outcome(result) -> dict[str, str]:
    """name -> 'cached' | 'built' (| status when not successful), for table/seed steps."""
    out = {}
    for r in result.results:
        if r.materialized in ("table", "seed"):
            out[r.name] = "cached" if r.extra.get("cached") else ("built" if r.status == "success" else r.status)
    return out


def _rebuilt(result) -> set[str]:
    return {name for name, what in _outcome(result).items() if what == "built"}


def _top(spark, root) -> tuple[int, int]:
    row = spark.read.parquet(str(root / "warehouse" / "demo" / "top")).collect()[0]
    return row["n"], row["sx"]


@pytest.fixture(scope="module")
def built_template(tmp_path_factory, spark):
    from conftest import write_files

    root = write_files(tmp_path_factory.mktemp("cache") / "proj", FILES)
    first = sparkmodels.build(root, spark=spark)
    assert first.success and _rebuilt(first) == TABLES
    return root


@pytest.fixture
def project(built_template, tmp_path):
    """A private copy of the built project (table versions and fingerprints copied along)."""
    return shutil.copytree(built_template, tmp_path / "proj", symlinks=True)


def _edit(path, text):
    path.write_text(text, encoding="utf-8")
    st = path.stat()  # make sure the mtime moves even on coarse-grained filesystems
    os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, time.time_ns()) + 1_000_000_000))


def test_unchanged_tables_are_skipped_and_still_readable(project, spark):
    schema = project / "warehouse" / "demo"
    before = os.path.realpath(schema / "base")
    again = sparkmodels.build(project, spark=spark)
    assert again.success
    # only the model calling current_timestamp() rebuilds; deterministic=true opts clock_ok in
    assert _rebuilt(again) == {"clock"}
    assert os.path.realpath(schema / "base") == before  # the same version, untouched
    cached = next(r for r in again.results if r.name == "base")
    assert cached.status == "success" and cached.message == "unchanged"
    assert cached.rows == 3  # the stored version's row count, recorded when it was written
    fp = json.loads((schema / "base" / FINGERPRINT_FILE).read_text())
    assert len(fp["inputs"]["code"]) == 64  # a digest: the warehouse file holds no SQL (nor secrets in it)
    assert "select id from" not in (schema / "base" / FINGERPRINT_FILE).read_text()
    assert _top(spark, project) == (3, 12)


def test_sql_change_rebuilds_the_model_and_its_downstream_only(project, spark):
    _edit(project / "models/mid.sql", "{{ config(materialized='table') }}"
          "select id, id * 3 as x from {{ ref('base') }} where id <= {{ var('max_id') }}")
    res = sparkmodels.build(project, spark=spark)
    assert _rebuilt(res) == {"mid", "top", "clock"}
    assert _top(spark, project) == (3, 18)


def test_view_change_rebuilds_tables_reading_it(project, spark):
    _edit(project / "models/v.sql", "select * from {{ ref('mid') }} where id > 1")
    res = sparkmodels.run(project, spark=spark)
    assert _rebuilt(res) == {"top", "clock"}
    assert _top(spark, project) == (2, 10)


def test_config_change_rebuilds(project, spark):
    _edit(project / "models/base.sql", "{{ config(materialized='table', tags=['x']) }}select id from {{ ref('nums') }}")
    assert _rebuilt(sparkmodels.run(project, spark=spark)) == {"base", "mid", "top", "clock"}


def test_var_change_rebuilds_models_using_it(project, spark):
    res = sparkmodels.run(project, spark=spark, vars={"max_id": 2})
    assert _rebuilt(res) == {"mid", "top", "clock"}
    assert _top(spark, project) == (2, 6)
    # and back with the same var value: unchanged again
    assert _rebuilt(sparkmodels.run(project, spark=spark, vars={"max_id": 2})) == {"clock"}


def test_source_and_seed_file_changes_rebuild(project, spark):
    (project / "data/events/part-1.csv").write_text("id,kind\n3,c\n", encoding="utf-8")
    assert _rebuilt(sparkmodels.run(project, spark=spark)) == {"events", "clock"}
    _edit(project / "seeds/nums.csv", "id\n1\n2\n3\n4\n")
    res = sparkmodels.build(project, spark=spark)
    assert _rebuilt(res) == {"nums", "base", "mid", "top", "clock"}
    assert _top(spark, project) == (4, 20)


def test_upstream_rebuilt_elsewhere_rebuilds_downstream(project, spark):
    # `run -s base` with --full-refresh makes a new version of base; a later run must rebuild mid and top
    assert _rebuilt(sparkmodels.run(project, spark=spark, select="base", full_refresh=True)) == {"base"}
    assert _rebuilt(sparkmodels.run(project, spark=spark)) == {"mid", "top", "clock"}


def test_missing_fingerprint_means_rebuild(project, spark):
    (project / "warehouse" / "demo" / "mid" / FINGERPRINT_FILE).unlink()
    assert _rebuilt(sparkmodels.run(project, spark=spark)) == {"mid", "top", "clock"}


def _engine(project, spark):
    from sparkmodels.execute.engine import Engine

    p = sparkmodels.load_project(project)
    return Engine(p.config.target, spark, project_root=p.config.root)


def _rows(df) -> list[tuple]:
    return sorted(tuple(r) for r in df.collect())


def test_upstream_is_registered_with_its_recorded_schema(project, spark):
    version = Path(os.path.realpath(project / "warehouse" / "demo" / "mid"))
    assert [f["name"] for f in json.loads(stored_schema(version))["fields"]] == ["id", "x"]
    # Prove the recorded schema is what Spark uses (no inference): give id a comment only it carries.
    path = version / FINGERPRINT_FILE
    fp = json.loads(path.read_text())
    schema = json.loads(fp["schema"])
    schema["fields"][0]["metadata"] = {"comment": "from the fingerprint"}
    fp["schema"] = json.dumps(schema)
    path.write_text(json.dumps(fp))
    engine = _engine(project, spark)
    df = engine.read_version(version)
    assert df.schema["id"].metadata == {"comment": "from the fingerprint"}
    assert _rows(df) == [(1, 2), (2, 4), (3, 6)]
    # Any change to the version's files: the recorded schema is no longer trusted, Spark infers.
    data = next(p for p in version.iterdir() if p.name.endswith(".parquet"))
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert stored_schema(version) is None
    assert engine.read_version(version).schema["id"].metadata == {}


@pytest.mark.parametrize("ddl", ["id int", "id bigint, x int", "id int, y int"])
def test_a_recorded_schema_that_disagrees_with_the_files_is_not_trusted(project, spark, ddl):
    from pyspark.sql.types import StructType

    # mid's fingerprint claims another schema (a column dropped, a type changed, a column renamed)
    # while its digest and file listing still match: mid is SKIP (unchanged), top rebuilds and reads x.
    version = Path(os.path.realpath(project / "warehouse" / "demo" / "mid"))
    path = version / FINGERPRINT_FILE
    fp = json.loads(path.read_text())
    fp["schema"] = StructType.fromDDL(ddl).json()
    path.write_text(json.dumps(fp))
    assert stored_schema(version) is None
    _edit(project / "models/top.sql", "{{ config(materialized='table') }}"
          "select count(*) as n, sum(x) + 100 as sx from {{ ref('v') }}")
    res = sparkmodels.build(project, spark=spark)
    assert res.success, [r.message for r in res.results if r.status == "error"]
    assert _outcome(res)["mid"] == "cached" and "top" in _rebuilt(res)
    assert _top(spark, project) == (3, 112)


def test_recorded_schema_of_replaced_files_is_never_used(project, spark, tmp_path):
    version = Path(os.path.realpath(project / "warehouse" / "demo" / "mid"))
    spark.createDataFrame([(7, "seven")], "id int, y string").coalesce(1).write.parquet(str(tmp_path / "other"))
    for old in version.glob("*.parquet"):
        old.unlink()
    new = next((tmp_path / "other").glob("*.parquet"))
    shutil.move(str(new), version / new.name)
    assert stored_schema(version) is None
    df = _engine(project, spark).read_version(version)
    assert df.columns == ["id", "y"] and _rows(df) == [(7, "seven")]  # the files' truth, not stale nulls
    # a corrupt recorded schema with matching files also falls back to inference
    path = version / FINGERPRINT_FILE
    fp = json.loads(path.read_text())
    from sparkmodels.execute.cache import _version_files

    fp.update(schema="{not json", files=_version_files(version))
    path.write_text(json.dumps(fp))
    assert stored_schema(version) == "{not json"
    assert _rows(_engine(project, spark).read_version(version)) == [(7, "seven")]


def test_downstream_rebuild_reads_unchanged_upstream_correctly(project, spark):
    # top is rebuilt; mid (unchanged, through view v) is registered from its recorded schema
    _edit(project / "models/top.sql", "{{ config(materialized='table') }}"
          "select count(*) as n, sum(x) + 1 as sx from {{ ref('v') }}")
    assert _rebuilt(sparkmodels.build(project, spark=spark)) == {"top", "clock"}
    assert _top(spark, project) == (3, 13)
    fp = json.loads((project / "warehouse" / "demo" / "top" / FINGERPRINT_FILE).read_text())
    assert [f["name"] for f in json.loads(fp["schema"])["fields"]] == ["n", "sx"]
    # an uncacheable table still records its schema (for readers), never a reusable digest
    clock = json.loads((project / "warehouse" / "demo" / "clock" / FINGERPRINT_FILE).read_text())
    assert clock["digest"] is None and "schema" in clock


def test_full_refresh_and_no_cache_through_the_cli(project, spark):
    from click.testing import CliRunner

    runner = CliRunner()
    out = runner.invoke(cli, ["run", "--project-dir", str(project)])
    assert out.exit_code == 0, out.output
    assert "SKIP (unchanged) base" in out.output
    for flag in ("--full-refresh", "--no-cache"):
        out = runner.invoke(cli, ["run", "--project-dir", str(project), flag])
        assert out.exit_code == 0, out.output
        assert "SKIP (unchanged)" not in out.output
    results = json.loads((project / "target" / "run_results.json").read_text())
    assert all(r["status"] == "success" for r in results["results"])
    # the CLI booted "its" session in a background thread and found this process's: it must not stop it
    assert spark.range(3).count() == 3


@pytest.mark.parametrize("sql, found", [
    ("select current_timestamp() as t", "current_timestamp"),
    ("select current_date as d", "current_date"),
    ("select rand() as r", "rand"),
    ("select uuid() as u", "uuid"),
    ("select now() as n", "now"),
    ("select unix_timestamp() as n", "unix_timestamp"),
    ("select unix_timestamp(ts) as n from t", None),
    ("select brand, random_col from t", None),
    ("select operand(1) from t", None),
])
def test_nondeterministic_detection(sql, found):
    assert nondeterministic(sql) == found
