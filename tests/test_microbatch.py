"""Microbatch models on real Spark: batch windows, event_time inputs filtered per batch, one month
reprocessed with --event-time-start/--event-time-end, and retry of only the failed batches."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import sparkmodels
from sparkmodels.app import api
from sparkmodels.execute.materializations.microbatch import batches
from sparkmodels.execute.materializations.versions import files_in_window

MODEL = """
{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='ts',
          batch_size='month', begin='2020-01-01', partition_by=['month'], lookback=0) }}
select id, ts, amount * {{ var('factor', 1) }} as amount, date_format(ts, 'yyyy-MM') as month,
       assert_true(date_format(ts, 'yyyy-MM') != '{{ env_var('SM_FAIL_MONTH', 'none') }}') is null as checked
from {{ source('raw', 'events') }}
"""


def events(spark, root):
    rows = [(i, dt.datetime(2020, 1 + i % 4, 1 + i % 27, i % 24), float(i)) for i in range(80)]
    spark.createDataFrame(rows, "id int, ts timestamp, amount double").write.parquet(str(root / "data" / "events"))


def project(make_project, spark):
    root = make_project({
        "models/sources.yml": """
            version: 2
            sources:
              - name: raw
                tables:
                  - name: events
                    config: {event_time: ts}
                    external: {location: data/events}
        """,
        "models/mb.sql": MODEL,
    })
    events(spark, root)
    return root


def table(spark, root):
    return spark.read.parquet(str(root / "warehouse" / "demo" / "mb"))


def test_batch_windows():
    start, end = dt.datetime(2020, 11, 15), dt.datetime(2021, 2, 1)
    assert batches(start, end, "month") == [
        (dt.datetime(2020, 11, 1), dt.datetime(2020, 12, 1)), (dt.datetime(2020, 12, 1), dt.datetime(2021, 1, 1)),
        (dt.datetime(2021, 1, 1), dt.datetime(2021, 2, 1))]
    assert len(batches(dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2), "hour")) == 24
    assert len(batches(dt.datetime(2020, 1, 1), dt.datetime(2020, 3, 1), "day")) == 60
    assert batches(dt.datetime(2019, 6, 1), dt.datetime(2021, 1, 1), "year")[0] == (
        dt.datetime(2019, 1, 1), dt.datetime(2020, 1, 1))


@pytest.mark.parametrize("timestamps", ["INT96", "TIMESTAMP_MICROS"])
def test_microbatch_builds_by_month_and_reprocesses_one_month(make_project, spark, timestamps):
    # INT96 timestamps have no footer statistics, so a Spark job finds the window's files; with
    # INT64 ones (what sparkmodels' sessions write) the footers decide on the driver.
    before_conf = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", timestamps)
    try:
        _builds_by_month_and_reprocesses_one_month(make_project, spark, timestamps)
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", before_conf)


def _builds_by_month_and_reprocesses_one_month(make_project, spark, timestamps):
    root = project(make_project, spark)
    first = sparkmodels.run(root, spark=spark, event_time_end="2020-05-01")
    [r] = first.results
    assert r.status == "success", r.message
    assert [b["start"][:7] for b in r.extra["batches"]] == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert table(spark, root).count() == 80
    # the compiled batch SQL filtered the source to each window
    versions = root / "warehouse" / "demo" / "mb"
    before = {p.relative_to(versions.resolve()).as_posix(): p.stat().st_ino for p in versions.resolve().rglob("part-*")}
    second = sparkmodels.run(root, spark=spark, vars={"factor": 2},
                             event_time_start="2020-02-01", event_time_end="2020-03-01")
    [r] = second.results
    assert r.status == "success", r.message
    assert len(r.extra["batches"]) == 1 and r.rows == 20
    feb = {p.relative_to(versions.resolve()).as_posix() for p in versions.resolve().glob("month=2020-02/part-*")}
    assert files_in_window(versions.resolve(), "ts", (dt.datetime(2020, 2, 1), dt.datetime(2020, 3, 1)),
                           spark.conf.get("spark.sql.session.timeZone")) == (None if timestamps == "INT96" else feb)
    got = {(x.id, x.amount) for x in table(spark, root).collect()}
    assert got == {(i, float(i) * (2 if 1 + i % 4 == 2 else 1)) for i in range(80)}
    after = {p.relative_to(versions.resolve()).as_posix(): p.stat().st_ino for p in versions.resolve().rglob("part-*")}
    # the other months' files are the previous version's (same inodes); February's are new
    assert {k for k in after if not k.startswith("month=2020-02")} == {k for k in before if not k.startswith("month=2020-02")}
    assert all(after[k] == before[k] for k in after if not k.startswith("month=2020-02"))
    assert not set(k for k in after if k.startswith("month=2020-02")) & set(before)


def test_caller_session_sees_newest_version_and_unnamed_inputs_stay_unregistered(make_project, spark):
    # Footer statistics (INT64 timestamps) let each batch read only its window's files through its
    # own view, so the source's full view is never needed; the schema recorded by the first run
    # lets the second one note the source without reading it.
    before = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        root = project(make_project, spark)
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", before)
    [r] = sparkmodels.run(root, spark=spark, event_time_end="2020-05-01").results
    assert r.status == "success", r.message
    assert len(r.extra["batches"]) == 4
    # four publishes, registered in the background: the caller's view is the newest, all 80 rows
    assert spark.table("mb").count() == 80
    spark.catalog.dropTempView("raw__events")
    [r] = sparkmodels.run(root, spark=spark, vars={"factor": 3},
                          event_time_start="2020-02-01", event_time_end="2020-03-01").results
    assert r.status == "success", r.message
    assert not spark.catalog.tableExists("raw__events")  # noted lazily, never named by a statement
    assert spark.table("mb").where("month = '2020-02'").agg({"amount": "sum"}).first()[0] == 3 * sum(
        float(i) for i in range(80) if 1 + i % 4 == 2)
    assert spark.table("mb").count() == 80


def test_failed_batch_is_reported_and_retry_reruns_only_it(make_project, spark, monkeypatch):
    root = project(make_project, spark)
    monkeypatch.setenv("SM_FAIL_MONTH", "2020-03")
    result = sparkmodels.run(root, spark=spark, event_time_end="2020-05-01")
    [r] = result.results
    assert r.status == "error"
    assert "1 of 4 batches failed" in r.message and "batch 2020-03-01 00:00:00 .. 2020-04-01 00:00:00: ERROR" in r.message
    assert {x.month for x in table(spark, root).select("month").distinct().collect()} == {"2020-01", "2020-02", "2020-04"}
    saved = json.loads((root / "target" / "run_results.json").read_text())["results"][0]
    assert saved["adapter_response"]["failed_batches"] == [["2020-03-01 00:00:00", "2020-04-01 00:00:00"]]
    monkeypatch.delenv("SM_FAIL_MONTH")
    again = api.retry(root, spark=spark)
    [r] = again.results
    assert r.status == "success", r.message
    assert [b["start"][:7] for b in r.extra["batches"]] == ["2020-03"]
    assert table(spark, root).count() == 80


def test_window_files_marks_files_wholly_inside(spark, tmp_path):
    """A file whose event times all lie in the window is dropped unread on replacement; one that
    straddles it is read and rewritten; one outside is not named."""
    import datetime as dt

    from sparkmodels.execute.materializations.versions import window_files

    def write(name, start, end):
        (spark.createDataFrame([(dt.datetime.fromisoformat(start),), (dt.datetime.fromisoformat(end),)], "t timestamp")
         .coalesce(1).write.parquet(str(tmp_path / "v" / name)))

    before = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        write("inside", "2020-01-02 00:00:00", "2020-01-30 00:00:00")
        write("straddle", "2019-12-30 00:00:00", "2020-01-03 00:00:00")
        write("outside", "2020-03-01 00:00:00", "2020-03-02 00:00:00")
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", before)
    found = window_files(tmp_path / "v", "t", (dt.datetime(2020, 1, 1), dt.datetime(2020, 2, 1)),
                         spark.conf.get("spark.sql.session.timeZone"))
    by_folder = {rel.split("/")[0]: inside for rel, inside in found.items()}
    assert by_folder == {"inside": True, "straddle": False}


def test_references_this_decides_concurrency_as_dbt_does():
    from types import SimpleNamespace

    from sparkmodels.execute.materializations.microbatch import references_this

    def node(code, language="sql"):
        return SimpleNamespace(raw_code=code, language=language)

    assert references_this(node("select * from t where x > (select max(x) from {{ this }})"))
    assert references_this(node("{% set t = this %}select 1"))
    assert not references_this(node("-- this model\nselect this_col from {{ ref('a') }}"))
    assert references_this(node("spark.table(ctx.this)", "python"))


def _overlap(batches: list[dict]) -> bool:
    spans = [(dt.datetime.fromisoformat(b["started_at"]), dt.datetime.fromisoformat(b["completed_at"]))
             for b in batches]
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1:])


def test_concurrent_batches_overlap_and_equal_the_sequential_build(make_project, spark, monkeypatch):
    """threads=2: the middle batches run at once (dbt 1.9: first and last alone), each publishes its own
    version on the newest one; the table equals the one-at-a-time build, a failed middle batch gets
    its own line and retry reruns only it."""
    seq_root = project(make_project, spark)
    [seq] = sparkmodels.run(seq_root, spark=spark, event_time_end="2020-05-01", threads=1).results
    assert seq.status == "success" and not _overlap(seq.extra["batches"])
    expected = sorted(tuple(r) for r in table(spark, seq_root).select("id", "ts", "amount", "month").collect())

    root = make_project({"models/sources.yml": (seq_root / "models/sources.yml").read_text(),
                         "models/mb.sql": MODEL}, name="concurrent")
    events(spark, root)
    monkeypatch.setenv("SM_FAIL_MONTH", "2020-02")
    [r] = sparkmodels.run(root, spark=spark, event_time_start="2020-01-01", event_time_end="2020-07-01",
                          threads=2).results
    assert r.status == "error"
    done = r.extra["batches"]
    assert [b["start"][:7] for b in done] == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
    assert _overlap(done[1:5])  # the middle batches ran at once
    assert done[0]["completed_at"] <= min(b["started_at"] for b in done[1:])  # the first alone, before
    assert done[5]["started_at"] >= max(b["completed_at"] for b in done[:5])  # the last alone, after
    assert "1 of 6 batches failed" in r.message
    assert "batch 2020-02-01 00:00:00 .. 2020-03-01 00:00:00: ERROR" in r.message
    assert {x.month for x in table(spark, root).select("month").distinct().collect()} == {"2020-01", "2020-03", "2020-04"}
    versions = {b["version"] for b in done if b["status"] == "success"}
    assert len(versions) == 5  # each batch its own published version
    monkeypatch.delenv("SM_FAIL_MONTH")
    [again] = api.retry(root, spark=spark).results
    assert again.status == "success", again.message
    assert [b["start"][:7] for b in again.extra["batches"]] == ["2020-02"]
    got = sorted(tuple(x) for x in table(spark, root).select("id", "ts", "amount", "month").collect())
    assert got == expected


def test_newest_event_from_footers_equals_sparks_max(spark, tmp_path):
    """Without --event-time-end a run's last batch is the newest event's: the footers' max (no scan
    of history) must equal Spark's max(), in the session's time zone; INT96 files cannot tell."""
    from sparkmodels.execute.materializations.versions import newest_in_files

    rows = [(i, dt.datetime(2021, 1 + i % 5, 1 + i % 20, i % 24, i % 60)) for i in range(50)] + [(99, None)]
    df = spark.createDataFrame(rows, "id int, ts timestamp")
    zone = spark.conf.get("spark.sql.session.timeZone")
    before = spark.conf.get("spark.sql.parquet.outputTimestampType")
    try:
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        df.repartition(3).write.parquet(str(tmp_path / "micros"))
        spark.conf.set("spark.sql.parquet.outputTimestampType", "INT96")
        df.write.parquet(str(tmp_path / "int96"))
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", before)
    expected = spark.read.parquet(str(tmp_path / "micros")).agg({"ts": "max"}).collect()[0][0]
    assert newest_in_files(tmp_path / "micros", "TS", zone) == (True, expected.replace(tzinfo=None))
    assert newest_in_files(tmp_path / "int96", "ts", zone) == (False, None)
    assert newest_in_files(tmp_path / "micros", "id", zone) == (False, None)  # not a timestamp
