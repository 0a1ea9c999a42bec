"""Benchmark 4: startup. `sparkmodels --help`, `ls` and `run -s stg_green_tripdata` on the example project.

Compared with a bare `python -c` that only starts and stops a SparkSession configured like the engine's
(`jvm_session`), and with `python -c pass` (the interpreter). `jvm_share_of_run` = jvm_session / run.
"""

from __future__ import annotations

import harness

NAME = "startup"


def run(quick: bool) -> dict:
    repeats = 1 if quick else 3  # --quick checks the benchmark itself (the 5-minute suite)
    root = harness.fresh_dir("startup")
    try:
        project = harness.copy_example(root / "example")
        bare = harness.baseline_session_code("bare session") + "spark.stop()\n"
        env = harness.spark_env()
        samples = harness.interleave({
            "python_pass": lambda: harness.timed([harness.PY, "-c", "pass"]).check("python"),
            "help": lambda: harness.timed(harness.sparkmodels_cmd("--help")).check("--help"),
            "ls_example": lambda: harness.timed(
                harness.sparkmodels_cmd("ls", "--project-dir", str(project))).check("ls"),
            "jvm_session": lambda: harness.timed([harness.PY, "-c", bare], env=env).check("bare session"),
            "run_one_view": lambda: harness.timed(
                harness.sparkmodels_cmd("run", "--project-dir", str(project), "-s", "stg_green_tripdata"),
                env=env).check("run one view"),
        }, repeats)
        figures: dict = {"repeats": repeats}
        for name, s in samples.items():
            figures[name] = harness.summary(s, memory=name in ("help", "ls_example"))
        med = {k: harness.median(harness.walls(v)) for k, v in samples.items()}
        figures["run_one_view_ratio_vs_jvm_session"] = harness.ratio(med["run_one_view"], med["jvm_session"])
        figures["jvm_share_of_run"] = harness.ratio(med["jvm_session"], med["run_one_view"])
        figures["run_minus_jvm_s"] = round(med["run_one_view"] - med["jvm_session"], 3)
        figures["help_minus_python_s"] = round(med["help"] - med["python_pass"], 3)
    finally:
        harness.rmtree(root)
    return figures
