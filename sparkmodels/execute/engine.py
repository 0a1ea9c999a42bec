"""One run's Spark: the session (started or attached) composed of small typed parts.

`Engine` starts or attaches the SparkSession (spark/session.start_session, shared with the
background SessionStart) and connects the warehouse; the work is done by its parts:
`relations` (execute/relations.py: what is queryable, where tables live), `jobs` (execute/jobs.py:
job groups, metrics, cancellation) and `writer` (execute/writer.py: table versions). A strategy gets
these parts through its StepContext.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from sparkmodels.execute.jobs import Jobs
from sparkmodels.execute.relations import Relations
from sparkmodels.execute.spark.metrics import StepMetrics
from sparkmodels.execute.spark.session import is_connect_session, quiet_pyspark_loggers, start_session
from sparkmodels.execute.storage import TableStore, Warehouse, open_warehouse
from sparkmodels.execute.writer import VersionWriter
from sparkmodels.plan.compiler import relation_name
from sparkmodels.project.config import Target
from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Node


class Engine:
    """One run's view of Spark: the session, and the relations, jobs and writer parts over it."""

    def __init__(self, target: Target, spark=None, *, project_root: Path | None = None,
                 app_name: str = "sparkmodels", owns_session: bool = False, kinds: Kinds = BUILTIN):
        self.target = target
        self.kinds = kinds  # what each materialisation is: which relations live only in the session
        self.project_root = Path(project_root or ".").resolve()
        # An unsupported URI (or Connect with a Hadoop warehouse) fails here, before Spark starts.
        storage: Warehouse = open_warehouse(target.warehouse, target.warehouse_storage,
                                            remote=target.remote, target=target.name)
        quiet_pyspark_loggers()
        if spark is None:
            spark, self._owns_session = start_session(target, app_name)
        else:
            self._owns_session = owns_session  # True: a session started for this run (api.SessionStart)
        self.spark = spark
        self.relations: Relations | None = None
        try:
            storage = storage.connect(spark)  # e.g. s3a:// without hadoop-aws: a clear error
        except BaseException:
            self.stop()
            raise
        self.storage = storage
        self.warehouse = getattr(storage, "root", None)  # a Path (local) or HadoopPath
        # Remote first: a Connect session's sparkContext raises (not AttributeError) instead of missing.
        self.is_connect = target.remote is not None or is_connect_session(spark)
        self.via_server = self.is_connect and target.remote is None  # attached to `sparkmodels server`
        self.relations = Relations(spark, storage, target, kinds)
        # a caller's session keeps the written tables queryable: registered as they are published
        self.relations.register_on_publish = not self._owns_session
        self.jobs = Jobs(spark, is_connect=self.is_connect)
        from sparkmodels.execute.catalog import catalog_for

        self.catalog = catalog_for(spark, target, fresh_session=self._owns_session and not self.is_connect)
        try:
            self.catalog.connect()  # a held or unreachable metastore fails before any write
            if self._owns_session and not self.is_connect:
                self.catalog.release_at_exit()
        except BaseException:
            self.stop()
            raise
        self.writer = VersionWriter(self.relations, self.jobs, self.catalog)
        self.incremental: dict[str, bool] = {}  # unique_id -> is_incremental() of the running model (Python)

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

    # -- relations (delegated: the runner, cache and checks call these) -------------------------
    @property
    def defer(self) -> tuple[Warehouse, str] | None:
        """--defer: (warehouse, target schema) of the state's run, read when a table isn't built here."""
        return self.relations.defer

    @defer.setter
    def defer(self, value: tuple[Warehouse, str] | None) -> None:
        self.relations.defer = value

    def location(self, node: Node, schema: str) -> TableStore:
        return self.relations.location(node, schema)

    def stored_version(self, node: Node, schema: str):
        return self.relations.stored_version(node, schema)

    def is_registered(self, name: str) -> bool:
        return self.relations.is_registered(name)

    def mark_registered(self, name: str) -> None:
        self.relations.mark_registered(name)

    def ensure_relation(self, node: Node, schema: str, *, lazy: bool = False) -> None:
        """Make a ref()/source() target queryable in this session (once per run; lazy: on first use,
        see Relations.ensure)."""
        self.relations.ensure(node, schema, lazy=lazy)

    def read_version(self, version: Path):
        return self.relations.read_version(version)

    def read_external(self, node: Node):
        return self.relations.read_external(node)

    def sql(self, statement: str):
        self.relations.realize(statement)  # relations noted lazily, registered when first named
        return self.spark.sql(statement)

    def relation_sql(self, node: Node) -> str:
        return relation_name(node, self.kinds)

    # -- jobs (delegated) --------------------------------------------------------------------------
    def job_scope(self, group: str, description: str, pool: str | None = None) -> contextlib.AbstractContextManager[StepMetrics]:
        return self.jobs.job_scope(group, description, pool)

    def cancel(self, groups: Iterable[str]) -> None:
        self.jobs.cancel(groups)

    def stop(self) -> None:
        """End the run: stop a session this run started; in a caller's session (notebook, tests),
        leave every table this run wrote queryable by its name, as it is in a dbt warehouse."""
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.finish()
        if self._owns_session:
            with contextlib.suppress(Exception):
                self.spark.stop()
            return
        if self.relations is not None:
            self.relations.register_written()
