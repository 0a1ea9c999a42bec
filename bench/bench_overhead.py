"""Benchmark 2: per-model overhead of `sparkmodels run` vs a plain PySpark script running the same SQL.

N trivial models (200; 20 in --quick), once all views and once all Parquet tables (--quick: tables only). The baseline is one
PySpark process that starts a session configured like sparkmodels' engine and, for each statement from
target/compiled (after `sparkmodels compile`), does createOrReplaceTempView (views) or df.write.parquet
(tables). Both include JVM start. Target: ratio <= 1.10; `framework_ms_per_model` = (A - B) / N.
"""

from __future__ import annotations

import json

import gen_project
import harness

NAME = "overhead"
TARGET_RATIO = 1.10

BASELINE = """\
import json, sys
statements = json.load(open(sys.argv[1]))
mode, out = sys.argv[2], sys.argv[3]
{session}
for name, sql in statements:
    df = spark.sql(sql)
    if mode == "view":
        df.createOrReplaceTempView(name)
    else:
        df.write.mode("overwrite").parquet(out + "/" + name)
spark.stop()
"""


def compiled_statements(project) -> list[tuple[str, str]]:
    """(model name, compiled SQL) in file order, read from target/compiled after `sparkmodels compile`."""
    harness.timed(harness.sparkmodels_cmd("compile", "--project-dir", str(project))).check("compile")
    base = project / "target" / "compiled" / gen_project.PROJECT / "models"
    files = sorted(base.glob("*.sql"))
    return [(f.stem, f.read_text(encoding="utf-8")) for f in files]


def run(quick: bool) -> dict:
    n = 20 if quick else 200  # --quick checks the benchmark itself (the 5-minute suite)
    repeats = 1 if quick else 2
    root = harness.fresh_dir("overhead")
    script = root / "baseline.py"
    script.write_text(BASELINE.format(session=harness.baseline_session_code("baseline overhead")))
    figures: dict = {"models": n, "repeats": repeats}
    try:
        # --quick checks the benchmark itself (the 5-minute suite): the table loop only (views share its code)
        for mode in ("table",) if quick else ("view", "table"):
            project = gen_project.generate_trivial(n, root / f"p_{mode}", mode)
            statements = compiled_statements(project)
            assert len(statements) == n, f"expected {n} compiled models, found {len(statements)}"
            stmts_file = root / f"statements_{mode}.json"
            stmts_file.write_text(json.dumps(statements))
            out_dir = root / f"baseline_out_{mode}"

            def clean(name, project=project, out_dir=out_dir):
                # Each side starts from an empty output; the other side's output stays for the checks below.
                harness.rmtree(project / "warehouse" if name == "sparkmodels_run" else out_dir)

            samples = harness.interleave({
                "sparkmodels_run": lambda project=project: harness.timed(
                    harness.sparkmodels_cmd("run", "--project-dir", str(project)),
                    env=harness.spark_env()).check("sparkmodels run"),
                "pyspark_script": lambda stmts_file=stmts_file, out_dir=out_dir, mode=mode: harness.timed(
                    [harness.PY, str(script), str(stmts_file), mode, str(out_dir)],
                    env=harness.spark_env()).check("baseline script"),
            }, repeats, before_each=clean)
            a = harness.median(harness.walls(samples["sparkmodels_run"]))
            b = harness.median(harness.walls(samples["pyspark_script"]))
            if mode == "table":
                built = list((project / "warehouse").rglob("m_*"))
                assert len([p for p in built if p.is_symlink()]) == n, "sparkmodels did not build every table"
            figures[mode] = {
                # memory=True adds the Python driver's own CPU seconds: the figure least moved by load
                "sparkmodels_run": harness.summary(samples["sparkmodels_run"], memory=True),
                "pyspark_script": harness.summary(samples["pyspark_script"], memory=True),
                "ratio": harness.ratio(a, b),
                "ratio_fastest": harness.min_ratio(samples["sparkmodels_run"], samples["pyspark_script"]),
                "framework_ms_per_model": round((a - b) / n * 1000, 1),
                "target_ratio": TARGET_RATIO,
                "met": bool(a / b <= TARGET_RATIO),
            }
    finally:
        harness.rmtree(root)
    return figures
