"""Benchmark: a sparkmodels snapshot (SCD type 2) step against a hand-written PySpark SCD2 step.

Run: python bench/bench_snapshot.py [--quick]. A snapshot of N rows (1M; quick: 50k) already holds
one version of every row; the source then has 1 % of its rows changed (a newer updated_at and a new
value). Each timed run starts from that same previous version and writes the next full version as
Parquet: `sparkmodels.snapshot` (timestamp strategy, in this process's SparkSession, project load
and planning included) and a hand-written PySpark job (one full outer join of the current rows with
the source, history, closed, unchanged and new rows unioned, written to a new folder). Runs are
interleaved (sparkmodels, hand, sparkmodels, ...); the ratio of the medians is reported (target
<= 1.2). Both results are checked to hold the same rows.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402

NAME = "snapshot"
TARGET = 1.2

SNAPSHOT_SQL = """\
{% snapshot snap %}
{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at') }}
select * from {{ source('raw', 'rows') }}
{% endsnapshot %}
"""


def _session():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    spark = (SparkSession.builder.master("local[*]").appName("sparkmodels bench snapshot")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={harness.LOG4J}")
             .getOrCreate())
    return spark, True


def _source(spark, rows: int, changed: bool):
    from pyspark.sql import functions as F

    df = spark.range(rows).select(
        F.col("id"), (F.col("id") * 7 % 1000).alias("amount"), F.concat(F.lit("name_"), F.col("id")).alias("name"),
        F.to_timestamp(F.lit("2024-01-01 00:00:00")).alias("updated_at"))
    if changed:  # 1 % of the rows: a new amount and a newer updated_at
        hit = F.col("id") % 100 == 0
        df = df.select("id", F.when(hit, F.col("amount") + 1).otherwise(F.col("amount")).alias("amount"), "name",
                       F.when(hit, F.to_timestamp(F.lit("2024-02-01 00:00:00"))).otherwise(F.col("updated_at"))
                       .alias("updated_at"))
    return df


def hand_scd2(spark, previous: str, source: str, out: str) -> None:
    """A hand-written SCD2 step for the timestamp strategy, written as a data engineer would."""
    from pyspark.sql import functions as F

    prev = spark.read.parquet(previous)
    src = spark.read.parquet(source)
    hist = prev.where(F.col("dbt_valid_to").isNotNull())
    cur = prev.where(F.col("dbt_valid_to").isNull())
    s = src.select(*[F.col(c).alias("s_" + c) for c in src.columns])
    j = cur.join(s, cur["id"] == s["s_id"], "full_outer")
    changed = F.col("id").isNotNull() & F.col("s_id").isNotNull() & (F.col("dbt_valid_from") < F.col("s_updated_at"))
    data = ["id", "amount", "name", "updated_at"]
    old = j.where(F.col("id").isNotNull()).select(
        *data, "dbt_scd_id", "dbt_updated_at", "dbt_valid_from",
        F.when(changed, F.col("s_updated_at")).otherwise(F.col("dbt_valid_to")).alias("dbt_valid_to"))
    new = j.where(F.col("s_id").isNotNull() & (F.col("id").isNull() | changed)).select(
        *[F.col("s_" + c).alias(c) for c in data],
        F.md5(F.concat_ws("|", F.col("s_id").cast("string"), F.col("s_updated_at").cast("string"))).alias("dbt_scd_id"),
        F.col("s_updated_at").alias("dbt_updated_at"), F.col("s_updated_at").alias("dbt_valid_from"),
        F.lit(None).cast("timestamp").alias("dbt_valid_to"))
    hist.unionByName(old).unionByName(new).write.mode("error").parquet(out)


def run(quick: bool = False) -> dict:
    import sparkmodels

    rows = 50_000 if quick else 1_000_000
    repeats = 2 if quick else 3
    spark, owned = _session()
    work = harness.fresh_dir("snapshot")
    try:
        root = work / "project"
        (root / "snapshots").mkdir(parents=True)
        (root / "project.yml").write_text("name: bench\nversion: '1'\n")
        (root / "snapshots" / "snap.sql").write_text(SNAPSHOT_SQL)
        src_dir = work / "source"
        (root / "snapshots" / "sources.yml").write_text(
            "sources:\n  - name: raw\n    tables:\n      - name: rows\n"
            f"        external: {{location: '{src_dir}', format: parquet}}\n")
        _source(spark, rows, changed=False).write.parquet(str(src_dir))
        first = sparkmodels.snapshot(root, spark=spark)
        assert first.success, [(r.name, r.message) for r in first.results]
        shutil.rmtree(src_dir)
        _source(spark, rows, changed=True).write.parquet(str(src_dir))
        base = work / "warehouse_base"
        shutil.move(str(root / "warehouse"), str(base))
        previous = str((base / "bench" / "snap").resolve())
        hand_out = work / "hand"
        project = sparkmodels.load_project(root)

        def reset(name: str) -> None:  # each variant starts from the same previous version
            if name in ("sparkmodels", "warm"):
                harness.rmtree(root / "warehouse")
                shutil.copytree(base, root / "warehouse", symlinks=True)  # the link is relative
            if name in ("hand", "warm"):
                harness.rmtree(hand_out)

        def ours() -> float:
            t0 = time.perf_counter()
            result = sparkmodels.snapshot(root, spark=spark, project=project)
            wall = time.perf_counter() - t0
            assert result.success, [(r.name, r.message) for r in result.results]
            return wall

        def hand() -> float:
            t0 = time.perf_counter()
            hand_scd2(spark, previous, str(src_dir), str(hand_out))
            return time.perf_counter() - t0

        if not quick:  # one untimed pass of each: JIT, file cache
            reset("warm")
            ours()
            hand()
        samples = harness.interleave({"sparkmodels": ours, "hand": hand}, repeats, before_each=reset)
        mine = spark.read.parquet(str(root / "warehouse" / "bench" / "snap"))
        theirs = spark.read.parquet(str(hand_out))
        same = mine.count() == theirs.count() and mine.exceptAll(theirs.select(*mine.columns)).count() == 0
        ours_s = harness.median(harness.walls(samples["sparkmodels"]))
        hand_s = harness.median(harness.walls(samples["hand"]))
        return {
            "rows": rows, "changed_rows": rows // 100, "repeats": repeats, "same_result": same,
            "sparkmodels": harness.summary(samples["sparkmodels"]), "hand_pyspark": harness.summary(samples["hand"]),
            "ratio": harness.ratio(ours_s, hand_s), "target_ratio": TARGET,
            "min_ratio": harness.min_ratio(samples["sparkmodels"], samples["hand"]),
        }
    finally:
        harness.rmtree(work)
        if owned:
            spark.stop()


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
