"""Shared benchmark helpers: timed subprocesses with per-child peak memory, interleaved A/B runs, medians.

Benchmark modules (bench/bench_*.py) import this as `import harness` (run.py puts bench/ on sys.path).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
LOG4J = REPO / "sparkmodels" / "include" / "log4j2.properties"
PY = sys.executable


@dataclass(frozen=True)
class Sample:
    """One finished subprocess: wall seconds, its own peak RSS (MiB), exit code and output tails."""

    wall: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str
    java_seen: bool = False
    cpu_s: float = 0.0  # user + system CPU of the child (not of a JVM it started): robust to a busy machine

    def check(self, what: str) -> Sample:
        if self.returncode != 0:
            raise RuntimeError(f"{what} exited with {self.returncode}:\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}")
        return self


def sparkmodels_cmd(*args: str) -> list[str]:
    """The installed CLI, through this interpreter (no dependence on PATH shims)."""
    return [PY, "-m", "sparkmodels", *args]


def descendants_named(pid: int, name: str) -> list[int]:
    """Live descendants of pid whose command name is `name` (Linux /proc)."""
    parent: dict[int, int] = {}
    comm: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        head, _, rest = text.rpartition(")")
        child = int(stat.parent.name)
        comm[child] = head.partition("(")[2]
        parent[child] = int(rest.split()[1])
    found = []
    for child, cname in comm.items():
        if cname != name:
            continue
        p = parent.get(child)
        while p and p != pid:
            p = parent.get(p)
        if p == pid:
            found.append(child)
    return found


def timed(cmd: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
          timeout: float = 3600, watch_java: bool = False) -> Sample:
    """Run cmd to completion; wall time and the child's own ru_maxrss (os.wait4, not the cumulative max).

    watch_java=True scans /proc every 20 ms for a `java` descendant (slower; for probes, not timings).
    """
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=full_env, stdout=out, stderr=err)
        deadline = t0 + timeout
        java_seen = False
        while True:
            if watch_java and not java_seen:
                java_seen = bool(descendants_named(proc.pid, "java"))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02 if watch_java else 0.005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Sample(wall, usage.ru_maxrss / 1024.0, proc.returncode,
                      out.read().decode(errors="replace"), err.read().decode(errors="replace"), java_seen,
                      usage.ru_utime + usage.ru_stime)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interleave(variants: Mapping[str, Callable[[], Sample | float]], repeats: int,
               before_each: Callable[[str], None] | None = None) -> dict[str, list]:
    """Run A B C A B C ... `repeats` times; returns {name: [Sample|seconds, ...]}."""
    out: dict[str, list] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            if before_each:
                before_each(name)
            out[name].append(fn())
    return out


def walls(samples: Sequence[Sample | float]) -> list[float]:
    return [s.wall if isinstance(s, Sample) else float(s) for s in samples]


def summary(samples: Sequence[Sample | float], *, memory: bool = False) -> dict:
    """Median wall (s) and all runs; with memory=True also the peak RSS (MiB) and the Python CPU seconds.

    CPU seconds count only the Python process (a JVM child is not waited for), so they are given for
    the JVM-free commands, where they are the figure least disturbed by other load on the machine.
    """
    w = walls(samples)
    d = {"median_s": round(median(w), 3), "runs_s": [round(x, 3) for x in w]}
    if memory:
        mem = [s.peak_mib for s in samples if isinstance(s, Sample)]
        d["peak_mib_max"] = round(max(mem), 1) if mem else None
        d["cpu_median_s"] = round(median([s.cpu_s for s in samples if isinstance(s, Sample)]), 3)
    return d


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def min_ratio(a: Sequence[Sample | float], b: Sequence[Sample | float]) -> float:
    """Ratio of the fastest runs: noise on a shared machine only adds time."""
    return ratio(min(walls(a)), min(walls(b)))


def fresh_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"smbench-{prefix}-"))


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def spark_env() -> dict[str, str]:
    """Python workers use this interpreter, as sparkmodels' engine arranges."""
    return {"PYSPARK_PYTHON": PY, "PYSPARK_DRIVER_PYTHON": PY}


def class_archive_options() -> str:
    """The JVM options that map sparkmodels' class-data-sharing archive, once one exists ("" before).

    Hand-written baselines start their JVM with them too, so a comparison measures the framework's
    own work, not the archive (which any PySpark job could use; see sparkmodels/jvm_cds.py).
    """
    from sparkmodels.execute.spark import jvm_cds

    return jvm_cds.mapping_options({})


def ensure_class_archive(timeout_s: float = 300) -> bool:
    """Make sure the archive exists before timing anything: a tiny run dumps it, a second publishes it."""
    if class_archive_options():
        return True
    root = fresh_dir("cds")
    try:
        (root / "models").mkdir()
        (root / "project.yml").write_text("name: cds\nversion: '1'\n")
        (root / "models" / "one.sql").write_text("{{ config(materialized='table') }}\nselect 1 as id\n")
        deadline = time.time() + timeout_s
        while time.time() < deadline and not class_archive_options():
            timed(sparkmodels_cmd("run", "--project-dir", str(root)), env=spark_env()).check("class archive run")
            time.sleep(5)
    finally:
        rmtree(root)
    return bool(class_archive_options())


def baseline_session_code(app: str) -> str:
    """Python source that starts a SparkSession configured like sparkmodels' local engine."""
    opts = f"-Dlog4j2.configurationFile={LOG4J} {class_archive_options()}".strip()
    return (
        "from pyspark.sql import SparkSession\n"
        f"spark = (SparkSession.builder.master('local[*]').appName({app!r})\n"
        "    .config('spark.ui.showConsoleProgress', 'false')\n"
        f"    .config('spark.driver.extraJavaOptions', {opts!r})\n"
        "    .getOrCreate())\n"
    )


def copy_example(dest: Path, *, data: Path | None = None) -> Path:
    """A private copy of the repository's example project: project.yml and every folder it names.

    data=None copies the sample data/; otherwise data/ is a symlink to that folder.
    """
    import yaml

    project = yaml.safe_load((REPO / "project.yml").read_text(encoding="utf-8")) or {}
    folders = {"models", "seeds", "macros", "udfs"}
    for key, value in project.items():
        if key.endswith("-paths"):
            folders.update([value] if isinstance(value, str) else value or [])
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "project.yml", dest / "project.yml")
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for folder in sorted(folders):
        if (REPO / folder).is_dir() and folder not in ("data", "target", "warehouse"):
            shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    if data is None:
        shutil.copytree(REPO / "data", dest / "data")
    else:
        (dest / "data").symlink_to(data, target_is_directory=True)
    return dest
