"""Runner: dependency order, threads, failing branches, pulled-in views, cross-process tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import sparkmodels

BRANCHY = {
    "project.yml": "name: demo\nversion: '1'\nmodels:\n  demo:\n    +materialized: table\n",
    "models/root.sql": "select id from range(10)",
    "models/good_a.sql": "select id * 2 as id from {{ ref('root') }}",
    "models/good_b.sql": "select id + 1 as id from {{ ref('good_a') }}",
    "models/bad.sql": "select no_such_column from {{ ref('root') }}",
    "models/after_bad.sql": "select * from {{ ref('bad') }}",
    "models/after_after_bad.sql": "select * from {{ ref('after_bad') }} join {{ ref('good_b') }} using (id)",
}


def test_threads_failed_branch_skips_descendants_only(make_project, spark):
    root = make_project(BRANCHY)
    events = []
    result = sparkmodels.run(root, threads=2, spark=spark, on_event=lambda kind, **d: events.append(kind))
    status = {r.name: r.status for r in result.results}
    assert status == {"root": "success", "good_a": "success", "good_b": "success", "bad": "error",
                      "after_bad": "skipped", "after_after_bad": "skipped"}
    assert not result.success
    assert "bad failed" in next(r.message for r in result.results if r.name == "after_bad")
    run_results = json.loads((root / "target/run_results.json").read_text())
    assert {r["name"]: r["status"] for r in run_results["results"]} == status


def test_threads_really_overlap(make_project, spark):
    files = {"project.yml": "name: demo\nversion: '1'\nmodels:\n  demo:\n    +materialized: table\n"}
    for i in range(4):
        files[f"models/m{i}.sql"] = f"select sum(id) as s from range({3_000_000 + i})"
    root = make_project(files)
    result = sparkmodels.run(root, threads=4, spark=spark)
    assert result.success
    spans = sorted((r.started_at, r.completed_at) for r in result.results)
    # some model started before another one finished
    assert any(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1))


def test_unselected_upstream_view_is_built_and_said(make_project, spark):
    root = make_project({
        "models/v.sql": "select 42 as answer",
        "models/t.sql": "{{ config(materialized='table') }}\nselect answer from {{ ref('v') }}",
    })
    lines = []

    def capture(kind, **data):
        if kind == "start" and data["step"].reason:
            lines.append((data["step"].name, data["step"].reason))

    result = sparkmodels.run(root, select="t", spark=spark, on_event=capture)
    assert result.success
    assert [r.name for r in result.results] == ["v", "t"]
    assert lines == [("v", "view needed by t")]


def test_new_process_runs_one_model_against_earlier_tables(built_example, tmp_path):
    """A fresh `sparkmodels run -s dim_monthly_zone_revenue` reads trips_data from the warehouse."""
    link = built_example / "warehouse/nyc_taxi/dim_monthly_zone_revenue"
    before = os.readlink(link)
    proc = subprocess.run(
        [sys.executable, "-m", "sparkmodels", "run", "-s", "dim_monthly_zone_revenue",
         "--project-dir", str(built_example), "--full-refresh"],  # unchanged: the cache would skip it
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 OK created table dim_monthly_zone_revenue" in proc.stdout
    assert os.readlink(link) != before


def test_missing_upstream_table_is_a_clear_error(make_project, spark):
    root = make_project({
        "models/t1.sql": "{{ config(materialized='table') }}\nselect 1 as x",
        "models/t2.sql": "{{ config(materialized='table') }}\nselect x from {{ ref('t1') }}",
    })
    result = sparkmodels.run(root, select="t2", spark=spark)
    [r] = result.results
    assert r.status == "error"
    assert "'t1' has not been built yet" in r.message
    assert "sparkmodels run -s +t1" in str(r.error)


@pytest.mark.slow
def test_ctrl_c_cancels_running_jobs_and_keeps_old_table(make_project):
    root = make_project({
        "project.yml": "name: demo\nversion: '1'\nmodels:\n  demo:\n    +materialized: table\n",
        "models/slow.sql": "select {{ var('n', 1) }} as n, count(*) as c from range({{ var('rows', 10) }})",
    })
    ok = subprocess.run([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root)],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    link = root / "warehouse/demo/slow"
    before = os.readlink(link)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root),
         "--vars", "{n: 2, rows: 100000000000}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    out = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        out += line
        if "START" in line:
            break
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    out += rest
    assert proc.returncode == 130, out
    assert "cancelling the Spark jobs of slow" in out
    assert os.readlink(link) == before
    # the cancelled write's partial version was discarded
    assert [p.name for p in (root / "warehouse/demo/.versions/slow").iterdir() if p.name.startswith("v")] == [os.path.basename(before)]
