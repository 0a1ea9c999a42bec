"""Starting a run's SparkSession: a classic JVM, Spark Connect, or the warm server; in the background
while the project loads (SessionStart)."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from types import MappingProxyType

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.spark import jvm_cds
from sparkmodels.execute.spark.launch import check_java, driver_java_options, prepare_python_env, session_conf
from sparkmodels.project.config import Target


def quiet_pyspark_loggers() -> None:
    """Silence pyspark's own error loggers: they print every failing query (secrets included) as a
    JSON blob to stderr, and sparkmodels reports each error itself, redacted, in one paragraph."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def check_connect_reachable(target: Target, timeout: float = 10.0) -> None:
    """Fail in seconds, with the reason, when nothing answers at a Connect URL (the client itself
    retries for minutes before giving up)."""
    import socket
    from urllib.parse import urlsplit

    url = str(target.remote)
    try:
        parts = urlsplit(url.split(";", 1)[0])
        host, port = parts.hostname, parts.port or 15002
    except ValueError as exc:
        raise EnvironmentProblem(f"target '{target.name}': remote '{url}' is not a valid sc:// URL ({exc}).") from None
    if parts.scheme != "sc" or not host:
        raise EnvironmentProblem(f"target '{target.name}': remote must look like sc://host:15002, not '{url}'.")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot reach the Spark Connect server of target '{target.name}' at {host}:{port}: "
            f"{exc.strerror or exc}.",
            hint="Start it (sbin/start-connect-server.sh) or fix `remote:`; check firewalls and the port.",
        ) from None


def _launch_gateway_logging_to(log, options: dict) -> None:
    """Start the driver JVM as pyspark would, but with its stdout/stderr going to `log` (a file).

    pyspark's SparkContext launches its gateway with the console as the JVM's stderr, where log4j's
    errors, Java stacks and Python worker tracebacks (hundreds of lines per failure) would land.
    `launch_gateway(popen_kwargs=)` is pyspark's hook for capturing them; SparkContext then uses the
    gateway it finds instead of launching another. A process that already has a gateway keeps it.
    """
    import os

    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    with SparkContext._lock:
        if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
            return
        conf = SparkConf()
        for key, value in options.items():
            conf.set(key, value)
        gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        SparkContext._gateway, SparkContext._jvm = gateway, gateway.jvm


def _discard_gateway() -> None:
    """Forget a gateway whose SparkContext could not start, so a retry launches a fresh JVM."""
    from pyspark import SparkContext

    with SparkContext._lock:
        if SparkContext._active_spark_context is None and SparkContext._gateway is not None:
            with contextlib.suppress(Exception):
                SparkContext._gateway.shutdown()
            SparkContext._gateway = SparkContext._jvm = None


def build_session(target: Target, app_name: str = "sparkmodels", *, log_file=None):
    """Start (or attach to) the SparkSession a target describes. log_file: a classic driver JVM started
    here writes its own output there (sparklog.py) instead of the console."""
    from pyspark.sql import SparkSession

    prepare_python_env()
    if not target.remote:
        from sparkmodels.execute.spark.server import find

        running = find(target)
        if running is not None:  # `sparkmodels server` holds exactly this session, warm: connect to it
            target = replace(target, remote=running.url, conf=MappingProxyType({}), packages=(), jars=())
    if target.remote:
        if target.packages or target.jars:
            raise EnvironmentProblem(
                f"target '{target.name}' uses Spark Connect (remote:), where packages/jars cannot be "
                "added by the client: the server's classpath is fixed when it starts.",
                hint="Start the Connect server with --packages/--jars and remove them from the target.",
            )
        check_connect_reachable(target)
        builder = SparkSession.builder.remote(target.remote)
    else:
        check_java()
        builder = SparkSession.builder.master(target.master or "local[*]")
        if target.threads > 1:
            # One scheduler pool per model (job_scope): concurrent models share the cluster fairly.
            builder = builder.config("spark.scheduler.mode", "FAIR")
    builder = builder.appName(app_name)
    options = {} if target.remote else {"spark.master": target.master or "local[*]", "spark.app.name": app_name}
    if not target.remote and target.threads > 1:
        options["spark.scheduler.mode"] = "FAIR"
    for key, value in (target.conf if target.remote else session_conf(target)).items():
        builder = builder.config(key, value)
        options[key] = value
    java_opts = "" if target.remote else driver_java_options(target)
    log = None
    if log_file is not None and not target.remote:
        from sparkmodels.execute.spark.sparklog import open_for_jvm

        log = open_for_jvm(log_file)

    def start(opts: str):
        if opts:
            options["spark.driver.extraJavaOptions"] = opts
        if log is not None:
            _launch_gateway_logging_to(log, options)
        return (builder.config("spark.driver.extraJavaOptions", opts) if opts else builder).getOrCreate()

    try:
        try:
            return start(java_opts)
        except Exception:
            if jvm_cds.USE_FLAG not in java_opts:
                raise
            # a class archive the JVM cannot use (a changed JDK, a damaged file): drop it, start without
            jvm_cds.discard_archive(java_opts)
            if log is not None:
                _discard_gateway()
            return start(driver_java_options(target, cds="off"))
    except Exception as exc:  # noqa: BLE001 - turn gateway/connection failures into one clear message
        where = f"Spark's own output is in {log_file}; run" if log is not None else "Run"
        raise EnvironmentProblem(
            f"Spark could not start for target '{target.name}': {str(exc).strip().splitlines()[0][:300]}",
            hint=f"{where} `sparkmodels debug` for details.",
        ) from exc
    finally:
        if log is not None:
            log.close()  # the JVM holds its own copy of the descriptor


def is_connect_session(spark) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def start_session(target, app_name: str = "sparkmodels", *, log_file=None) -> tuple[object, bool]:
    """(session, whether this run owns it). In a process that already has a session (tests,
    notebooks) getOrCreate() returns it: then it is not ours to stop."""
    existing = None
    if not target.remote:
        from pyspark import SparkContext

        existing = SparkContext._active_spark_context
    return build_session(target, app_name, log_file=log_file), existing is None


class SessionStart:
    """Starts a target's SparkSession in a background thread, so the JVM boots while the project loads
    and the plan is made (both variants of every run pay the JVM start; this only overlaps it)."""

    def __init__(self, target, app_name: str, *, log_file=None):
        from sparkmodels.execute.storage import open_warehouse

        # An unsupported warehouse (or Connect with a Hadoop warehouse) fails before Spark starts.
        open_warehouse(target.warehouse, target.warehouse_storage, remote=target.remote, target=target.name)
        self._box: dict = {}
        self._log_file = log_file
        self._thread = threading.Thread(target=self._start, args=(target, app_name), daemon=True,
                                        name="sparkmodels-session")
        self._thread.start()

    def _start(self, target, app_name: str) -> None:
        try:
            self._box["spark"], self._box["owned"] = start_session(target, app_name, log_file=self._log_file)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by result()
            self._box["error"] = exc

    def result(self) -> tuple[object, bool]:
        """(session, whether this run owns it); raises what starting it raised."""
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["spark"], self._box["owned"]

    def discard(self) -> None:
        """The run ended before using the session (e.g. a selection error): stop it if it is ours."""
        self._thread.join()
        if self._box.get("owned"):
            with contextlib.suppress(Exception):
                self._box["spark"].stop()
