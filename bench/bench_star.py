"""Run-time rendering cost: a project whose every model uses dbt_utils.star vs the same with the columns written out.

    python bench/bench_star.py [--models 200] [--repeats 3] [--materialized view|table]

Two generated projects of N models over one seed-like base table: in `star`, every model selects
`{{ dbt_utils.star(ref('base')) }}` (rendered again at run time: one get_columns_in_relation per
model), in `hand` the same columns are written out (the load-time path). Both are built with
`sparkmodels.run` in one local SparkSession (so JVM start-up is not part of either), interleaved
(hand, star, hand, star...), each build after a fresh target/ and warehouse. The target: the star
project builds within 1.2x of the hand-written one (ratio of medians). Needs dbt-utils checked out
at ../shared/peers/dbt-utils (the package is copied into each project).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.2
COLUMNS = ["id", "name", "amount", "created_at", "flag", "category", "score", "note"]
BASE = ("{{ config(materialized='table') }}\nselect id, concat('n', id) as name, id * 1.5 as amount,\n"
        "  timestamp'2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, id) as created_at, id % 2 = 0 as flag,\n"
        "  concat('c', id % 7) as category, cast(id % 100 as double) as score, 'x' as note\n"
        "from range(1000)\n")


def generate(root: Path, n_models: int, star: bool, peer: Path, materialized: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(f"name: bench_star\nversion: '1'\nmodels:\n  bench_star:\n"
                                          f"    +materialized: {materialized}\n")
    shutil.copytree(peer, root / "dbt_packages" / "dbt_utils",
                    ignore=shutil.ignore_patterns("integration_tests", ".git", "docs"))
    (root / "models" / "base.sql").write_text(BASE)
    columns = "{{ dbt_utils.star(ref('base')) }}" if star else ", ".join(f"`{c}`" for c in COLUMNS)
    for i in range(n_models):
        (root / "models" / f"m_{i:04d}.sql").write_text(
            f"select {columns}, {i} as model_no\nfrom {{{{ ref('base') }}}}\nwhere id % {n_models} = {i}\n")
    return root


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--materialized", default="view", choices=("view", "table"))
    parser.add_argument("--peer", type=Path, default=REPO.parent / "shared" / "peers" / "dbt-utils")
    args = parser.parse_args(argv)
    peer = args.peer if args.peer.is_dir() else Path("/work/shared/peers/dbt-utils")
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    from pyspark.sql import SparkSession

    import sparkmodels

    spark = (SparkSession.builder.master("local[2]").appName("bench_star").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    work = Path(tempfile.mkdtemp(prefix="sm_bench_star_"))
    times: dict[str, list[float]] = {"hand": [], "star": []}
    try:
        projects = {kind: generate(work / kind, args.models, kind == "star", peer, args.materialized)
                    for kind in times}
        for root in projects.values():  # warm-up: JIT, first Parquet write, checked results
            result = sparkmodels.run(root, spark=spark)
            assert result.success, [r.message for r in result.results if r.status != "success"]
        for _ in range(args.repeats):
            for kind, root in projects.items():
                for leftover in ("target", "warehouse"):
                    shutil.rmtree(root / leftover, ignore_errors=True)
                t0 = time.perf_counter()
                assert sparkmodels.run(root, spark=spark).success
                times[kind].append(time.perf_counter() - t0)
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    hand, star = statistics.median(times["hand"]), statistics.median(times["star"])
    ratio = star / hand
    print(json.dumps({"models": args.models, "materialized": args.materialized, "hand_s": times["hand"],
                      "star_s": times["star"], "hand_median_s": round(hand, 2), "star_median_s": round(star, 2),
                      "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO, "ok": ratio <= TARGET_RATIO}, indent=2))
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
