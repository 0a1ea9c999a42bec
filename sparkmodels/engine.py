"""The Spark engine: the only owner of the SparkSession (start, relations, atomic writes, cancellation)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from .config import Target
from .errors import EnvironmentProblem, ExecutionError
from .manifest import Node
from .plan import relation_name, source_view_name
from .storage import TableLocation, local_path

MIN_JAVA = 17
_LOG4J = Path(__file__).parent / "include" / "log4j2.properties"


def java_version() -> tuple[int | None, str]:
    """(major version, java executable) of the Java Spark would use; (None, reason) if missing."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None, "no 'java' on PATH and JAVA_HOME is not set"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"'{java} -version' failed: {exc}"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None, f"cannot read the Java version from: {out.strip()[:200]}"
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8" style
        major = int(m.group(2))
    return major, java


def check_java() -> int:
    """Fail with an actionable message unless Java 17+ is available."""
    major, where = java_version()
    if major is None:
        raise EnvironmentProblem(
            f"Java is required to run Spark locally, but {where}.",
            hint=f"Install Java {MIN_JAVA} or newer (e.g. `apt-get install openjdk-17-jre-headless`) "
            "and set JAVA_HOME, or use a Spark Connect target (remote: sc://...).",
        )
    if major < MIN_JAVA:
        raise EnvironmentProblem(
            f"Spark 4 needs Java {MIN_JAVA} or newer, but {where} is Java {major}.",
            hint="Install a newer JDK and point JAVA_HOME at it.",
        )
    return major


def prepare_python_env() -> None:
    """Make Spark's Python workers use this interpreter unless the user chose one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def build_session(target: Target, app_name: str = "sparkmodels"):
    """Start (or attach to) the SparkSession a target describes."""
    from pyspark.sql import SparkSession

    prepare_python_env()
    if target.remote:
        builder = SparkSession.builder.remote(target.remote)
    else:
        check_java()
        builder = SparkSession.builder.master(target.master or "local[*]")
        wh = target.warehouse
        if "://" not in wh:
            builder = builder.config("spark.sql.warehouse.dir", str(Path(wh) / ".spark-warehouse"))
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        if _LOG4J.exists():
            opt = f"-Dlog4j2.configurationFile={_LOG4J}"
            builder = builder.config("spark.driver.extraJavaOptions", opt)
        if target.packages:
            builder = builder.config("spark.jars.packages", ",".join(target.packages))
        if target.jars:
            builder = builder.config("spark.jars", ",".join(target.jars))
    builder = builder.appName(app_name)
    for key, value in target.conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - turn gateway/connection failures into one clear message
        raise EnvironmentProblem(
            f"Spark could not start for target '{target.name}': {str(exc).strip().splitlines()[0][:300]}",
            hint="Run `sparkmodels debug` for details.",
        ) from exc


class Engine:
    """One run's view of Spark: registers relations once, writes tables atomically, cancels jobs."""

    def __init__(self, target: Target, spark=None, *, project_root: Path | None = None,
                 app_name: str = "sparkmodels"):
        self.target = target
        self.project_root = Path(project_root or ".").resolve()
        if spark is None:
            # In a process that already has a session (tests, notebooks) getOrCreate() returns it:
            # then it is not ours to stop.
            from pyspark import SparkContext

            existing = SparkContext._active_spark_context if not target.remote else None
            spark = build_session(target, app_name)
            self._owns_session = existing is None
        else:
            self._owns_session = False
        self.spark = spark
        self.warehouse = local_path(target.warehouse)
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        self.is_connect = not hasattr(self.spark, "sparkContext") or target.remote is not None

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

    # -- relations -----------------------------------------------------------------------------
    def location(self, node: Node, schema: str) -> TableLocation:
        return TableLocation(self.warehouse, schema, node.name)

    def mark_registered(self, name: str) -> None:
        with self._lock:
            self._registered.add(name)

    def ensure_relation(self, node: Node, schema: str) -> None:
        """Make a ref()/source() target queryable in this session (once per run)."""
        if node.resource_type == "source":
            if not node.external:
                return  # a catalog table the cluster already knows
            view = source_view_name(node)
        elif node.resource_type == "model" and node.materialized in ("view", "ephemeral"):
            return  # built in this session by the plan, or inlined
        else:
            view = node.name
        with self._lock:
            if view in self._registered:
                return
        if node.resource_type == "source":
            df = self.read_external(node)
        else:
            current = self.location(node, schema).current()
            if current is None:
                raise ExecutionError(
                    f"'{node.name}' has not been built yet (no table under {self.location(node, schema).link}).",
                    node=node.name, path=node.path,
                    hint=f"Build it first, e.g. `sparkmodels run -s +{node.name}`.",
                )
            df = self.spark.read.parquet(str(current))
        df.createOrReplaceTempView(view)
        self.mark_registered(view)

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
    def write_table(self, df, node: Node, schema: str, *, partition_by=(), mode_name: str = "table") -> dict:
        """Write df as a new Parquet version, then publish it atomically. Returns write stats."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        loc = self.location(node, schema)
        version = loc.new_version()
        observation = Observation(f"sm_{node.name}_{version.name}")
        observed = df.observe(observation, F.count(F.lit(1)).alias("rows"))
        writer = observed.write.mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.parquet(str(version))
        except BaseException:
            loc.discard(version)
            raise
        loc.publish(version)
        loc.clean()
        rows = observation.get.get("rows") if observation else None
        # The fresh version is what downstream models in this run must read.
        self.spark.read.parquet(str(version)).createOrReplaceTempView(node.name)
        self.mark_registered(node.name)
        return {"rows": int(rows) if rows is not None else None, "path": str(loc.link), "version": version.name}

    # -- jobs ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def job_scope(self, group: str, description: str) -> Iterator[None]:
        """Tag every Spark job started inside with the model's name (Spark UI, cancellation)."""
        if self.is_connect:
            self.spark.addTag(group)
            try:
                yield
            finally:
                self.spark.removeTag(group)
            return
        sc = self.spark.sparkContext
        sc.setJobGroup(group, description, interruptOnCancel=True)
        try:
            yield
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)
            sc.setLocalProperty("spark.job.description", None)

    def cancel(self, groups) -> None:
        """Cancel the Spark jobs of the given job groups (Ctrl-C)."""
        for group in groups:
            with contextlib.suppress(Exception):
                if self.is_connect:
                    self.spark.interruptTag(group)
                else:
                    self.spark.sparkContext.cancelJobGroup(group)

    def stop(self) -> None:
        if self._owns_session:
            with contextlib.suppress(Exception):
                self.spark.stop()
