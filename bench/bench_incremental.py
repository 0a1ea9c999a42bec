"""Benchmark: incremental models against hand-written PySpark, in one SparkSession (no JVM start in either).

1. 24 months of generated trips (ROWS_PER_MONTH each, a Parquet source partitioned by month) in a
   monthly-partitioned incremental table; then month 25 arrives and is added with `append`,
   `insert_overwrite` and `microbatch` (`--event-time-start/--event-time-end` = month 25). Each is
   compared with a hand-written PySpark job writing only that month's partition
   (`df.where(month).write.parquet(<table>/month=...)`, target <= 1.2x) and with a full rebuild of the
   25 months as a table (target >= 10x faster).
2. `merge` of 1 % updated and 1 % new keys into MERGE_ROWS rows (unique_key id) against a hand-written
   copy-on-write of the same result (old anti-join new keys, union new, write a new folder; <= 1.2x).
Pairs are interleaved (A B A B ...), figures are medians. Also reported: bytes on disk of the append
table's versions after the runs (hard links counted once) over the bytes of its current version.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import harness

NAME = "incremental"
MODELS = {
    "t_append": ("append", ""),
    "t_io": ("insert_overwrite", ""),
}


def _project(root: Path) -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "project.yml").write_text("name: bench_inc\nversion: '1'\n", encoding="utf-8")
    (root / "models" / "sources.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: trips\n"
        "        config: {event_time: pickup_datetime}\n        external: {location: data/trips}\n",
        encoding="utf-8")
    body = ("select id, pickup_datetime, fare, month from {{ source('raw', 'trips') }}\n"
            "{% if is_incremental() %}where month = '{{ var('month', '') }}'{% endif %}\n")
    for name, (strategy, _) in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(
            f"{{{{ config(materialized='incremental', incremental_strategy='{strategy}', partition_by=['month']) }}}}\n"
            + body, encoding="utf-8")
    (root / "models" / "t_mb.sql").write_text(
        "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='pickup_datetime', "
        "batch_size='month', begin='2018-01-01', partition_by=['month']) }}\n"
        "select id, pickup_datetime, fare, month from {{ source('raw', 'trips') }}\n", encoding="utf-8")
    (root / "models" / "t_full.sql").write_text(
        "{{ config(materialized='table', partition_by=['month']) }}\n"
        "select id, pickup_datetime, fare, month from {{ source('raw', 'trips') }}\n", encoding="utf-8")
    (root / "models" / "t_merge.sql").write_text(
        "{{ config(materialized='incremental', incremental_strategy='merge', unique_key='id') }}\n"
        "select id, v, w from {{ source('raw', 'keys') }}\n"
        "{% if is_incremental() %}where batch = 1{% else %}where batch = 0{% endif %}\n", encoding="utf-8")
    with open(root / "models" / "sources.yml", "a", encoding="utf-8") as fh:
        fh.write("      - name: keys\n        external: {location: data/keys}\n")


def _months(n: int) -> list[str]:
    return [f"{2018 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def _generate(spark, root: Path, rows_per_month: int, merge_rows: int) -> None:
    from pyspark.sql import functions as F

    months = _months(25)
    for i, m in enumerate(months):
        df = (spark.range(rows_per_month).select(
            (F.col("id") + i * rows_per_month).alias("id"),
            (F.lit(f"{m}-01").cast("timestamp") + F.expr("make_interval(0, 0, 0, cast(id % 27 as int), "
                                                         "cast(id % 24 as int))")).alias("pickup_datetime"),
            (F.col("id") % 1000 / 10.0).alias("fare")))
        df.repartition(2).write.mode("overwrite").parquet(str(root / "data" / "stage" / f"month={m}"))
    keys = spark.range(merge_rows).select("id", (F.col("id") * 7 % 1000).alias("v"), F.lit("x").alias("w"),
                                           F.lit(0).alias("batch"))
    delta = spark.range(merge_rows // 100 * 2).select(
        F.when(F.col("id") % 2 == 0, F.col("id") * 50).otherwise(F.col("id") + merge_rows).alias("id"),
        F.lit(-1).cast("bigint").alias("v"), F.lit("y").alias("w"), F.lit(1).alias("batch"))
    keys.unionByName(delta).repartition(4).write.mode("overwrite").parquet(str(root / "data" / "keys"))


def _show_months(root: Path, n: int) -> None:
    """Make the first n months visible in the source (month 25 'arrives' when n goes 24 -> 25)."""
    trips = root / "data" / "trips"
    trips.mkdir(parents=True, exist_ok=True)
    for m in _months(25)[:n]:
        link = trips / f"month={m}"
        if not link.exists():
            os.symlink(root / "data" / "stage" / f"month={m}", link)


def _median(values):
    return statistics.median(values) if values else None


def _disk(path: Path) -> int:
    seen, total = set(), 0
    for dirpath, _d, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
    return total


def run(quick: bool) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import sparkmodels

    rows_per_month, merge_rows, repeats = (5_000, 50_000, 1) if quick else (200_000, 5_000_000, 3)
    root = harness.fresh_dir("incremental")
    spark = (SparkSession.builder.master("local[2]").appName("bench-incremental")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate())
    try:
        _project(root)
        _generate(spark, root, rows_per_month, merge_rows)
        _show_months(root, 24)
        last = _months(25)[-1]
        wh = root / "warehouse" / "bench_inc"
        for sel in (["t_append", "t_io"], ["t_merge"]):
            assert sparkmodels.run(root, spark=spark, select=sel, vars={"month": last}).success
        assert sparkmodels.run(root, spark=spark, select=["t_mb"], event_time_end=f"{_months(24)[-1]}-28").success
        _show_months(root, 25)
        times: dict[str, list[float]] = {k: [] for k in (
            "append", "insert_overwrite", "microbatch", "hand_partition", "full_rebuild", "merge", "hand_merge")}

        def timed(key, fn):
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)

        def ours(model, **kw):
            def go():
                r = sparkmodels.run(root, spark=spark, select=[model], vars={"month": last}, **kw)
                assert r.success, [x.message for x in r.results]
            return go

        def hand_partition():
            out = root / "hand" / "trips" / f"month={last}"
            (spark.read.parquet(str(root / "data" / "trips")).where(f"month = '{last}'")
             .drop("month").write.mode("overwrite").parquet(str(out)))

        merges = [0]

        def hand_merge():
            merges[0] += 1
            src = spark.read.parquet(str(root / "data" / "keys"))
            old = spark.read.parquet(str(wh / "t_merge"))
            new = src.where("batch = 1").select("id", "v", "w")
            out = old.join(new.select("id"), "id", "left_anti").unionByName(new)
            out.write.parquet(str(root / "hand" / f"merge_{merges[0]}"))

        for _ in range(repeats):  # interleaved: each pair runs under the same load
            timed("append", ours("t_append"))
            timed("hand_partition", hand_partition)
            timed("insert_overwrite", ours("t_io"))
            timed("hand_partition", hand_partition)
            timed("microbatch", ours("t_mb", event_time_start=f"{last}-01", event_time_end=f"{_months(25)[-1]}-28"))
            timed("hand_partition", hand_partition)
            timed("full_rebuild", ours("t_full"))
            timed("merge", ours("t_merge"))
            timed("hand_merge", hand_merge)
        med = {k: _median(v) for k, v in times.items()}
        hand = med["hand_partition"]
        ratios = {
            "append_vs_hand": med["append"] / hand, "insert_overwrite_vs_hand": med["insert_overwrite"] / hand,
            "microbatch_vs_hand": med["microbatch"] / hand,
            "full_rebuild_over_append": med["full_rebuild"] / med["append"],
            "full_rebuild_over_insert_overwrite": med["full_rebuild"] / med["insert_overwrite"],
            "full_rebuild_over_microbatch": med["full_rebuild"] / med["microbatch"],
            "merge_vs_hand_copy_on_write": med["merge"] / med["hand_merge"],
        }
        current = (wh / "t_io").resolve()
        disk = {"t_io_versions_bytes": _disk(wh / ".versions" / "t_io"), "t_io_current_bytes": _disk(current)}
        disk["t_io_versions_over_current"] = disk["t_io_versions_bytes"] / max(1, disk["t_io_current_bytes"])
        return {"rows_per_month": rows_per_month, "merge_rows": merge_rows, "repeats": repeats,
                "seconds": {k: round(v, 3) for k, v in med.items() if v is not None},
                "ratios": {k: round(v, 2) for k, v in ratios.items()}, "disk": disk}
    finally:
        spark.stop()
        harness.rmtree(root)


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv), indent=2))
