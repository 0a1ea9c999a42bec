"""Benchmark 3: the example taxi pipeline end to end, `sparkmodels build` vs hand-written PySpark.

Data: scripts/generate_taxi_data.py, green + yellow, 2019-01..2020-12, 2.5M rows per colour (5M trips;
25k per colour in --quick), cached under bench/results/cache/. The example project (project.yml and the
folders it names) is copied to a temp dir with data/ linked to that data. Interleaved per repeat:
`sparkmodels build --threads 1`, bench/taxi_baseline.py, `sparkmodels build --threads 2` (all three with
`--exclude resource_type:test`), and `build --threads 1` with the data tests (exit 1 = a test failed on
the synthetic data, recorded in with_tests_exit_codes; full runs only).
The build selects `+dim_monthly_zone_revenue` (seed, 2 staging views, 3 tables): the fhvhv and ML
models of the example are not part of this pipeline (and there is no fhvhv data). Outputs are compared
once after timing (row counts, columns, trip keys; rows differing in the small tables; see outputs_note).
Target: build / baseline <= 1.05. SMBENCH_TAXI_REPEATS sets the repeats of a full run (default 2).
"""

from __future__ import annotations

import json
import os

import harness

NAME = "taxi"
TARGET_RATIO = 1.05
TABLES = ("dim_zones", "trips_data", "dim_monthly_zone_revenue")

VERIFY = """\
import json, sys
{session}
from pyspark.sql import functions as F
fw, bl = sys.argv[1], sys.argv[2]
out = {{}}
for t in {tables!r}:
    a, b = spark.read.parquet(fw + '/' + t), spark.read.parquet(bl + '/' + t)
    info = {{'rows_sparkmodels': a.count(), 'rows_baseline': b.count(), 'same_columns': a.columns == b.columns}}
    if t == 'trips_data':
        keys = lambda df: df.select('tripid', 'service_type').distinct()
        info['same_trip_keys'] = keys(a).exceptAll(keys(b)).count() == 0 and keys(b).exceptAll(keys(a)).count() == 0
        sa, sb = (df.agg(F.sum('total_amount')).first()[0] for df in (a, b))
        info['total_amount_rel_diff'] = abs(sa - sb) / abs(sb) if sb else None
    else:
        def rounded(df):
            return df.select([F.round(c, 4).alias(c) if dict(df.dtypes)[c] == 'double' else F.col(c)
                              for c in df.columns])
        ra, rb = rounded(a), rounded(b)
        info['rows_differing'] = ra.exceptAll(rb).count() + rb.exceptAll(ra).count()
    out[t] = info
spark.stop()
print('VERIFY ' + json.dumps(out))
"""


def taxi_data(rows_per_colour: int):
    """Generated data, cached by size (deterministic generator, so the cache is safe)."""
    cache = harness.RESULTS / "cache" / f"taxi-{rows_per_colour}"
    if not (cache / "done").exists():
        harness.rmtree(cache)
        harness.timed([harness.PY, str(harness.REPO / "scripts" / "generate_taxi_data.py"),
                       "--rows", str(rows_per_colour), "--colours", "green,yellow",
                       "--months", "2019-01:2020-12", "--out", str(cache / "data")]).check("generate data")
        (cache / "done").write_text("ok\n")
    return cache / "data"


def run(quick: bool) -> dict:
    rows = 25_000 if quick else 2_500_000
    repeats = 1 if quick else int(os.environ.get("SMBENCH_TAXI_REPEATS", "2"))
    data = taxi_data(rows)
    root = harness.fresh_dir("taxi")
    figures: dict = {"trips_total_generated": rows * 2, "repeats": repeats}
    try:
        project = harness.copy_example(root / "project", data=data)
        out_dir = root / "baseline_out"

        def build(threads: int, tests: bool = False):
            cmd = harness.sparkmodels_cmd("build", "--project-dir", str(project), "--select", "+dim_monthly_zone_revenue",
                                          "--threads", str(threads))
            sample = harness.timed(cmd if tests else [*cmd, "--exclude", "resource_type:test"], env=harness.spark_env())
            if tests and sample.returncode == 1:
                return sample  # a data test failing on synthetic data is a result, not a benchmark error
            return sample.check(f"sparkmodels build --threads {threads}{' (with tests)' if tests else ''}")

        def clean(name):
            # Each side starts from an empty output; the other side's output stays for the comparison.
            harness.rmtree(out_dir if name == "pyspark_script" else project / "warehouse")

        variants = {
            "sparkmodels_build_threads1": lambda: build(1),
            "pyspark_script": lambda: harness.timed(
                [harness.PY, str(harness.BENCH / "taxi_baseline.py"), str(project), str(out_dir)],
                env={**harness.spark_env(), "SMBENCH_CLASS_ARCHIVE_OPTS": harness.class_archive_options()},
            ).check("taxi baseline"),
        }
        if not quick:  # --quick checks the benchmark itself (the 5-minute suite): one build per side
            variants["sparkmodels_build_threads2"] = lambda: build(2)
            variants["sparkmodels_build_with_tests_threads1"] = lambda: build(1, tests=True)
        samples = harness.interleave(variants, repeats, before_each=clean)
        a1 = harness.median(harness.walls(samples["sparkmodels_build_threads1"]))
        b = harness.median(harness.walls(samples["pyspark_script"]))
        for name, s in samples.items():
            figures[name] = harness.summary(s)
        figures["ratio_threads1_vs_baseline"] = harness.ratio(a1, b)
        # Noise only ever adds time: the ratio of the fastest runs is the steadier figure on a busy machine.
        figures["ratio_threads1_vs_baseline_fastest"] = harness.min_ratio(
            samples["sparkmodels_build_threads1"], samples["pyspark_script"])
        a2 = a1
        if "sparkmodels_build_threads2" in samples:
            a2 = harness.median(harness.walls(samples["sparkmodels_build_threads2"]))
            figures["ratio_threads2_vs_baseline"] = harness.ratio(a2, b)
            figures["ratio_threads2_vs_threads1"] = harness.ratio(a2, a1)
            figures["ratio_threads2_vs_baseline_fastest"] = harness.min_ratio(
                samples["sparkmodels_build_threads2"], samples["pyspark_script"])
        figures["target_ratio"] = TARGET_RATIO
        figures["met"] = bool(min(a1, a2) / b <= TARGET_RATIO)
        with_tests = samples.get("sparkmodels_build_with_tests_threads1")
        if with_tests:
            figures["with_tests_ratio_vs_without"] = harness.ratio(harness.median(harness.walls(with_tests)), a1)
            figures["with_tests_exit_codes"] = [s.returncode for s in with_tests]
        else:
            figures["with_tests"] = "full runs only"

        # The last iteration left both outputs in place: compare them.
        verify = root / "verify.py"
        verify.write_text(VERIFY.format(session=harness.baseline_session_code("verify"), tables=TABLES))
        fw = project / "warehouse" / "nyc_taxi"
        res = harness.timed([harness.PY, str(verify), str(fw), str(out_dir)], env=harness.spark_env()).check("verify")
        line = next(x for x in res.stdout.splitlines() if x.startswith("VERIFY "))
        figures["outputs"] = json.loads(line[len("VERIFY "):])
        o = figures["outputs"]
        # The staging dedupe (row_number over vendorid, pickup_datetime ordered by pickup_datetime) keeps an
        # arbitrary row among exact ties, in the models and in the script alike: with millions of trips some
        # kept rows, and so sums and per-zone figures, can differ between any two runs. Keys and counts cannot.
        figures["outputs_match"] = bool(
            all(v["same_columns"] and v["rows_sparkmodels"] == v["rows_baseline"] for v in o.values())
            and o["trips_data"]["same_trip_keys"] and o["dim_zones"]["rows_differing"] == 0)
        figures["outputs_note"] = ("dedupe ties are broken arbitrarily (same SQL semantics in both), so "
                                   "dim_monthly_zone_revenue rows and trips_data sums may differ slightly")
    finally:
        harness.rmtree(root)
    return figures
