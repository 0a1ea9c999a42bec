"""Real Spark processes on loopback for the cluster tests: a Spark Connect server and a standalone
master with one worker, started from the installed pyspark and stopped by process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOG4J = REPO / "sparkmodels" / "include" / "log4j2.properties"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(daemon_memory: str | None = None) -> dict:
    env = dict(os.environ)
    if daemon_memory:
        env["SPARK_DAEMON_MEMORY"] = daemon_memory  # the launcher also sizes the Connect server with it
    env.update({
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_HOSTNAME": "localhost",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_NO_DAEMONIZE": "1",
    })
    return env


@dataclass
class Proc:
    """A started Spark process and where its log goes."""

    popen: subprocess.Popen
    log: Path
    url: str

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def _start(args: list[str], log: Path, url: str, daemon_memory: str | None = None) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=_env(daemon_memory),
                             start_new_session=True, cwd=log.parent)
    out.close()
    return Proc(popen, log, url)


def _wait_port(proc: Proc, port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited ({proc.popen.returncode}):\n{proc.log_tail()}")
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    proc.stop()
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s:\n{proc.log_tail()}")


def _wait_log(proc: Proc, text: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited ({proc.popen.returncode}):\n{proc.log_tail()}")
        with contextlib.suppress(OSError):
            if text in proc.log.read_text(errors="replace"):
                return
        time.sleep(0.5)
    proc.stop()
    raise RuntimeError(f"'{text}' not logged within {timeout:.0f}s:\n{proc.log_tail()}")


def start_connect_server(workdir: Path) -> Proc:
    """spark-submit the Spark Connect server (local[2]) on a free loopback port."""
    home = spark_home()
    port = free_port()
    args = [
        str(home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name", "sparkmodels-test-connect",
        "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", f"spark.sql.warehouse.dir={workdir / 'spark-warehouse'}",
        "--conf", f"spark.driver.extraJavaOptions=-Dlog4j2.configurationFile={LOG4J}",
        "--conf", f"spark.pyspark.python={sys.executable}",
        "spark-internal",
    ]
    proc = _start(args, workdir / "connect.log", f"sc://127.0.0.1:{port}", daemon_memory="1g")
    _wait_port(proc, port)
    return proc


def start_standalone(workdir: Path) -> tuple[Proc, Proc]:
    """A standalone master and one 1-core worker on loopback; returns (master, worker)."""
    home = spark_home()
    port = free_port()
    spark_class = str(home / "bin" / "spark-class")
    master = _start([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(port), "--webui-port", "0"],
                    workdir / "master.log", f"spark://127.0.0.1:{port}", daemon_memory="256m")
    _wait_port(master, port)
    worker = _start([spark_class, "org.apache.spark.deploy.worker.Worker", master.url,
                     "--host", "127.0.0.1", "--webui-port", "0", "--memory", "1g", "--cores", "1",
                     "--work-dir", str(workdir / "work")],
                    workdir / "worker.log", master.url, daemon_memory="256m")
    try:
        _wait_log(worker, "Successfully registered with master")
    except BaseException:
        master.stop()
        raise
    return master, worker


@contextlib.contextmanager
def running(*procs: Proc) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in reversed(procs):
            proc.stop()
