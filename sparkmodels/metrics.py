"""Per-model Spark metrics read from Spark's own accounting (the driver's status store), never from
extra passes over the data.

A step runs inside Engine.job_scope under a job group; afterwards `collect` reads the jobs of that
group that are new since the step started, and sums their stages' task metrics. Over Spark Connect
the client has no access to the driver's status store: every key is null there except what the
engine knows itself (rows from the write's Observation, files from the version directory).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Stage counters summed per step: (metrics key, StageData accessor).
_STAGE_SUMS = (
    ("tasks", "numTasks"),
    ("failed_tasks", "numFailedTasks"),
    ("rows_written", "outputRecords"),
    ("bytes_written", "outputBytes"),
    ("input_rows", "inputRecords"),
    ("input_bytes", "inputBytes"),
    ("shuffle_read_bytes", "shuffleReadBytes"),
    ("shuffle_write_bytes", "shuffleWriteBytes"),
    ("executor_run_time_ms", "executorRunTime"),
    ("memory_spilled_bytes", "memoryBytesSpilled"),
    ("disk_spilled_bytes", "diskBytesSpilled"),
)
METRIC_KEYS = ("jobs", "stages", *(k for k, _ in _STAGE_SUMS), "files_written", "job_group",
               "scheduler_pool", "job_description", "source")
# The ordering the console summary uses to call a model "heavy".
WEIGHT_KEYS = ("executor_run_time_ms", "bytes_written", "shuffle_write_bytes")


def empty(source: str) -> dict:
    """Every metric unknown (null), marked with where metrics would have come from."""
    out: dict = dict.fromkeys(METRIC_KEYS)
    out["source"] = source
    return out


@dataclass
class StepMetrics:
    """What Engine.job_scope yields: filled with the step's metrics when the scope closes."""

    group: str
    pool: str | None = None
    before: frozenset = frozenset()
    values: dict = field(default_factory=dict)


def job_ids(spark, group: str) -> frozenset:
    """Ids of all jobs the driver remembers for a job group (classic sessions only)."""
    with contextlib.suppress(Exception):
        return frozenset(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
    return frozenset()


def _opt(value):
    """A Scala Option through py4j as a Python value."""
    with contextlib.suppress(Exception):
        return value.get() if value.isDefined() else None
    return value


def _seq(value) -> list:
    with contextlib.suppress(Exception):
        return [value.apply(i) for i in range(value.size())]
    return []


def collect(spark, group: str, before: Iterable[int] = ()) -> dict:
    """Sum the metrics of the job group's jobs that started after `before` was taken."""
    out = empty("spark-status-store")
    out["job_group"] = group
    try:
        jsc = spark.sparkContext._jsc.sc()
        # The status store is fed asynchronously by the listener bus: let it catch up first.
        try:
            jsc.listenerBus().waitUntilEmpty(10_000)
        except Exception:  # noqa: BLE001 - older signature, or a timeout: read what is there
            with contextlib.suppress(Exception):
                jsc.listenerBus().waitUntilEmpty()
        store = jsc.statusStore()
        new = sorted(set(job_ids(spark, group)) - set(before))
    except Exception:  # noqa: BLE001 - metrics are best effort, never fail a model
        out["source"] = "unavailable"
        return out
    sums = dict.fromkeys((k for k, _ in _STAGE_SUMS), 0)
    stages, pools, descriptions = set(), set(), []
    for job_id in new:
        try:
            job = store.job(job_id)
        except Exception:  # noqa: BLE001 - evicted (spark.ui.retainedJobs) or not recorded yet
            continue
        desc = _opt(job.description())
        if desc and desc not in descriptions:
            descriptions.append(desc)
        for stage_id in _seq(job.stageIds()):
            if stage_id in stages:
                continue
            try:
                stage = store.lastStageAttempt(stage_id)
            except Exception:  # noqa: BLE001
                continue
            if str(stage.status()) == "SKIPPED":  # reused shuffle output: it did no work for this job
                continue
            stages.add(stage_id)
            pools.add(str(stage.schedulingPool()))
            for key, accessor in _STAGE_SUMS:
                sums[key] += int(getattr(stage, accessor)())
    out.update(sums)
    out["jobs"] = len(new)
    out["stages"] = len(stages)
    out["scheduler_pool"] = ", ".join(sorted(pools)) or None
    out["job_description"] = "; ".join(descriptions) or None
    return out


def connect_metrics(group: str, write_stats: Mapping | None = None) -> dict:
    """What a Spark Connect client can know: the write's own stats; the rest stays null."""
    out = empty("spark-connect")
    out["job_group"] = group
    if write_stats:
        out["rows_written"] = write_stats.get("rows")
        out["files_written"] = write_stats.get("files")
    return out


def heaviest(results, n: int = 3) -> list[tuple[str, dict]]:
    """The n results with the largest Spark work (executor time, then bytes written)."""
    scored = []
    for r in results:
        m = (getattr(r, "extra", None) or {}).get("spark_metrics")
        if not isinstance(m, Mapping):
            continue
        weight = tuple(m.get(k) or 0 for k in WEIGHT_KEYS)
        if any(weight):
            scored.append((weight, r.name, dict(m)))
    scored.sort(key=lambda t: t[0], reverse=True)
    return [(name, m) for _, name, m in scored[:n]]


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
