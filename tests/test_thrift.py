"""`sparkmodels serve-jdbc` (execute/spark/thrift.py): a real JDBC client (beeline from pyspark's jars)
queries the models a `catalog: hive` build registered, by name, over Spark's Thrift server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_catalog import _cli, _write_orders, shop  # noqa: F401 - the same small project

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _beeline(port: int, sql: str) -> str:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    proc = subprocess.run(["java", "-cp", f"{jars}/*", "org.apache.hive.beeline.BeeLine", "-u",
                           f"jdbc:hive2://127.0.0.1:{port}/default", "--outputformat=csv2", "-e", sql],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    return " ".join(x.strip() for x in proc.stdout.splitlines() if x.strip().isdigit())  # the result rows


def _serve(root: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "sparkmodels", "serve-jdbc", "--port", str(port),
                               "--project-dir", str(root)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, cwd=root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if "jdbc:hive2://" in line or not line:
            break
    assert server.poll() is None, "the JDBC server exited"
    return server


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()


def test_a_jdbc_client_reads_the_build_by_name_and_then_the_new_version(shop: Path):  # noqa: F811
    assert _cli(shop, "build").returncode == 0
    port = _free_port()
    server = _serve(shop, port)
    try:
        out = _beeline(port, "select count(*) as n from shop.orders_log; select count(*) as n from shop.order_view")
        assert out == "3 3"
        # while the server owns the embedded metastore, a build says so instead of hanging
        blocked = _cli(shop, "run")
        assert blocked.returncode == 2 and "in use by another process" in blocked.stdout + blocked.stderr
    finally:
        _stop(server)
    _write_orders(shop, [(4, "2024-01-03")], "b")
    assert _cli(shop, "run").returncode == 0
    server = _serve(shop, port)
    try:
        assert _beeline(port, "select count(*) as n from shop.orders_log") == "4"
    finally:
        _stop(server)
    assert os.path.isdir(shop / "warehouse" / ".metastore")


def test_serve_jdbc_needs_a_catalog(tmp_path: Path):
    (tmp_path / "project.yml").write_text("name: p\n")
    proc = subprocess.run([sys.executable, "-m", "sparkmodels", "serve-jdbc", "--project-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "catalog: hive" in proc.stderr and "Traceback" not in proc.stderr
