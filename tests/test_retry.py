"""`sparkmodels retry` after a failure, and `--defer --state` against a second warehouse (real Spark)."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

import sparkmodels
from sparkmodels.app.cli import cli

FILES = {
    "project.yml": "name: demo\nversion: '1'\n",
    "models/a.sql": "{{ config(materialized='table') }}select 1 as id union all select 2 as id",
    "models/b.sql": "{{ config(materialized='table') }}select no_such_column from {{ ref('a') }}",
    "models/c.sql": "{{ config(materialized='table') }}select count(*) as n from {{ ref('b') }}",
    "models/d.sql": "{{ config(materialized='table') }}select 42 as answer",
}


def _statuses(root) -> dict[str, str]:
    data = json.loads((root / "target" / "run_results.json").read_text())
    return {r["name"]: r["status"] for r in data["results"]}


def test_retry_reruns_failed_and_skipped_only(make_project, spark):
    root = make_project(FILES)
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--project-dir", str(root), "--exclude", "d", "--threads", "1"])
    assert first.exit_code == 1, first.output
    assert _statuses(root) == {"a": "success", "b": "error", "c": "skipped"}
    args = json.loads((root / "target" / "run_results.json").read_text())["args"]
    assert args["command"] == "run" and args["exclude"] == ["d"]

    # still broken: retry fails the same way and records the same outcome
    again = runner.invoke(cli, ["retry", "--project-dir", str(root)])
    assert again.exit_code == 1
    assert _statuses(root) == {"b": "error", "c": "skipped"}

    (root / "models/b.sql").write_text("{{ config(materialized='table') }}select id from {{ ref('a') }}")
    fixed = runner.invoke(cli, ["retry", "--project-dir", str(root)])
    assert fixed.exit_code == 0, fixed.output
    assert _statuses(root) == {"b": "success", "c": "success"}  # a is not rebuilt, d stays excluded
    assert not (root / "warehouse" / "demo" / "d").exists()
    assert spark.read.parquet(str(root / "warehouse" / "demo" / "c")).collect()[0]["n"] == 2

    done = runner.invoke(cli, ["retry", "--project-dir", str(root)])
    assert done.exit_code == 0 and "Nothing to retry" in done.output


def test_retry_without_run_results(make_project):
    root = make_project(FILES)
    out = CliRunner().invoke(cli, ["retry", "--project-dir", str(root)])
    assert out.exit_code == 2 and "no run_results.json" in out.output


def test_defer_reads_unbuilt_upstream_from_the_state_warehouse(tmp_path, spark):
    from conftest import write_files

    files = {**FILES, "models/b.sql": "{{ config(materialized='table') }}select id * 10 as id from {{ ref('a') }}",
             "models/c.sql": "{{ config(materialized='table') }}select sum(id) as n from {{ ref('b') }}",
             "models/e.sql": "{{ config(schema='marts', materialized='table') }}select 5 as five",
             "models/f.sql": "{{ config(materialized='table') }}select * from {{ ref('e') }} cross join {{ ref('c') }}"}
    prod = write_files(tmp_path / "prod", files)
    assert sparkmodels.run(prod, spark=spark).success
    state = shutil.copytree(prod / "target", tmp_path / "prod-state")

    dev = write_files(tmp_path / "dev", files)  # its own warehouse: dev/warehouse
    without = sparkmodels.run(dev, select="f", spark=spark)
    assert not without.success and "has not been built yet" in without.results[0].message

    res = sparkmodels.run(dev, select="c f", spark=spark, state=state, defer=True)
    assert res.success, [(r.name, r.message) for r in res.results]
    assert spark.read.parquet(str(dev / "warehouse" / "demo" / "c")).collect()[0]["n"] == 30
    row = spark.read.parquet(str(dev / "warehouse" / "demo" / "f")).collect()[0]
    assert (row["five"], row["n"]) == (5, 30)  # e (custom schema demo_marts) and b came from prod
    assert not (dev / "warehouse" / "demo" / "b").exists()
    assert not (dev / "warehouse" / "demo_marts").exists()

    # once dev has its own b, that one wins over the state's
    (dev / "models/b.sql").write_text("{{ config(materialized='table') }}select id from {{ ref('a') }}")
    assert sparkmodels.run(dev, select="+b", spark=spark).success
    assert sparkmodels.run(dev, select="c", spark=spark, state=state, defer=True).success
    assert spark.read.parquet(str(dev / "warehouse" / "demo" / "c")).collect()[0]["n"] == 3


def test_defer_needs_state(make_project):
    out = CliRunner().invoke(cli, ["run", "--project-dir", str(make_project(FILES)), "--defer"])
    assert out.exit_code == 2 and "--defer needs --state" in out.output


def test_retry_replays_fail_fast_selection_and_vars(make_project, spark):
    root = make_project({
        "models/a_bad.sql": "{{ config(materialized='table') }}select {{ var('col') }} as id",
        "models/b.sql": "{{ config(materialized='table') }}select id from {{ ref('a_bad') }}",
        "models/x_excluded.sql": "{{ config(materialized='table') }}select 1 as x",
        "models/z_ok.sql": "{{ config(materialized='table') }}select 42 as answer",  # runs after a_bad
    })
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--project-dir", str(root), "--fail-fast", "--threads", "1",
                                "--exclude", "x_excluded", "--vars", "{col: no_such_column}"])
    assert first.exit_code == 1, first.output
    assert _statuses(root) == {"a_bad": "error", "b": "skipped", "z_ok": "skipped"}

    # replayed as recorded: the same vars (a_bad fails again) and fail-fast (z_ok is not started)
    again = runner.invoke(cli, ["retry", "--project-dir", str(root)])
    assert again.exit_code == 1, again.output
    data = json.loads((root / "target" / "run_results.json").read_text())
    by_name = {r["name"]: r for r in data["results"]}
    assert {n: r["status"] for n, r in by_name.items()} == {"a_bad": "error", "b": "skipped", "z_ok": "skipped"}
    assert by_name["z_ok"]["message"] == "skipped (fail-fast)"
    args = data["args"]
    assert (args["command"], args["fail_fast"], args["exclude"], args["threads"], args["vars"]) == \
        ("run", True, ["x_excluded"], 1, "{col: no_such_column}")
    assert args["only"] == ["model.demo.a_bad", "model.demo.b", "model.demo.z_ok"]
    assert not (root / "warehouse" / "demo" / "z_ok").exists()

    # --vars given to retry replaces the recorded vars; the selection still holds (x_excluded stays out)
    fixed = runner.invoke(cli, ["retry", "--project-dir", str(root), "--vars", "{col: 7}"])
    assert fixed.exit_code == 0, fixed.output
    assert _statuses(root) == {"a_bad": "success", "b": "success", "z_ok": "success"}
    assert json.loads((root / "target" / "run_results.json").read_text())["args"]["fail_fast"] is True
    assert spark.read.parquet(str(root / "warehouse" / "demo" / "b")).collect()[0]["id"] == 7
    assert not (root / "warehouse" / "demo" / "x_excluded").exists()
