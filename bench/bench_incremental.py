"""Benchmark: incremental models against hand-written PySpark, in one SparkSession (no JVM start in either).

1. 24 months of generated trips (ROWS_PER_MONTH each, a Parquet source partitioned by month) in a
   monthly-partitioned incremental table; then month 25 arrives and is added with `append`,
   `insert_overwrite` and `microbatch` (`--event-time-start/--event-time-end` = month 25). Each is
   compared with a hand-written PySpark job writing only that month's partition
   (`df.where(month).write.parquet(<table>/month=...)`, target <= 1.2x) and with a full rebuild of the
   25 months as a table (target >= 10x faster).
2. `merge` of 1 % updated and 1 % new keys into MERGE_ROWS rows (unique_key id) against a hand-written
   copy-on-write of the same result (old anti-join new keys, union new, write a new folder; <= 1.2x).
Pairs are interleaved (ours, baseline, baseline, ours, ...: who goes first alternates, and each run
starts from a collected JVM heap; each pair's ratio is printed to stderr
as it is measured) and a target's ratio is the median of its pairs' ratios: 7 pairs for each one-month
run against the hand job (SMBENCH_INCREMENTAL_PAIRS sets how many), 3 for the full rebuilds and the
merge; the fastest run of each side gives a second ratio (`fastest_ratio`). The project is loaded
once (as bench_snapshot does); each run still plans, compiles and executes. The full rebuild runs
with no_cache (the build cache would otherwise skip it). Storage: after 10 runs of each incremental
model, the bytes under its `.versions` folder (hard links counted once) over the bytes of the
current version plus the previous version's own files (target <= 1.1).
"""

from __future__ import annotations

import contextlib
import gc
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


def _inodes(path: Path) -> dict[int, int]:
    out = {}
    for dirpath, _d, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            out[st.st_ino] = st.st_size
    return out


def _storage(wh: Path, name: str) -> dict:
    """Bytes under the table's .versions folder (hard links once) over the bytes of its current
    version plus the previous version's own files (what the docs promise to keep)."""
    versions = wh / ".versions" / name
    current = (wh / name).resolve()
    previous = None
    with contextlib.suppress(OSError):
        for line in (versions / "_previous").read_text(encoding="utf-8").splitlines():
            a, _, b = line.partition(" ")
            if a == current.name:
                previous = versions / b
    kept = _inodes(current)
    if previous is not None and previous.is_dir():
        kept.update(_inodes(previous))
    total = sum(_inodes(versions).values())
    data = sum(_inodes(current).values())
    return {"bytes": total, "current_bytes": data, "current_plus_previous_bytes": sum(kept.values()),
            "ratio": round(total / max(1, sum(kept.values())), 3),
            "versions": sum(1 for p in versions.iterdir() if p.is_dir() and p.name.startswith("v"))}


TARGETS = {"append_vs_hand": "<= 1.2", "insert_overwrite_vs_hand": "<= 1.2", "microbatch_vs_hand": "<= 1.2",
           "full_rebuild_over_append": ">= 10", "full_rebuild_over_insert_overwrite": ">= 10",
           "full_rebuild_over_microbatch": ">= 10", "merge_vs_hand_copy_on_write": "<= 1.2",
           "disk_after_10_runs ratio": "<= 1.1"}


def run(quick: bool, rows_per_month: int | None = None) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import sparkmodels

    default_rows, merge_rows, repeats = (5_000, 50_000, 1) if quick else (200_000, 5_000_000, 3)
    # The one-month runs take about a second: more pairs of them (the machine is shared and noisy),
    # while the full rebuilds and the merge keep `repeats` pairs.
    month_pairs = 1 if quick else int(os.environ.get("SMBENCH_INCREMENTAL_PAIRS", "7"))
    rows_per_month = rows_per_month or default_rows
    root = harness.fresh_dir("incremental")
    from sparkmodels.execute.spark.launch import WRITE_CONF

    builder = (SparkSession.builder.master("local[2]").appName("bench-incremental")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
               # as in the sessions sparkmodels launches (launch.session_conf), and as in the TLC's files
               .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"))
    for key, value in WRITE_CONF.items():  # the partitioned-write settings of those sessions too
        builder = builder.config(key, value)
    # Both sides share this driver; 1 GB (pyspark's default) is short for a 25-month rebuild at
    # millions of rows a month (Parquet's writers scale their row groups down, then fail).
    spark = builder.config("spark.driver.memory", os.environ.get("SMBENCH_DRIVER_MEMORY", "4g")).getOrCreate()
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
        project = sparkmodels.load_project(root, vars={"month": last})  # loaded once, as bench_snapshot does
        pairs: dict[str, list[tuple[float, float]]] = {}  # target -> [(ours, baseline) per interleaved pair]

        def timed(fn) -> float:
            # A collection left over from the previous (maybe 25M-row) job is not charged to whichever
            # run happens to follow it: both sides start each run from a collected heap.
            spark.sparkContext._jvm.java.lang.System.gc()
            gc.collect()
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0

        def ours(model, **kw):
            def go():
                r = sparkmodels.run(root, spark=spark, project=project, select=[model], **kw)
                assert r.success, [x.message for x in r.results]
            return go

        hands = [0]

        def hand_partition():  # the month's rows into that month's partition folder, nothing else
            hands[0] += 1
            out = root / "hand" / f"trips_{hands[0]}" / f"month={last}"
            (spark.read.parquet(str(root / "data" / "trips")).where(f"month = '{last}'")
             .drop("month").write.mode("overwrite").parquet(str(out)))

        def hand_merge():  # copy-on-write: old rows without the new keys, plus the new rows, in a new folder
            hands[0] += 1
            src = spark.read.parquet(str(root / "data" / "keys"))
            old = spark.read.parquet(str(wh / "t_merge"))
            new = src.where("batch = 1").select("id", "v", "w")
            out = old.join(new.select("id"), "id", "left_anti").unionByName(new)
            out.write.parquet(str(root / "hand" / f"merge_{hands[0]}"))

        def pair(target, a, b):
            # who goes first alternates from pair to pair, so neither side always runs on a warmer JVM
            first_b = len(pairs.get(target, [])) % 2 == 1
            if first_b:
                tb, ta = timed(b), timed(a)
            else:
                ta, tb = timed(a), timed(b)
            pairs.setdefault(target, []).append((ta, tb))
            print(f"  {target:<34} {ta:7.3f}s vs {tb:7.3f}s  ratio {ta / tb:5.2f}", file=sys.stderr, flush=True)

        mb = ours("t_mb", event_time_start=f"{last}-01", event_time_end=f"{last}-28")
        full = ours("t_full", no_cache=True)  # a real rebuild: the build cache would skip it
        for i in range(max(repeats, month_pairs)):  # interleaved: each pair runs under the same load
            pair("append_vs_hand", ours("t_append"), hand_partition)
            pair("insert_overwrite_vs_hand", ours("t_io"), hand_partition)
            pair("microbatch_vs_hand", mb, hand_partition)
            if i < repeats:
                pair("full_rebuild_over_append", full, ours("t_append"))
                pair("full_rebuild_over_insert_overwrite", full, ours("t_io"))
                pair("full_rebuild_over_microbatch", full, mb)
                pair("merge_vs_hand_copy_on_write", ours("t_merge"), hand_merge)
        ratios = {k: statistics.median(a / b for a, b in v) for k, v in pairs.items()}
        # Not a target: how much faster than our full rebuild the hand-written partition job itself is
        # (the >= 10x targets cannot be met where this is below 10: fixed per-job costs dominate).
        ratios["info_full_rebuild_over_hand_partition"] = (
            statistics.median(a for a, _ in pairs["full_rebuild_over_append"])
            / statistics.median(b for _, b in pairs["append_vs_hand"]))
        seconds = {k: {"ours_s": round(statistics.median(a for a, _ in v), 3),
                       "baseline_s": round(statistics.median(b for _, b in v), 3),
                       # a second estimator, less moved by load spikes: the fastest run of each side
                       "fastest_ratio": round(min(a for a, _ in v) / min(b for _, b in v), 2)}
                   for k, v in pairs.items()}
        # Storage: every incremental model has now run 1 + month pairs + repeats times; top up to 10 runs.
        runs_so_far = 1 + max(repeats, month_pairs) + repeats
        for _ in range(max(0, 10 - runs_so_far)):
            ours("t_append")()
            ours("t_io")()
            mb()
        disk = {name: _storage(wh, name) for name in ("t_append", "t_io", "t_mb")}
        return {"rows_per_month": rows_per_month, "merge_rows": merge_rows, "repeats": repeats,
                "month_pairs": max(repeats, month_pairs),
                "seconds": seconds, "ratios": {k: round(v, 2) for k, v in ratios.items()},
                "targets": TARGETS, "disk_after_10_runs": disk}
    finally:
        spark.stop()
        harness.rmtree(root)


if __name__ == "__main__":
    import json

    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__ + "\nUsage: python bench/bench_incremental.py [--quick] [--rows-per-month=N]")
        sys.exit(0)
    rows = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--rows-per-month=")), None)
    print(json.dumps(run("--quick" in sys.argv, rows_per_month=rows), indent=2))
