"""The local Spark server: a Spark Connect server kept warm between runs (start, find, stop, list).

Every `run` on a classic target starts a JVM, and a cold JVM runs the first queries several times
slower than a warm one (class loading, JIT): on a small change that fixed cost is most of the run.
`sparkmodels server start` starts one Spark Connect server with exactly the session the target
describes (master, conf, packages, jars, warehouse, Java options); while it runs, every session
sparkmodels would start for that target connects to it instead. The server is found by a key over
those settings, so a changed target (or another Python, Java or Spark) never reuses a stale server:
it simply runs in-process again. Records live in the user's cache folder (`servers/<key>.json`), so
`rm -rf target` does not orphan a server; a record whose process is gone is removed when seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.spark import jvm_cds
from sparkmodels.project.config import Target

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# `server start --jdbc-port`: Spark's Thrift JDBC server is the main class and Spark Connect a plugin of
# the same driver, so one JVM owns the embedded metastore and serves both builds and BI tools.
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
START_TIMEOUT_S = 300.0


def servers_dir() -> Path:
    return jvm_cds.cache_root() / "servers"


@dataclass(frozen=True)
class Server:
    """A running (or recorded) server: where it listens and what it serves."""

    key: str
    pid: int
    url: str
    target: str
    project: str
    master: str
    warehouse: str
    started: float
    log: str
    jdbc: str = ""  # jdbc:hive2://host:port/default when it also serves JDBC (catalog: hive)

    def describe(self) -> str:
        up = time.time() - self.started
        jdbc = f", JDBC {self.jdbc}" if self.jdbc else ""
        return (f"target '{self.target}' of {self.project}: {self.url}{jdbc} (pid {self.pid}, {self.master}, "
                f"up {int(up // 60)} min), warehouse {self.warehouse}")


def server_key(target: Target) -> str | None:
    """The key of the session a target describes (None: Java or Spark not found, so no server)."""
    base = jvm_cds.archive_key(target.conf)  # Java, Spark's jars and the driver classpath
    if base is None:
        return None
    parts = {"base": base, "python": sys.executable, "master": target.master, "warehouse": target.warehouse,
             "catalog": target.catalog, "conf": sorted(target.conf.items()), "packages": list(target.packages), "jars": list(target.jars)}
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie nobody reaped yet is gone too
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_server(pid: int) -> bool:
    """The process is alive and (where /proc tells) a Spark Connect server: after a reboot a record's
    pid may belong to an unrelated process, which `stop` must never signal."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        return SERVER_CLASS.encode() in cmdline or CONNECT_PLUGIN.encode() in cmdline
    except OSError:
        return True  # no /proc (macOS): the listening check in find() still applies


def _listening(url: str, timeout: float = 2.0) -> bool:
    host, port = url.removeprefix("sc://").removeprefix("jdbc:hive2://").split("/", 1)[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def _read(path: Path) -> Server | None:
    try:
        return Server(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _live(path: Path) -> Server | None:
    """The server a record names if its process still runs; a stale record is removed."""
    server = _read(path)
    if server is not None and _is_server(server.pid):
        return server
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def find(target: Target) -> Server | None:
    """The running server for exactly this target's session, or None."""
    # every session start asks: without any record, answer before hashing Java and Spark's jars
    if target.remote or not any(servers_dir().glob("*.json")):
        return None
    key = server_key(target)
    if key is None:
        return None
    server = _live(servers_dir() / f"{key}.json")
    return server if server is not None and _listening(server.url) else None


def servers() -> list[Server]:
    """Every running server (stale records are removed)."""
    found = [_live(p) for p in sorted(servers_dir().glob("*.json"))] if servers_dir().is_dir() else []
    return [s for s in found if s is not None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spark_home() -> Path:
    home = jvm_cds.find_spark_home()
    if home is None:
        raise EnvironmentProblem("pyspark is not installed, so no Spark server can start.",
                                 hint='Install sparkmodels with its dependencies (pip install -e ".").')
    return home


def _command(target: Target, port: int, java_options: str, jdbc_port: int | None = None) -> list[str]:
    from sparkmodels.execute.spark.launch import JDBC_READER_CONF, session_conf

    conf = {k: v for k, v in session_conf(target).items() if k != "spark.driver.extraJavaOptions"}
    conf.update({
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable),
    })
    main, app_args = SERVER_CLASS, []
    if jdbc_port is not None:
        # The Thrift server's main starts the Hive session (the conf above: same metastore as a run's);
        # the plugin starts Spark Connect in that driver, whose client sessions share its catalog.
        # JDBC sessions resolve each table anew per query (launch.JDBC_READER_CONF): a build's new
        # version is what their next query reads.
        conf = {**JDBC_READER_CONF, **conf}
        plugins = [p for p in conf.get("spark.plugins", "").split(",") if p]
        conf["spark.plugins"] = ",".join([*plugins, CONNECT_PLUGIN])
        conf["spark.hadoop.hive.server2.thrift.port"] = str(jdbc_port)
        conf["spark.hadoop.hive.server2.thrift.bind.host"] = "127.0.0.1"
        main = THRIFT_CLASS
        app_args = ["--hiveconf", f"hive.server2.thrift.port={jdbc_port}",
                    "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1"]
    if java_options:
        conf["spark.driver.extraJavaOptions"] = java_options
    args = [str(_spark_home() / "bin" / "spark-submit"), "--class", main,
            "--name", f"sparkmodels server ({target.name})", "--master", target.master or "local[*]"]
    for key, value in conf.items():
        args += ["--conf", f"{key}={value}"]
    return [*args, "spark-internal", *app_args]


def _log_tail(log: Path, n: int = 6) -> str:
    with contextlib.suppress(OSError):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        return " | ".join(lines[-n:])
    return ""


def start(target: Target, project: Path, java_options: str, *, jdbc_port: int | None = None,
          timeout: float = START_TIMEOUT_S) -> tuple[Server, bool]:
    """Start the server for this target (detached) and wait until it listens: (server, started now).
    An already running server for the same settings is returned as it is. jdbc_port: also serve the
    target's metastore over JDBC (HiveThriftServer2) from the same JVM (catalog: hive only)."""
    import subprocess

    if target.remote:
        raise EnvironmentProblem(f"target '{target.name}' already uses a Spark Connect server ({target.remote}).",
                                 hint="`sparkmodels server` serves classic targets (master: local[*], spark://...).")
    if jdbc_port is not None and target.catalog != "hive":
        raise EnvironmentProblem(f"target '{target.name}' has no metastore to serve over JDBC: set `catalog: hive` "
                                 "on it (see the README's \"Metastore\" section).")
    from sparkmodels.execute.storage import open_warehouse

    # runs attached to the server are Connect clients: a Hadoop FileSystem warehouse fails here, with the reason
    open_warehouse(target.warehouse, target.warehouse_storage, remote="sparkmodels server", target=target.name)
    key = server_key(target)
    if key is None:
        raise EnvironmentProblem("cannot start a Spark server: Java or Spark's jars were not found.",
                                 hint="Run `sparkmodels debug` for details.")
    running = find(target)
    if running is not None:
        wanted = f"jdbc:hive2://127.0.0.1:{jdbc_port}/default" if jdbc_port is not None else running.jdbc
        if running.jdbc != wanted:
            raise EnvironmentProblem(
                f"the server of target '{target.name}' already runs, "
                + (f"serving JDBC at {running.jdbc}." if running.jdbc else "without JDBC."),
                hint="Stop it (`sparkmodels server stop`) and start it again with the --jdbc-port you want.")
        return running, False
    directory = servers_dir()
    directory.mkdir(parents=True, exist_ok=True)
    port, log = _free_port(), directory / f"{key}.log"
    env = {**os.environ, "SPARK_HOME": str(_spark_home()), "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    with open(log, "wb") as out:
        # its own session: the server outlives this command and a Ctrl-C in this terminal
        proc = subprocess.Popen(_command(target, port, java_options, jdbc_port), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=str(project), start_new_session=True)
    server = Server(key=key, pid=proc.pid, url=f"sc://127.0.0.1:{port}", target=target.name, project=str(project),
                    master=target.master or "local[*]", warehouse=target.warehouse, started=time.time(), log=str(log),
                    jdbc=f"jdbc:hive2://127.0.0.1:{jdbc_port}/default" if jdbc_port is not None else "")
    deadline = time.monotonic() + timeout
    while not (_listening(server.url, timeout=1.0) and (not server.jdbc or _listening(server.jdbc, timeout=1.0))):
        if proc.poll() is not None or time.monotonic() > deadline:
            _terminate(proc.pid)
            why = f"exited with code {proc.returncode}" if proc.returncode is not None else f"did not listen within {timeout:.0f} s"
            raise EnvironmentProblem(f"the Spark server for target '{target.name}' {why}: {_log_tail(log)}",
                                     hint=f"Its full log: {log}")
        time.sleep(0.5)
    proc.returncode = 0  # detached on purpose: no "still running" warning when this handle is dropped
    tmp = directory / f"{key}.json.tmp"
    tmp.write_text(json.dumps(server.__dict__, indent=1), encoding="utf-8")
    tmp.replace(directory / f"{key}.json")
    return server, True


def _terminate(pid: int, grace: float = 20.0) -> None:
    """SIGTERM the server's process group (the JVM and its Python workers), SIGKILL after `grace`."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
            time.sleep(0.2)
        if not _alive(pid):
            return


def stop(server: Server) -> None:
    """Stop a server and remove its record."""
    _terminate(server.pid)
    with contextlib.suppress(OSError):
        (servers_dir() / f"{server.key}.json").unlink()
