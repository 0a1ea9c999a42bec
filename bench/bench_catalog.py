"""Benchmark: what `catalog: hive` costs. 200 table models built with metastore registration on vs off.

One project of N trivial Parquet table models (200; 20 in --quick) with two targets that differ only in
`catalog:` (each with its own warehouse, so the embedded Derby metastore of `hive` sits under its own
warehouse). Every figure is one `sparkmodels run` subprocess (JVM start included); the two targets run
interleaved (off, hive, off, hive, ...), so their ratio compares runs made under the same load:

  rebuild      `run --full-refresh` over an existing warehouse and metastore: every table written again
               and, with the catalog on, re-registered (the steady state of a project's builds)
  first_build  `run` into an empty warehouse (and a new metastore: Derby creates its schema)

Target: rebuild ratio (hive / off, medians) <= 1.15. The first build's ratio is printed beside it. Both
sides map their class archive (a Hive-enabled driver has its own, made before timing).
SMBENCH_CATALOG_REPEATS sets the interleaved pairs (default 3; --quick 1).
"""

from __future__ import annotations

import os
from pathlib import Path

import gen_project
import harness

NAME = "catalog"
TARGET_RATIO = 1.15
VARIANTS = ("off", "hive")


def generate(n_models: int, out: Path) -> Path:
    """generate_trivial's table project with two targets: `off` (no catalog) and `hive`."""
    root = gen_project.generate_trivial(n_models, out, "table")
    text = (root / "project.yml").read_text(encoding="utf-8")
    targets = (
        "target: off\n"
        "targets:\n"
        "  off:\n    schema: bench\n    warehouse: warehouse_off\n"
        "  hive:\n    schema: bench\n    warehouse: warehouse_hive\n    catalog: hive\n"
    )
    (root / "project.yml").write_text(text + targets, encoding="utf-8")
    return root


def ensure_hive_archive(project: Path, timeout_s: float = 300) -> bool:
    """A Hive-enabled driver maps a class archive of its own (jvm_cds.py), which its first runs on a
    machine dump and publish: make it before timing, as run.py does for the catalog-free one."""
    import time

    from sparkmodels.execute.spark import jvm_cds

    conf = {"spark.sql.catalogImplementation": "hive"}
    deadline = time.time() + timeout_s
    while not jvm_cds.mapping_options(conf) and time.time() < deadline:
        _run(project, "hive")
        time.sleep(5)
    return bool(jvm_cds.mapping_options(conf))


def _run(project: Path, target: str, *extra: str) -> harness.Sample:
    return harness.timed(harness.sparkmodels_cmd("run", "--project-dir", str(project), "-t", target, *extra),
                         env=harness.spark_env()).check(f"sparkmodels run -t {target}")


def _registered(project: Path) -> int:
    """Tables the hive target's metastore names, counted by a separate process (after the runs)."""
    wh = project / "warehouse_hive"
    code = (
        "import sys\nfrom pyspark.sql import SparkSession\n"
        "spark = (SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')\n"
        "    .config('spark.sql.catalogImplementation', 'hive')\n"
        f"    .config('spark.hadoop.javax.jdo.option.ConnectionURL', 'jdbc:derby:;databaseName={wh}/.metastore/"
        "metastore_db;create=false')\n"
        f"    .config('spark.sql.warehouse.dir', '{wh}/.spark-warehouse').getOrCreate())\n"
        "print('TABLES', len(spark.catalog.listTables('bench')))\n"
    )
    sample = harness.timed([harness.PY, "-c", code], cwd=project, env=harness.spark_env()).check("metastore reader")
    line = next((x for x in sample.stdout.splitlines() if x.startswith("TABLES ")), "TABLES -1")
    return int(line.split()[1])


def _figures(samples: dict, n: int) -> dict:
    a = harness.median(harness.walls(samples["hive"]))
    b = harness.median(harness.walls(samples["off"]))
    return {
        "catalog_off": harness.summary(samples["off"], memory=True),
        "catalog_hive": harness.summary(samples["hive"], memory=True),
        "ratio": harness.ratio(a, b),
        "ratio_fastest": harness.min_ratio(samples["hive"], samples["off"]),
        # each pair ran back to back, under about the same load
        "pair_ratios": [harness.ratio(h, o) for h, o in zip(harness.walls(samples["hive"]),
                                                               harness.walls(samples["off"]), strict=True)],
        "registration_ms_per_model": round((a - b) / n * 1000, 1),
    }


def run(quick: bool) -> dict:
    n = 20 if quick else 200
    repeats = 1 if quick else int(os.environ.get("SMBENCH_CATALOG_REPEATS", "3"))
    root = harness.fresh_dir("catalog")
    figures: dict = {"models": n, "repeats": repeats}
    try:
        warm = generate(2, root / "warm")
        # (--quick figures only prove the benchmark works: no waiting for the archive there)
        figures["hive_class_archive"] = ensure_hive_archive(warm) if not quick else None
        project = generate(n, root / "p")
        warehouse = {v: project / f"warehouse_{v}" for v in VARIANTS}

        # first builds: each side from an empty warehouse (the hive side's metastore with it)
        first = harness.interleave({v: (lambda v=v: _run(project, v)) for v in VARIANTS}, repeats,
                                   before_each=lambda v: harness.rmtree(warehouse[v]))
        # rebuilds over the last first build's warehouse and metastore
        rebuild = harness.interleave({v: (lambda v=v: _run(project, v, "--full-refresh")) for v in VARIANTS},
                                     repeats)
        figures["rebuild"] = _figures(rebuild, n)
        figures["first_build"] = _figures(first, n)
        registered = _registered(project)
        assert registered == n, f"the metastore names {registered} tables, expected {n}"
        figures["tables_registered"] = registered
        figures["target_ratio"] = TARGET_RATIO
        figures["met"] = bool(figures["rebuild"]["ratio"] <= TARGET_RATIO)
    finally:
        harness.rmtree(root)
    return figures
