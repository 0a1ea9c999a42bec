"""The Spark engine: the only owner of the SparkSession (start, relations, atomic writes, cancellation)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from sparkmodels.errors import ExecutionError
from sparkmodels.execute.spark.metrics import StatusReader, StepMetrics, connect_metrics, empty
from sparkmodels.execute.spark.session import build_session, is_connect_session, quiet_pyspark_loggers
from sparkmodels.execute.storage import TableStore, Warehouse, open_warehouse
from sparkmodels.plan.compiler import relation_name, source_view_name
from sparkmodels.project.config import Target
from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Node


class Engine:
    """One run's view of Spark: registers relations once, writes tables atomically, cancels jobs."""

    def __init__(self, target: Target, spark=None, *, project_root: Path | None = None,
                 app_name: str = "sparkmodels", owns_session: bool = False, kinds: Kinds = BUILTIN):
        self.target = target
        self.kinds = kinds  # what each materialisation is: which relations live only in the session
        self.project_root = Path(project_root or ".").resolve()
        # An unsupported URI (or Connect with a Hadoop warehouse) fails here, before Spark starts.
        self.storage: Warehouse = open_warehouse(target.warehouse, target.warehouse_storage,
                                                 remote=target.remote, target=target.name)
        quiet_pyspark_loggers()
        if spark is None:
            # In a process that already has a session (tests, notebooks) getOrCreate() returns it:
            # then it is not ours to stop.
            from pyspark import SparkContext

            existing = SparkContext._active_spark_context if not target.remote else None
            spark = build_session(target, app_name)
            self._owns_session = existing is None
        else:
            self._owns_session = owns_session  # True: a session started for this run (api.SessionStart)
        self.spark = spark
        try:
            self.storage = self.storage.connect(spark)  # e.g. s3a:// without hadoop-aws: a clear error
        except BaseException:
            self.stop()
            raise
        self.warehouse = getattr(self.storage, "root", None)  # a Path (local) or HadoopPath
        self._registered: set[str] = set()
        # --defer: (warehouse, target schema) of the state's run, read when a table isn't built here.
        self.defer: tuple[Warehouse, str] | None = None
        self.incremental: dict[str, bool] = {}  # unique_id -> is_incremental() of the running model (Python)
        self._lock = threading.Lock()
        self._last_write: dict[str, dict] = {}  # job group -> stats of the table it wrote (metrics)
        self._cancelled: set[str] = set()  # job groups cancelled by Ctrl-C
        self._active: set[str] = set()  # job groups of steps inside job_scope now
        # Tables written by this run: name -> (version, schema), so a downstream read skips inference.
        self._written: dict[str, tuple[Path, object]] = {}
        self._scope = threading.local()  # the job group of the step running on this thread
        self._status: StatusReader | None = None
        # Remote first: a Connect session's sparkContext raises (not AttributeError) instead of missing.
        self.is_connect = target.remote is not None or is_connect_session(self.spark)
        self.via_server = self.is_connect and target.remote is None  # attached to `sparkmodels server`

    # -- introspection -------------------------------------------------------------------------
    def ui_url(self) -> str | None:
        if self.is_connect:
            return None
        try:
            return self.spark.sparkContext.uiWebUrl
        except Exception:  # noqa: BLE001
            return None

    def version(self) -> str:
        return self.spark.version

    def cluster_info(self, wait_for_executors: float = 15.0) -> dict:
        """Master URL, executors, cores and Spark version of the session (for `debug`)."""
        import time

        info: dict = {"spark_version": self.version()}
        if self.is_connect:
            info["remote"] = self.target.remote
            with contextlib.suppress(Exception):
                info["master"] = self.spark.conf.get("spark.master")
            info["executors"] = info["cores"] = "not visible over Spark Connect"
            return info
        sc = self.spark.sparkContext
        info["master"] = sc.master
        info["app_id"] = sc.applicationId
        store = sc._jsc.sc().statusStore()

        def executors() -> list:
            seq = store.executorList(True)
            return [seq.apply(i) for i in range(seq.size())]

        remote = [e for e in executors() if e.id() != "driver"]
        deadline = time.monotonic() + wait_for_executors
        # A cluster's executors register a moment after the session starts.
        while not remote and not sc.master.startswith("local") and time.monotonic() < deadline:
            time.sleep(0.5)
            remote = [e for e in executors() if e.id() != "driver"]
        listed = remote or executors()
        info["executors"] = len(remote) if not sc.master.startswith("local") else "local (driver only)"
        info["cores"] = sum(int(e.totalCores()) for e in listed)
        info["default_parallelism"] = sc.defaultParallelism
        return info

    # -- relations -----------------------------------------------------------------------------
    def location(self, node: Node, schema: str) -> TableStore:
        return self.storage.table(schema, node.name)

    def stored_version(self, node: Node, schema: str):
        """The table version a ref() reads: this warehouse's, else (with --defer) the state's."""
        current = self.location(node, schema).current()
        if current is None and self.defer is not None:
            warehouse, base = self.defer
            own = self.target.schema
            deferred = base + schema[len(own):] if schema.startswith(own) else schema
            current = warehouse.connect(self.spark).table(deferred, node.name).current()
        return current

    def is_registered(self, name: str) -> bool:
        """Whether this run made `name` queryable in the session (built a view, registered a table)."""
        with self._lock:
            return name in self._registered

    def mark_registered(self, name: str) -> None:
        with self._lock:
            self._registered.add(name)

    def ensure_relation(self, node: Node, schema: str) -> None:
        """Make a ref()/source() target queryable in this session (once per run)."""
        if node.resource_type == "source":
            if not node.external:
                return  # a catalog table the cluster already knows
            view = source_view_name(node)
        elif not self.kinds.of(node).holds_data:
            return  # built in this session by the plan (a view), or inlined (ephemeral)
        else:
            view = node.name
        with self._lock:
            if view in self._registered:
                return
        if node.resource_type == "source":
            df = self.read_external(node)
        else:
            current = self.stored_version(node, schema)
            if current is None:
                raise ExecutionError(
                    f"'{node.name}' has not been built yet (no table under {self.location(node, schema).link}).",
                    node=node.name, path=node.path,
                    hint=f"Build it first, e.g. `sparkmodels run -s +{node.name}`.",
                )
            written, written_schema = self._written.get(view, (None, None))
            if written_schema is not None and written.name == current.name:
                # A table this run wrote is read with the schema it was written with: no inference job.
                df = self.spark.read.schema(written_schema).parquet(str(current))
            else:
                df = self.read_version(current)
        df.createOrReplaceTempView(view)
        self.mark_registered(view)

    def read_version(self, version: Path):
        """A stored table version as a DataFrame. The schema recorded when it was written (while its
        files are unchanged) spares Spark's footer-reading inference job; otherwise Spark infers."""
        from sparkmodels.execute.cache import stored_schema

        reader = self.spark.read
        recorded = stored_schema(version)
        if recorded is not None:
            from pyspark.sql.types import StructType

            with contextlib.suppress(ValueError, TypeError, KeyError):
                reader = reader.schema(StructType.fromJson(json.loads(recorded)))
        return reader.parquet(str(version))

    def read_external(self, node: Node):
        ext: Mapping = node.external or {}
        reader = self.spark.read.format(str(ext.get("format", "parquet")))
        for key, value in (ext.get("options") or {}).items():
            reader = reader.option(str(key), str(value))
        location = str(ext["location"])
        try:
            return reader.load(location)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "AnalysisException" and "PATH_NOT_FOUND" in str(exc):
                raise ExecutionError(
                    f"source '{node.source_name}.{node.name}' has no files at {location}.",
                    node=f"{node.source_name}.{node.name}", path=node.path,
                ) from None
            raise

    def sql(self, statement: str):
        return self.spark.sql(statement)

    def relation_sql(self, node: Node) -> str:
        return relation_name(node)

    # -- tables ----------------------------------------------------------------------------------
    # The write itself is materializations.table.write_version; these are the engine's parts of it.
    def published(self, node: Node, version: Path, schema) -> None:
        """A new version of node's table is live: downstream steps must read it, so forget an older
        registration (and its temp view, which may point at files the store's clean() just removed)."""
        with self._lock:
            stale = node.name in self._registered
            self._registered.discard(node.name)
            self._written[node.name] = (version, schema)
        if stale:
            with contextlib.suppress(Exception):
                self.spark.catalog.dropTempView(node.name)

    def record_write(self, group: str | None, stats: dict) -> None:
        """Keep a write's stats for the metrics of the job scope `group` (files written)."""
        if group:
            with self._lock:
                self._last_write[group] = stats

    def status_reader(self) -> StatusReader | None:
        """The status-store reader of a classic session (None over Spark Connect or if unreadable)."""
        if self.is_connect:
            return None
        if self._status is None:
            with contextlib.suppress(Exception):
                self._status = StatusReader(self.spark)
        return self._status

    def current_group(self) -> str | None:
        group = getattr(self._scope, "group", None)
        if group is not None:  # set by job_scope on this thread: no round trip to the JVM
            return group
        with contextlib.suppress(Exception):
            if self.is_connect:
                tags = self.spark.getTags()
                return next((t for t in tags if t.startswith("sparkmodels-")), None)
            return self.spark.sparkContext.getLocalProperty("spark.jobGroup.id")
        return None

    # -- jobs ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def job_scope(self, group: str, description: str, pool: str | None = None) -> Iterator[StepMetrics]:
        """Tag every Spark job started inside with the model's name (Spark UI, cancellation), run
        them in scheduler pool `pool`, and yield a StepMetrics filled with their metrics on exit."""
        scope = StepMetrics(group, pool)
        with self._lock:
            self._active.add(group)
        if self.is_connect:
            self.spark.addTag(group)
            try:
                yield scope
            finally:
                self.spark.removeTag(group)
                with self._lock:
                    self._active.discard(group)
                scope.values = connect_metrics(group, self._last_write.pop(group, None))
            return
        sc = self.spark.sparkContext
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

    def cancel(self, groups) -> None:
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
                    self.spark.interruptTag(group)
                else:
                    self.spark.sparkContext.cancelJobGroup(group)

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

    def stop(self) -> None:
        """End the run: stop a session this run started; in a caller's session (notebook, tests),
        leave every table this run wrote queryable by its name, as it is in a dbt warehouse."""
        if self._owns_session:
            with contextlib.suppress(Exception):
                self.spark.stop()
            return
        with self._lock:
            pending = [(n, v, s) for n, (v, s) in self._written.items() if n not in self._registered]
        for name, version, schema in pending:
            with contextlib.suppress(Exception):  # a table removed meanwhile is simply not registered
                reader = self.spark.read.schema(schema) if schema is not None else self.spark.read
                reader.parquet(str(version)).createOrReplaceTempView(name)
                self.mark_registered(name)
