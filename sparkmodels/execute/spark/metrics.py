"""Per-model Spark metrics read from Spark's own accounting (the driver's status store), never from
extra passes over the data.

A step runs inside Engine.job_scope under a job group. The scope notes the DAG scheduler's job counter
when it opens (a watermark); afterwards StatusReader.collect reads the jobs submitted since then that
belong to the step's group, and sums their stages' task metrics. The same reader gives the engine the
rows a table write produced (the write stage's outputRecords), so no Observation is needed on a
classic session. Every py4j round trip costs ~0.2 ms idle and several ms on a loaded driver, so the
reader asks little: one call for the watermark, two per job and two per stage (Spark's REST JSON
serializer instead of a dozen accessors), and it never waits on the listener bus unless a job it
needs is not recorded yet. Over Spark Connect the client has no access to the driver's status store:
every key is null there except what the engine knows itself (rows from the write's Observation,
files from the version directory).
"""

from __future__ import annotations

import contextlib
import json
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

# Stage counters summed per step: (metrics key, StageData field).
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
_FINISHED = ("SUCCEEDED", "FAILED")


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
    since: int = 0  # the job counter when the scope opened: the step's jobs have ids >= since
    values: dict = field(default_factory=dict)


def _opt(value):
    """A Scala Option through py4j as a Python value."""
    with contextlib.suppress(Exception):
        return value.get() if value.isDefined() else None
    return value


def _seq(value) -> list:
    with contextlib.suppress(Exception):
        return [value.apply(i) for i in range(value.size())]
    return []


class StatusReader:
    """The driver's job counter and status store, read with as few py4j calls as possible (classic only).

    Finished jobs and completed stages never change again, so they are parsed once and kept: the rows
    a write reports and the step's metrics at scope exit then cost no second lookup.
    """

    def __init__(self, spark):
        jsc = spark.sparkContext._jsc.sc()
        self._dag = jsc.dagScheduler()
        self._store = jsc.statusStore()
        self._bus = jsc.listenerBus()
        self._json = _mapper(spark.sparkContext)
        self._jobs: dict[int, dict] = {}  # finished jobs by id
        self._stages: dict[int, dict] = {}  # completed or skipped stages by id
        self._lock = threading.Lock()

    def watermark(self) -> int:
        """How many jobs the scheduler has been asked to run so far (the next job's id)."""
        return int(self._dag.numTotalJobs())

    # -- raw reads -------------------------------------------------------------------------------
    def _read_job(self, job_id: int) -> dict | None:
        try:
            job = self._store.job(job_id)
        except Exception:  # noqa: BLE001 - not recorded yet (listener behind), never started, or evicted
            return None
        if self._json is not None:
            data = json.loads(self._json.writeValueAsString(job))
            return {"group": data.get("jobGroup"), "status": data.get("status"),
                    "description": data.get("description"), "stages": list(data.get("stageIds") or ())}
        return {"group": _opt(job.jobGroup()), "status": str(job.status()), "description": _opt(job.description()),
                "stages": [int(s) for s in _seq(job.stageIds())]}

    def _read_stage(self, stage_id: int) -> dict | None:
        try:
            stage = self._store.lastStageAttempt(stage_id)
        except Exception:  # noqa: BLE001
            return None
        if self._json is not None:
            data = json.loads(self._json.writeValueAsString(stage))
            out = {key: int(data.get(name) or 0) for key, name in _STAGE_SUMS}
            out["status"], out["pool"] = str(data.get("status")), str(data.get("schedulingPool"))
            return out
        out = {key: int(getattr(stage, name)()) for key, name in _STAGE_SUMS}
        out["status"], out["pool"] = str(stage.status()), str(stage.schedulingPool())
        return out

    def _job(self, job_id: int) -> dict | None:
        with self._lock:
            known = self._jobs.get(job_id)
        if known is not None:
            return known
        data = self._read_job(job_id)
        if data is not None and data["status"] in _FINISHED:
            with self._lock:
                self._jobs[job_id] = data
        return data

    def _stage(self, stage_id: int) -> dict | None:
        with self._lock:
            known = self._stages.get(stage_id)
        if known is not None:
            return known
        data = self._read_stage(stage_id)
        if data is not None and data["status"] in ("COMPLETE", "SKIPPED", "FAILED"):
            with self._lock:
                self._stages[stage_id] = data
        return data

    def _drain(self) -> None:
        """Let the listener bus deliver what is queued (it sleeps in 10 ms steps: only when needed)."""
        try:
            self._bus.waitUntilEmpty(10_000)
        except Exception:  # noqa: BLE001 - older signature, or a timeout: read what is there
            with contextlib.suppress(Exception):
                self._bus.waitUntilEmpty()

    # -- a step's jobs ---------------------------------------------------------------------------
    def jobs(self, group: str | None, since: int, until: int | None = None) -> list[dict]:
        """The finished jobs with ids in [since, until) of `group` (None: jobs without a group).

        Every job of that range was submitted before this call, so its start and end events are
        already on the bus; a job not recorded as finished yet only needs the bus drained once.
        """
        until = self.watermark() if until is None else until
        out: list[dict] = []
        drained = False
        for job_id in range(since, until):
            data = self._job(job_id)
            pending = data is None or (_of(data["group"], group) and data["status"] not in _FINISHED)
            if pending and not drained:
                self._drain()
                drained = True
                data = self._job(job_id)
            if data is not None and _of(data["group"], group):
                out.append(data)  # a job missing even now failed before it started: nothing to count
        return out

    def collect(self, group: str | None, since: int, until: int | None = None) -> dict:
        """The step's metrics: sums over the stages of its jobs in [since, until)."""
        out = empty("spark-status-store")
        out["job_group"] = group
        try:
            jobs = self.jobs(group, since, until)
            sums = dict.fromkeys((k for k, _ in _STAGE_SUMS), 0)
            stages, pools, descriptions = set(), set(), []
            for job in jobs:
                desc = job["description"]
                if desc and desc not in descriptions:
                    descriptions.append(desc)
                for stage_id in job["stages"]:
                    if stage_id in stages:
                        continue
                    stage = self._stage(stage_id)
                    if stage is None or stage["status"] == "SKIPPED":  # reused shuffle output: no work here
                        continue
                    stages.add(stage_id)
                    pools.add(stage["pool"])
                    for key, _ in _STAGE_SUMS:
                        sums[key] += stage[key]
        except Exception:  # noqa: BLE001 - metrics are best effort, never fail a model
            out["source"] = "unavailable"
            return out
        out.update(sums)
        out["jobs"] = len(jobs)
        out["stages"] = len(stages)
        out["scheduler_pool"] = ", ".join(sorted(pools)) or None
        out["job_description"] = "; ".join(descriptions) or None
        return out


# SparkContext -> the REST API's JSON mapper. A new mapper builds its serializers by reflection on
# first use (11-18 ms for a stage, measured), a warm one writes a stage in ~0.4 ms: so a mapper lives
# as long as its context, not as long as one run's reader (a notebook or a bench runs many runs).
_MAPPERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MAPPERS_LOCK = threading.Lock()


def _mapper(sc):
    """The REST API's own mapper (Scala module, Options as values) of this context; None if unreadable."""
    with _MAPPERS_LOCK:
        known = _MAPPERS.get(sc)
        if known is None:
            with contextlib.suppress(Exception):
                known = sc._jvm.org.apache.spark.status.api.v1.JacksonMessageWriter().mapper()
                _MAPPERS[sc] = known
        return known


def _of(job_group: str | None, group: str | None) -> bool:
    """A job belongs to a group when it has that group or a part's group under it (`<group>/<part>`)."""
    return job_group == group or (group is not None and (job_group or "").startswith(group + "/"))


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
