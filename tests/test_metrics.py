"""Per-model Spark metrics: taken from Spark's status store, per job group and scheduler pool."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sparkmodels.app.cli import cli
from sparkmodels.execute.spark.metrics import StatusReader, heaviest, human_bytes


def _results(root) -> dict:
    data = json.loads((root / "target" / "run_results.json").read_text())
    return {r["name"]: r for r in data["results"]}


@pytest.mark.slow
def test_build_records_per_model_metrics_pools_and_heaviest_models(example_project, spark):
    result = CliRunner().invoke(cli, ["build", "--project-dir", str(example_project), "--threads", "2"])
    assert result.exit_code == 0, result.output
    assert "Heaviest models" in result.output
    results = _results(example_project)
    tables = [r for r in results.values() if r["materialized"] in ("table", "seed") and r["status"] == "success"]
    assert len(tables) >= 4
    for r in tables:
        m = r["spark_metrics"]
        table = spark.read.parquet(r["adapter_response"]["path"])
        # Spark's own output accounting matches the table (and the Observation's row count).
        assert m["rows_written"] == r["adapter_response"]["rows_affected"] == table.count(), r["name"]
        assert m["jobs"] >= 1 and m["stages"] >= 1 and m["tasks"] >= 1, m
        assert m["bytes_written"] > 0 and m["files_written"] >= 1, m
        assert m["executor_run_time_ms"] >= 0 and m["shuffle_read_bytes"] >= 0, m
        # Each model ran in its own job group and scheduler pool, described by its name.
        assert m["job_group"] == f"sparkmodels-{r['name']}"
        assert m["scheduler_pool"] == r["name"]
        assert r["name"] in m["job_description"]
        assert m["source"] == "spark-status-store"
    tests = [r for r in results.values() if r["resource_type"] == "test" and r["status"] == "pass"]
    # Tests batched into another step's query ran no jobs of their own; the others did.
    assert any(t["spark_metrics"]["jobs"] >= 1 for t in tests)
    assert all(t["spark_metrics"]["job_group"] == f"sparkmodels-{t['name']}" for t in tests)


def test_metrics_count_only_this_steps_jobs(spark):
    sc = spark.sparkContext
    reader = StatusReader(spark)
    group = "sparkmodels-metrics-probe"
    sc.setJobGroup(group, "probe one")
    try:
        spark.range(10).count()
        since = reader.watermark()
        sc.setLocalProperty("spark.scheduler.pool", "probe_pool")
        spark.range(100).repartition(2).selectExpr("sum(id)").collect()
        sc.setJobGroup("sparkmodels-someone-else", "another step's job in the same window")
        spark.range(5).count()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.scheduler.pool", None)
    m = reader.collect(group, since)
    assert m["jobs"] >= 1
    assert m["shuffle_write_bytes"] > 0 and m["shuffle_read_bytes"] > 0
    assert m["scheduler_pool"] == "probe_pool"  # the earlier job (default pool) is not counted
    assert m["rows_written"] == 0
    assert m["job_description"] == "probe one"  # the other group's job is not counted either
    # Read again (from the reader's cache of finished jobs): the same figures.
    assert reader.collect(group, since) == m
    # No job since the watermark: zeros, without waiting on Spark.
    idle = reader.collect(group, reader.watermark())
    assert idle["jobs"] == 0 and idle["tasks"] == 0 and idle["source"] == "spark-status-store"


def test_rows_written_come_from_the_write_stage_of_a_multi_job_query(spark, tmp_path):
    reader = StatusReader(spark)
    since = reader.watermark()
    df = spark.range(1000).selectExpr("id % 37 as k").groupBy("k").count().orderBy("k")  # shuffles, sorts
    df.write.parquet(str(tmp_path / "t"))
    m = reader.collect(None, since)
    assert m["rows_written"] == 37 == spark.read.parquet(str(tmp_path / "t")).count()
    assert m["stages"] >= 2 and m["bytes_written"] > 0


def test_heaviest_orders_by_executor_time():
    class R:
        def __init__(self, name, ms):
            self.name, self.extra = name, {"spark_metrics": {"executor_run_time_ms": ms, "bytes_written": 1}}

    assert [n for n, _ in heaviest([R("a", 5), R("b", 50), R("c", 20)], n=2)] == ["b", "c"]
    assert human_bytes(2048) == "2.0 KiB" and human_bytes(None) == "?"


def test_status_reader_reuses_one_json_mapper_per_context(spark):
    # A new Jackson mapper builds its serializers by reflection on first use (11-18 ms a stage).
    first, second = StatusReader(spark), StatusReader(spark)
    assert first._json is not None and first._json is second._json
