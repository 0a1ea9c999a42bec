"""Spark jobs of one run: a job group (or Connect tag) per step, its metrics, and Ctrl-C cancellation."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from sparkmodels.errors import ExecutionError
from sparkmodels.execute.spark.metrics import StatusReader, StepMetrics, connect_metrics, empty
from sparkmodels.project.manifest import Node


class Jobs:
    """Tags every Spark job of a step with its group, collects the step's metrics, cancels groups."""

    def __init__(self, spark, *, is_connect: bool):
        self._spark = spark
        self.is_connect = is_connect
        self._lock = threading.Lock()
        self._last_write: dict[str, dict] = {}  # job group -> stats of the table it wrote (metrics)
        self._cancelled: set[str] = set()  # job groups cancelled by Ctrl-C
        self._active: set[str] = set()  # job groups of steps inside job_scope now
        self._scope = threading.local()  # the job group of the step running on this thread
        self._status: StatusReader | None = None

    def status_reader(self) -> StatusReader | None:
        """The status-store reader of a classic session (None over Spark Connect or if unreadable)."""
        if self.is_connect:
            return None
        if self._status is None:
            with contextlib.suppress(Exception):
                self._status = StatusReader(self._spark)
        return self._status

    def current_group(self) -> str | None:
        group = getattr(self._scope, "group", None)
        if group is not None:  # set by job_scope on this thread: no round trip to the JVM
            return group
        with contextlib.suppress(Exception):
            if self.is_connect:
                tags = self._spark.getTags()
                return next((t for t in tags if t.startswith("sparkmodels-")), None)
            return self._spark.sparkContext.getLocalProperty("spark.jobGroup.id")
        return None

    def record_write(self, group: str | None, stats: dict) -> None:
        """Keep a write's stats for the metrics of the job scope `group` (files written)."""
        if group:
            with self._lock:
                self._last_write[group] = stats

    @contextlib.contextmanager
    def job_scope(self, group: str, description: str, pool: str | None = None) -> Iterator[StepMetrics]:
        """Tag every Spark job started inside with the model's name (Spark UI, cancellation), run
        them in scheduler pool `pool`, and yield a StepMetrics filled with their metrics on exit."""
        scope = StepMetrics(group, pool)
        with self._lock:
            self._active.add(group)
        if self.is_connect:
            self._spark.addTag(group)
            try:
                yield scope
            finally:
                self._spark.removeTag(group)
                with self._lock:
                    self._active.discard(group)
                scope.values = connect_metrics(group, self._last_write.pop(group, None))
            return
        sc = self._spark.sparkContext
        status = self.status_reader()
        scope.since = status.watermark() if status is not None else 0  # older jobs (a reused name) don't count
        sc.setJobGroup(group, description, interruptOnCancel=True)
        if pool:
            sc.setLocalProperty("spark.scheduler.pool", pool)
        self._scope.group = group
        try:
            yield scope
        finally:
            self._scope.group = None
            sc._jsc.clearJobGroup()  # group, description and interrupt flag in one call
            if pool:
                sc.setLocalProperty("spark.scheduler.pool", None)
            with self._lock:
                self._active.discard(group)
            scope.values = status.collect(group, scope.since) if status is not None else empty("unavailable")
            stats = self._last_write.pop(group, None)
            if stats and stats.get("files") is not None:
                scope.values["files_written"] = stats["files"]

    def check_cancelled(self, group: str | None, node: Node) -> None:
        if group and group in self._cancelled:
            raise ExecutionError("cancelled (Ctrl-C); the table keeps its previous version.",
                                 node=node.name, path=node.path)

    def cancel(self, groups: Iterable[str]) -> None:
        """Cancel the Spark jobs of the given job groups (Ctrl-C); their tables are not published."""
        groups = list(groups)
        with self._lock:
            self._cancelled.update(groups)
        self._cancel_jobs(groups)
        # A step between two Spark calls submits its next job after this cancel: keep cancelling
        # its group until the step has left its job scope.
        threading.Thread(target=self._keep_cancelling, args=(groups,), daemon=True,
                         name="sparkmodels-cancel").start()

    def _cancel_jobs(self, groups) -> None:
        for group in groups:
            with contextlib.suppress(Exception):
                if self.is_connect:
                    self._spark.interruptTag(group)
                else:
                    self._spark.sparkContext.cancelJobGroup(group)

    def _keep_cancelling(self, groups, period: float = 0.5, limit: float = 120.0) -> None:
        import time

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self._lock:
                live = [g for g in groups if g in self._active]
            if not live:
                return
            time.sleep(period)
            self._cancel_jobs(live)
