"""Benchmark: the example base_id UDF in each form sparkmodels offers, against a pickled row UDF.

Run: python bench/bench_udfs.py [--quick]. 5M rows (quick: 200k) of dispatching base numbers are
cached first; each form then maps every row and the result is written to Spark's `noop` sink, so
the timing is UDF work plus Python worker transfer, not I/O. Forms: the classic pickled row UDF
(arrow=False), pyspark's Arrow row UDF (what deterministic=False gives: one call per row), the
default (a scalar Arrow UDF calling base_id once per distinct input, see distinct_udf.py) and the
hand-written pandas form. Runs are interleaved (pickle, arrow_rows, default, pandas, pickle, ...)
so machine noise hits all forms alike; medians are reported. Target: default >= 2x pickled.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "udfs"
FORMS = ("pickle", "arrow_rows", "default", "pandas")
TARGET = 2.0


def _session():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    log4j = REPO / "sparkmodels" / "include" / "log4j2.properties"
    spark = (SparkSession.builder.master("local[*]").appName("sparkmodels bench udfs")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
             .getOrCreate())
    return spark, True


def _udfs():
    """The UDF objects, built by sparkmodels from the example project's udfs/base_id.py."""
    from sparkmodels.execute.python.models import load_udfs, spark_udf
    from sparkmodels.project.config import load_config
    from sparkmodels.udfs import UdfSpec

    loaded = {u.spec.name: u for u in load_udfs(load_config(REPO))}
    row, vec = loaded["base_id"], loaded["base_id_vectorized"]
    assert row.spec.form == "arrow", "the example's base_id should use the default form"
    return {
        "pickle": spark_udf(UdfSpec("base_id", "string", "pickle"), row.func),
        # deterministic=False runs as the Arrow row UDF (the flag only stops the optimizer from
        # reordering or merging it, which a plain select never does)
        "arrow_rows": spark_udf(UdfSpec("base_id", "string", "arrow", deterministic=False), row.func),
        "default": spark_udf(row.spec, row.func),
        "pandas": spark_udf(vec.spec, vec.func),
    }


def run(quick: bool = False) -> dict:
    """Time the three forms; returns medians (seconds), ratios and rows/s."""
    from pyspark.sql import functions as F

    rows = 200_000 if quick else 5_000_000
    reps = 3 if quick else 5
    spark, owned = _session()
    try:
        parts = max(2, spark.sparkContext.defaultParallelism)
        data = (spark.range(rows, numPartitions=parts)
                .select(F.concat(F.lit("B"), F.lpad(((F.col("id") * 7919) % 3000 + 1).cast("string"), 5, "0"))
                        .alias("dispatching_base_num"))
                .cache())
        data.count()
        udfs = _udfs()

        sample = data.limit(2000)
        results = {form: [r[0] for r in sample.select(f("dispatching_base_num")).collect()]
                   for form, f in udfs.items()}
        assert all(results[form] == results["pickle"] for form in FORMS), "forms disagree"

        def once(form: str) -> float:
            t0 = time.perf_counter()
            data.select(udfs[form]("dispatching_base_num").alias("base_id")) \
                .write.format("noop").mode("overwrite").save()
            return time.perf_counter() - t0

        for form in FORMS:  # warm-up: start Python workers, JIT the JVM side
            once(form)
        times: dict[str, list[float]] = {form: [] for form in FORMS}
        for _ in range(reps):
            for form in FORMS:
                times[form].append(once(form))
        data.unpersist()
    finally:
        if owned:
            spark.stop()

    med = {form: statistics.median(ts) for form, ts in times.items()}
    speedup = {form: round(med["pickle"] / med[form], 2) for form in FORMS if form != "pickle"}
    out = {
        "rows": rows, "reps": reps, "partitions": parts,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "rows_per_s": {k: round(rows / v) for k, v in med.items()},
        "speedup_vs_pickle": speedup,
        "target_default_vs_pickle": TARGET,
        "meets_target": speedup["default"] >= TARGET,
        "runs_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
    }
    print(f"bench {NAME}: base_id UDF over {rows:,} rows, {parts} partitions, median of {reps} interleaved runs")
    for form in FORMS:
        label = {"pickle": "pickled row UDF (arrow=False)", "arrow_rows": "Arrow row UDF (deterministic=False)",
                 "default": "default (once per distinct input)", "pandas": "pandas UDF (vectorized=True)"}[form]
        gain = f"{speedup[form]:5.2f}x" if form in speedup else "     "
        print(f"  {label:38s} {med[form]:8.3f} s  {gain}  {out['rows_per_s'][form]:>12,} rows/s")
    return out


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
