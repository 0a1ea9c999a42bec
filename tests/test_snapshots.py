"""Snapshots (SCD type 2) on real Spark: both strategies, hard deletes, meta column names, the YAML
form, ref() to a snapshot, tests and selectors on snapshots, load-time validation, kill -9 safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import sparkmodels
from sparkmodels.errors import ProjectError

PROJECT = "name: demo\nversion: '1'\n"


def _seed(root, rows: str, header: str = "id,name,updated_at") -> None:
    (root / "seeds").mkdir(exist_ok=True)
    (root / "seeds" / "people.csv").write_text(header + "\n" + rows.strip() + "\n")


def _block(config: str) -> str:
    return ("{% snapshot people_snap %}\n{{ config(" + config + ") }}\n"
            "select * from {{ ref('people') }}\n{% endsnapshot %}\n")


def _run(root, spark, **kw):
    result = sparkmodels.build(root, spark=spark, **kw)
    assert result.success, [(r.name, r.status, r.message) for r in result.results]
    return result


def _rows(spark, root, name="people_snap"):
    df = spark.read.parquet(str(root / "warehouse" / "demo" / name))
    return df, sorted((r.asDict() for r in df.collect()), key=lambda r: (r["id"], str(r.get("dbt_valid_from"))))


def test_timestamp_strategy_closes_changed_rows_and_adds_new_ones(make_project, spark):
    root = make_project({"snapshots/people_snap.sql":
                         _block("unique_key='id', strategy='timestamp', updated_at='updated_at'")})
    _seed(root, "1,ann,2024-01-01 00:00:00\n2,bob,2024-01-01 00:00:00")
    _run(root, spark)
    df, rows = _rows(spark, root)
    assert df.columns == ["id", "name", "updated_at", "dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to"]
    assert [(r["id"], r["dbt_valid_to"]) for r in rows] == [(1, None), (2, None)]
    assert str(rows[0]["dbt_valid_from"]) == "2024-01-01 00:00:00"
    _seed(root, "1,ann,2024-01-01 00:00:00\n2,bobby,2024-02-01 00:00:00\n3,cid,2024-02-01 00:00:00")
    _run(root, spark)
    _, rows = _rows(spark, root)
    got = [(r["id"], r["name"], str(r["dbt_valid_from"]), str(r["dbt_valid_to"])) for r in rows]
    assert got == [(1, "ann", "2024-01-01 00:00:00", "None"),
                   (2, "bob", "2024-01-01 00:00:00", "2024-02-01 00:00:00"),
                   (2, "bobby", "2024-02-01 00:00:00", "None"),
                   (3, "cid", "2024-02-01 00:00:00", "None")]
    assert len({r["dbt_scd_id"] for r in rows}) == 4
    _run(root, spark)  # nothing changed: the same rows again
    assert len(_rows(spark, root)[1]) == 4


def test_check_strategy_with_listed_and_all_columns(make_project, spark):
    for cols in ("['name']", "'all'"):
        root = make_project({"snapshots/people_snap.sql": _block(f"unique_key='id', strategy='check', check_cols={cols}")},
                            name=f"p{len(cols)}")
        _seed(root, "1,ann,x\n2,bob,y", header="id,name,other")
        _run(root, spark)
        _seed(root, "1,ann,changed\n2,bobby,y", header="id,name,other")
        _run(root, spark)
        _, rows = _rows(spark, root)
        current = {(r["id"], r["name"], r["other"]) for r in rows if r["dbt_valid_to"] is None}
        if cols == "['name']":  # 'other' is not checked: ann's row stays as first recorded
            assert current == {(1, "ann", "x"), (2, "bobby", "y")} and len(rows) == 3
        else:
            assert current == {(1, "ann", "changed"), (2, "bobby", "y")} and len(rows) == 4
        closed = [r for r in rows if r["dbt_valid_to"] is not None]
        assert all(r["dbt_valid_to"] == next(c for c in rows if c["dbt_valid_to"] is None and c["id"] == r["id"])
                   ["dbt_valid_from"] for r in closed)


@pytest.mark.parametrize("mode", ["ignore", "invalidate", "new_record", "legacy"])
def test_hard_deletes(make_project, spark, mode):
    setting = "invalidate_hard_deletes=True" if mode == "legacy" else f"hard_deletes='{mode}'"
    root = make_project({"snapshots/people_snap.sql":
                         _block(f"unique_key='id', strategy='timestamp', updated_at='updated_at', {setting}")})
    _seed(root, "1,ann,2024-01-01 00:00:00\n2,bob,2024-01-01 00:00:00")
    _run(root, spark)
    _seed(root, "1,ann,2024-01-01 00:00:00")
    _run(root, spark)
    df, rows = _rows(spark, root)
    bob = [r for r in rows if r["id"] == 2]
    if mode == "ignore":
        assert len(bob) == 1 and bob[0]["dbt_valid_to"] is None
    elif mode in ("invalidate", "legacy"):
        assert len(bob) == 1 and bob[0]["dbt_valid_to"] is not None
        assert "dbt_is_deleted" not in df.columns
    else:
        assert [(r["dbt_is_deleted"], r["dbt_valid_to"] is None) for r in bob] == [("False", False), ("True", True)]
        assert {r["dbt_is_deleted"] for r in rows if r["id"] == 1} == {"False"}
        _seed(root, "1,ann,2024-01-01 00:00:00\n2,bob,2024-03-01 00:00:00")  # bob comes back
        _run(root, spark)
        _, rows = _rows(spark, root)
        bob = [r for r in rows if r["id"] == 2]
        assert len(bob) == 3 and [r["dbt_is_deleted"] for r in bob if r["dbt_valid_to"] is None] == ["False"]
    if mode in ("invalidate", "legacy"):  # an invalidated key that comes back gets a new current row
        _seed(root, "1,ann,2024-01-01 00:00:00\n2,bob,2024-03-01 00:00:00")
        _run(root, spark)
        bob = [r for r in _rows(spark, root)[1] if r["id"] == 2]
        assert len(bob) == 2 and sum(r["dbt_valid_to"] is None for r in bob) == 1


def test_renamed_meta_columns_valid_to_current_and_composite_key(make_project, spark):
    names = "{'dbt_valid_from': 'valid_from', 'dbt_valid_to': 'valid_to', 'dbt_scd_id': 'scd_id', 'dbt_updated_at': 'changed_at'}"
    root = make_project({"snapshots/people_snap.sql": _block(
        f"unique_key=['id', 'name'], strategy='timestamp', updated_at='updated_at', "
        f"snapshot_meta_column_names={names}, dbt_valid_to_current=\"to_timestamp('9999-12-31')\"")})
    _seed(root, "1,ann,2024-01-01 00:00:00\n1,bob,2024-01-01 00:00:00")
    _run(root, spark)
    _seed(root, "1,ann,2024-02-01 00:00:00\n1,bob,2024-01-01 00:00:00")
    _run(root, spark)
    df = spark.read.parquet(str(root / "warehouse" / "demo" / "people_snap"))
    assert df.columns == ["id", "name", "updated_at", "scd_id", "changed_at", "valid_from", "valid_to"]
    rows = sorted((r["name"], str(r["valid_from"]), str(r["valid_to"])) for r in df.collect())
    assert rows == [("ann", "2024-01-01 00:00:00", "2024-02-01 00:00:00"),
                    ("ann", "2024-02-01 00:00:00", "9999-12-31 00:00:00"),
                    ("bob", "2024-01-01 00:00:00", "9999-12-31 00:00:00")]


YAML_SNAPSHOT = """\
snapshots:
  - name: people_snap
    relation: ref('people')
    description: People over time.
    config:
      unique_key: id
      strategy: check
      check_cols: [name]
    columns:
      - name: id
        data_tests: [not_null]
"""


def test_yaml_form_ref_to_a_snapshot_tests_and_selectors(make_project, spark):
    root = make_project({
        "snapshots/people.yml": YAML_SNAPSHOT,
        "models/current_people.sql": "{{ config(materialized='table') }}\n"
                                     "select id, name from {{ ref('people_snap') }} where dbt_valid_to is null\n",
    })
    _seed(root, "1,ann,x\n2,bob,y", header="id,name,other")
    project = sparkmodels.load_project(root)
    node = project.manifest.nodes["snapshot.demo.people_snap"]
    assert node.resource_type == "snapshot" and node.description == "People over time."
    assert project.manifest.nodes["model.demo.current_people"].depends_on == ("snapshot.demo.people_snap",)
    names = [n.name for n in sparkmodels.ls(root, select=["resource_type:snapshot"],
                                             resource_types=("snapshot",))[0]]
    assert names == ["people_snap"]
    result = _run(root, spark)
    order = [r.name for r in result.results]
    assert order.index("people") < order.index("people_snap") < order.index("current_people")
    assert order.index("people_snap") < order.index("not_null_people_snap_id")
    assert {r.name: r.resource_type for r in result.results}["people_snap"] == "snapshot"
    _seed(root, "1,ann,x\n2,bobby,y", header="id,name,other")
    sparkmodels.seed(root, spark=spark)
    result = sparkmodels.snapshot(root, spark=spark)
    assert [r.name for r in result.results] == ["people_snap"]
    assert result.results[0].message == "updated snapshot"
    sparkmodels.run(root, spark=spark)
    got = sorted(tuple(r) for r in spark.read.parquet(str(root / "warehouse" / "demo" / "current_people")).collect())
    assert got == [(1, "ann"), (2, "bobby")]
    import json

    manifest = json.loads((root / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["snapshot.demo.people_snap"]["resource_type"] == "snapshot"


@pytest.mark.parametrize("config, message", [
    ("unique_key='id', strategy='nope', updated_at='u'", "unknown strategy 'nope'"),
    ("unique_key='id', strategy='timestamp'", "needs `updated_at`"),
    ("unique_key='id', strategy='check'", "needs `check_cols`"),
    ("strategy='check', check_cols='all'", "no `unique_key`"),
    ("unique_key='id', strategy='check', check_cols='all', hard_deletes='drop'", "unknown hard_deletes"),
])
def test_invalid_configs_are_located_errors_before_spark(make_project, config, message):
    root = make_project({"snapshots/s.sql": "-- people over time\n\n" + _block(config)})
    _seed(root, "1,ann,x")
    with pytest.raises(ProjectError) as err:
        sparkmodels.load_project(root)
    assert message in str(err.value)
    assert err.value.path == "snapshots/s.sql" and err.value.line == 3


@pytest.mark.slow
def test_kill_during_a_snapshot_write_keeps_the_previous_version(make_project, spark):
    slow = ("{% if var('slow', false) %} where reflect('java.lang.Thread', 'sleep', cast(400 as bigint)) is null"
            " {% endif %}")
    root = make_project({"snapshots/people_snap.sql":
                         "{% snapshot people_snap %}\n{{ config(unique_key='id', strategy='check', check_cols='all') }}\n"
                         "select * from {{ ref('people') }}" + slow + "\n{% endsnapshot %}\n"})
    _seed(root, "\n".join(f"{i},n{i},x" for i in range(40)), header="id,name,other")
    _run(root, spark)
    before = sorted(tuple(r) for r in _rows(spark, root)[0].select("id", "name", "dbt_valid_to").collect())
    _seed(root, "\n".join(f"{i},m{i},x" for i in range(40)), header="id,name,other")
    sparkmodels.seed(root, spark=spark)
    versions = root / "warehouse" / "demo" / ".versions" / "people_snap"
    existing = set(os.listdir(versions))
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-m", "sparkmodels", "snapshot", "--project-dir", str(root),
                             "--vars", "{slow: true}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (set(os.listdir(versions)) - existing):
        time.sleep(0.2)
    assert set(os.listdir(versions)) - existing, "the snapshot write never started"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    after = sorted(tuple(r) for r in _rows(spark, root)[0].select("id", "name", "dbt_valid_to").collect())
    assert after == before
    _run(root, spark)  # the next run recovers and records the change
    rows = _rows(spark, root)[1]
    assert len(rows) == 80 and {r["name"] for r in rows if r["dbt_valid_to"] is None} == {f"m{i}" for i in range(40)}


def test_docs_and_lineage_show_snapshots_without_spark(make_project):
    from sparkmodels.app import api

    root = make_project({
        "snapshots/people.yml": YAML_SNAPSHOT,
        "models/current_people.sql": "select id, name from {{ ref('people_snap') }} where dbt_valid_to is null\n",
    })
    _seed(root, "1,ann,x", header="id,name,other")
    docs = api.docs_generate(root, catalog=False)
    site = "".join(p.read_text(errors="ignore") for p in docs.site.parent.rglob("*") if p.is_file())
    assert "snapshot.demo.people_snap" in site
    tree = api.lineage(root, "current_people")
    assert "people_snap" in str(tree)
    down = api.lineage(root, "people_snap", upstream=False)
    assert "current_people" in str(down)
