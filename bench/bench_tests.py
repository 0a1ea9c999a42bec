"""Benchmark: `sparkmodels test` with shared scans vs the same data tests run one query each.

A Parquet table of 3M rows (100k with --quick) carries 20 column tests (not_null, unique,
accepted_values, some with `where`). Variants, interleaved in one SparkSession (JVM start excluded
from both): `sparkmodels.test` (shared scan per relation) and a plain loop running each test's
compiled SQL wrapped in count(*) — the cheapest possible one-query-per-test. Also reported:
`sparkmodels.test` with the shared scan switched off. Target: ratio >= 3.
"""

from __future__ import annotations

import time

import harness

NAME = "tests"
TARGET_RATIO = 3.0

SCHEMA = """\
version: 2
models:
  - name: big
    columns:
      - name: id
        data_tests: [not_null, unique]
      - name: key2
        data_tests: [not_null, unique]
      - name: c1
        data_tests:
          - not_null
          - not_null: {name: c1_not_null_recent, config: {where: "id > 100"}}
{plain}
      - name: cat1
        data_tests:
          - accepted_values: {values: [a, b, c, d, e]}
          - accepted_values: {name: cat1_when_cat2_high, values: [a, b, c, d], config: {where: "cat2 > 2"}}
      - name: cat2
        data_tests:
          - not_null
          - accepted_values: {values: [1, 2, 3, 4, 5], quote: false}
      - name: status
        data_tests:
          - not_null
          - accepted_values: {values: [active, inactive]}
      - name: flag
        data_tests:
          - accepted_values: {values: ["Y", "N"], config: {severity: warn}}
"""


def make_project(root, rows: int, spark):
    from pyspark.sql import functions as F

    plain = "\n".join(f"      - name: c{i}\n        data_tests: [not_null]" for i in range(2, 9))
    (root / "models").mkdir(parents=True)
    (root / "project.yml").write_text("name: bench\nversion: '1'\n")
    (root / "models" / "big.sql").write_text("{{ config(materialized='table') }}\nselect 1 as id\n")
    schema = SCHEMA.replace("{plain}", plain)
    (root / "models" / "schema.yml").write_text(schema)
    df = spark.range(rows).select(
        F.col("id"),
        F.concat(F.lit("k"), F.col("id").cast("string")).alias("key2"),
        *[F.when(F.col("id") % (97 + i) == 0, None).otherwise(F.col("id") * i).alias(f"c{i}") for i in range(1, 9)],
        F.element_at(F.array(*[F.lit(x) for x in "abcde"]), (F.col("id") % 5 + 1).cast("int")).alias("cat1"),
        (F.col("id") % 5 + 1).cast("int").alias("cat2"),
        F.when(F.col("id") % 3 == 0, "inactive").otherwise("active").alias("status"),
        F.when(F.col("id") % 1000 == 0, "?").when(F.col("id") % 2 == 0, "Y").otherwise("N").alias("flag"),
    )
    df.write.parquet(str(root / "warehouse" / "bench" / "big"))
    return root


def _session():
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[*]").appName("bench tests")
            .config("spark.ui.showConsoleProgress", "false").getOrCreate())


def run(quick: bool) -> dict:
    import sparkmodels
    from sparkmodels.execute.checks import batch
    from sparkmodels.execute.checks.batch import count_query

    rows = 100_000 if quick else 3_000_000
    repeats = 1 if quick else 3  # --quick checks the benchmark itself (the 5-minute suite)
    root = harness.fresh_dir("tests")
    spark = _session()
    try:
        project = make_project(root / "p", rows, spark)
        loaded = sparkmodels.load_project(project)
        tests = [n for n in loaded.manifest.of_type("test")]
        sqls = [loaded.compiler.compile(n.unique_id).sql for n in tests]
        spark.read.parquet(str(project / "warehouse" / "bench" / "big")).createOrReplaceTempView("big")
        counts: dict[str, dict] = {}

        def shared() -> float:
            t0 = time.perf_counter()
            result = sparkmodels.test(project, spark=spark)
            counts["shared"] = {r.name: r.failures for r in result.results}
            return time.perf_counter() - t0

        def one_query_each() -> float:
            t0 = time.perf_counter()
            counts["each"] = {n.name: spark.sql(count_query(sql)).collect()[0][0] for n, sql in zip(tests, sqls, strict=True)}
            return time.perf_counter() - t0

        def framework_unshared() -> float:
            original = batch.is_batchable
            batch.is_batchable = lambda *args, **kwargs: False
            try:
                return shared()
            finally:
                batch.is_batchable = original

        variants = {"shared_scan": shared, "one_query_each": one_query_each,
                    "sparkmodels_without_sharing": framework_unshared}
        for fn in variants.values() if not quick else ():  # warm-up: JIT, file listing caches
            fn()
        samples = harness.interleave(variants, repeats)
        assert counts["shared"] == counts["each"], "shared-scan counts differ from per-test SQL"
        shared_s = harness.median(samples["shared_scan"])
        each_s = harness.median(samples["one_query_each"])
        figures = {
            "rows": rows, "tests": len(tests), "repeats": repeats,
            "shared_scan": harness.summary(samples["shared_scan"]),
            "one_query_each": harness.summary(samples["one_query_each"]),
            "sparkmodels_without_sharing": harness.summary(samples["sparkmodels_without_sharing"]),
            "ratio_one_query_each_over_shared": harness.ratio(each_s, shared_s),
            "target_ratio": TARGET_RATIO,
            "failures_found": {k: v for k, v in counts["shared"].items() if v},
        }
        figures["meets_target"] = figures["ratio_one_query_each_over_shared"] >= TARGET_RATIO
        print(f"bench tests: {len(tests)} tests on {rows:,} rows: shared scan {shared_s:.2f}s, "
              f"one query each {each_s:.2f}s -> {figures['ratio_one_query_each_over_shared']}x")
        return figures
    finally:
        spark.stop()
        harness.rmtree(root)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))
