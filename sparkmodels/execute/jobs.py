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
        self._scope = threading.local()  # the job group (and pool) of the step running on this thread
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
    def _tagged(self, group: str, tag: str, description: str, pool: str | None,
                step_description: str | None) -> Iterator[None]:
        """Spark jobs started on this thread inside carry job group `group` (Connect: tag `tag`)
        and run in scheduler pool `pool`; the group counts as active (cancellation) meanwhile.
        `step_description` is what scope_of() reports on this thread."""
        with self._lock:
            self._active.add(group)
        try:
            if self.is_connect:
                self._spark.addTag(tag)
                try:
                    yield
                finally:
                    self._spark.removeTag(tag)
                return
            sc = self._spark.sparkContext
            sc.setJobGroup(group, description, interruptOnCancel=True)
            if pool:
                sc.setLocalProperty("spark.scheduler.pool", pool)
            self._scope.group, self._scope.pool, self._scope.description = group, pool, step_description
            try:
                yield
            finally:
                self._scope.group = self._scope.pool = self._scope.description = None
                sc._jsc.clearJobGroup()  # group, description and interrupt flag in one call
                if pool:
                    sc.setLocalProperty("spark.scheduler.pool", None)
        finally:
            with self._lock:
                self._active.discard(group)

    @contextlib.contextmanager
    def job_scope(self, group: str, description: str, pool: str | None = None) -> Iterator[StepMetrics]:
        """Tag every Spark job started inside with the model's name (Spark UI, cancellation), run
        them in scheduler pool `pool`, and yield a StepMetrics filled with their metrics on exit."""
        scope = StepMetrics(group, pool)
        status = None if self.is_connect else self.status_reader()
        scope.since = status.watermark() if status is not None else 0  # older jobs (a reused name) don't count
        try:
            with self._tagged(group, group, description, pool, description):
                yield scope
        finally:
            stats = self._last_write.pop(group, None)
            if self.is_connect:
                scope.values = connect_metrics(group, stats)
            else:
                scope.values = status.collect(group, scope.since) if status is not None else empty("unavailable")
                if stats and stats.get("files") is not None:
                    scope.values["files_written"] = stats["files"]

    @contextlib.contextmanager
    def part_scope(self, parent: str | None, part: str, pool: str | None = None,
                   description: str | None = None) -> Iterator[str | None]:
        """A part of a step running on another thread (a microbatch batch): its Spark jobs get the
        group `<parent>/<part>`, so the part's own writes are counted apart (rows written), the
        step's metrics include them (StatusReader matches child groups) and Ctrl-C cancelling the
        step cancels them. `pool`/`description`: the step's (read them on the step's thread with
        scope_of()). Over Spark Connect the thread gets the step's tag."""
        if parent is None:
            yield None
            return
        group = f"{parent}/{part}"
        try:
            with self._tagged(group, parent, f"{description or parent} ({part})", pool, description):
                yield group
        finally:
            with self._lock:
                self._last_write.pop(group, None)

    def scope_of(self) -> tuple[str | None, str | None, str | None]:
        """(group, pool, description) of the step running on this thread (for part_scope)."""
        return (self.current_group(), getattr(self._scope, "pool", None),
                getattr(self._scope, "description", None))

    def _is_cancelled(self, group: str) -> bool:
        return any(group == c or group.startswith(c + "/") for c in self._cancelled)

    def check_cancelled(self, group: str | None, node: Node) -> None:
        if group and self._is_cancelled(group):
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
        groups = list(groups)
        with self._lock:  # and the groups of the steps' parts running now (part_scope)
            groups += [a for a in self._active if any(a.startswith(g + "/") for g in groups)]
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
