"""`sparkmodels serve-jdbc` (execute/spark/thrift.py): a real JDBC client (beeline from pyspark's jars)
queries the models a `catalog: hive` build registered, by name, over Spark's Thrift server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_catalog import _cli, shop  # noqa: F401 - the same small project

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _beeline(port: int, sql: str, *, rows: bool = True) -> str:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    proc = subprocess.run(["java", "-cp", f"{jars}/*", "org.apache.hive.beeline.BeeLine", "-u",
                           f"jdbc:hive2://127.0.0.1:{port}/default", "--outputformat=csv2", "-e", sql],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    if not rows:
        return proc.stdout
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


def test_a_jdbc_client_reads_the_build_by_name_and_a_build_meanwhile_is_refused(shop: Path):  # noqa: F811
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
    assert os.path.isdir(shop / "warehouse" / ".metastore")
    # the next version over JDBC, read while builds run: test_a_jdbc_reader_gets_the_whole_old_version...


def test_serve_jdbc_needs_a_catalog(tmp_path: Path):
    (tmp_path / "project.yml").write_text("name: p\n")
    proc = subprocess.run([sys.executable, "-m", "sparkmodels", "serve-jdbc", "--project-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "catalog: hive" in proc.stderr and "Traceback" not in proc.stderr


# -- `server start --jdbc-port`: one JVM serves Connect builds and JDBC clients ---------------------
# A Connect server and the Thrift server in one driver (server.py): the embedded metastore has one
# owner, builds attach over sc:// and BI tools read the models by name while builds run.
SERVED = {
    "project.yml": """
        name: shop
        version: "1.0"
        target: hive
        targets:
          hive:
            master: "local[4]"  # task slots for the reader's queries while the build's two tasks sleep
            schema: shop
            catalog: hive
            conf: {spark.sql.shuffle.partitions: "2", spark.ui.enabled: "false"}
          connect:      # the same server named explicitly, as a remote Spark Connect target
            remote: "{{ env_var('SM_REMOTE', 'sc://127.0.0.1:1') }}"
            schema: shop
            catalog: hive
        models:
          shop:
            +materialized: table
            +persist_docs: {relation: true, columns: true}
    """,
    "models/schema.yml": """
        models:
          - name: big
            description: Ids and values.
            columns:
              - name: v
                description: The id times the factor.
    """,
    "seeds/customers.csv": "id,name\n1,ann\n2,bob\n3,cid\n",
    # var pause_ms: the build sleeps that long every 10k rows, so a reader has time to query during it
    "models/big.sql": """
        select id, id * {{ var('factor', 1) }} as v
        from range(0, 200000, 1, 2)
        where reflect('java.lang.Thread', 'sleep', if(id % 10000 = 0, {{ var('pause_ms', 0) }}L, 0L)) = 'null'
    """,
    "models/customer_count.sql": "{{ config(materialized='view') }}\nselect count(*) as n from {{ ref('customers') }}",
}
BIG_SUM = 199999 * 200000 // 2  # sum(id) over range(0, 200000)

# One JDBC connection kept open (as a BI tool keeps it), querying until the stop file appears:
# "<start ms> <end ms> OK <columns...>" or "<start ms> <end ms> ERR <message>" per query.
READER_JAVA = """
import java.nio.file.*;
import java.sql.*;

public class JdbcReader {
    public static void main(String[] a) throws Exception {
        Class.forName("org.apache.hive.jdbc.HiveDriver");
        try (Connection c = DriverManager.getConnection(a[0], "", "")) {
            Path stop = Paths.get(a[2]);
            while (true) {
                boolean last = Files.exists(stop);
                long t0 = System.currentTimeMillis();
                StringBuilder out = new StringBuilder();
                try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(a[1])) {
                    int n = r.getMetaData().getColumnCount();
                    while (r.next()) for (int i = 1; i <= n; i++) out.append(' ').append(r.getString(i));
                    System.out.println(t0 + " " + System.currentTimeMillis() + " OK" + out);
                } catch (SQLException e) {
                    String m = String.valueOf(e.getMessage()).replace('\\n', ' ');
                    System.out.println(t0 + " " + System.currentTimeMillis() + " ERR " + m.substring(0, Math.min(300, m.length())));
                }
                System.out.flush();
                if (last) break;
                Thread.sleep(Long.parseLong(a[3]));
            }
        }
    }
}
"""


def _served_cli(root: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkmodels", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, cwd=root, timeout=400, env=env)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(project, env, jdbc port, Connect URL): `sparkmodels server start --jdbc-port` on a catalog:
    hive project, built once through it. One server for the module; stopped at the end."""
    import textwrap

    root = tmp_path_factory.mktemp("served")
    for rel, text in SERVED.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    # the server's record and log in the test's own cache folder, not the user's
    env = {**os.environ, "XDG_CACHE_HOME": str(root / "cache"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    port = _free_port()
    started = _served_cli(root, env, "server", "start", "--jdbc-port", str(port))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        url = next(w.rstrip(",") for w in started.stdout.split() if w.startswith("sc://"))
        assert f"jdbc:hive2://127.0.0.1:{port}/default" in started.stdout
        built = _served_cli(root, env, "build")
        assert built.returncode == 0, built.stdout + built.stderr
        assert "via sparkmodels server" in built.stdout
        yield root, env, port, url
    finally:
        stopped = _served_cli(root, env, "server", "stop")
        assert stopped.returncode == 0 and "Stopped" in stopped.stdout, stopped.stdout + stopped.stderr


def test_a_connect_build_is_queried_by_name_over_jdbc_from_the_same_server(served):
    root, env, port, url = served
    # the same server as an explicit `remote: sc://...` target with catalog: hive: it registers too
    (root / "models" / "customer_ids.sql").write_text(
        "{{ config(materialized='view') }}\nselect id from {{ ref('customers') }} where id > 1")
    again = _served_cli(root, {**env, "SM_REMOTE": url}, "run", "-s", "customer_ids", "-t", "connect")
    assert again.returncode == 0, again.stdout + again.stderr
    out = _beeline(port, "select count(*) from shop.big; select sum(v) from shop.big; "
                         "select n from shop.customer_count; select count(*) from shop.customers; "
                         "select count(*) from shop.customer_ids")
    assert out == f"200000 {BIG_SUM} 3 3 2"
    described = _beeline(port, "describe table extended shop.big", rows=False)
    assert "The id times the factor." in described and "Ids and values." in described
    # one server per target: asked for JDBC on another port it says what runs, and is left running
    other = _served_cli(root, env, "server", "start", "--jdbc-port", str(_free_port()))
    assert other.returncode == 2 and f"serving JDBC at jdbc:hive2://127.0.0.1:{port}/default" in other.stderr
    assert "Already running" in _served_cli(root, env, "server", "start").stdout
    # the embedded metastore is the server's, beside the data
    assert (root / "warehouse" / ".metastore" / "metastore_db").is_dir()


def _reader_lines(path: Path) -> list[tuple[int, int, str]]:
    rows = []
    for line in path.read_text().splitlines():
        t0, t1, rest = line.split(" ", 2)
        rows.append((int(t0), int(t1), rest))
    return rows


def test_a_jdbc_reader_gets_the_whole_old_version_while_a_rebuild_runs_then_the_new_one(served):
    import datetime as dt

    import pyspark

    root, env, port, _ = served
    jars = Path(pyspark.__file__).parent / "jars"
    source = root / "JdbcReader.java"
    source.write_text(READER_JAVA)
    out, stop = root / "reader.out", root / "reader.stop"
    stop.unlink(missing_ok=True)
    sql = "select count(*), sum(v) from shop.big"
    with open(out, "w") as sink:
        reader = subprocess.Popen(["java", "-cp", f"{jars}/*", str(source), f"jdbc:hive2://127.0.0.1:{port}/default",
                                   sql, str(stop), "100"], stdout=sink, stderr=subprocess.DEVNULL)
    try:
        # the reader's session has read (and would cache) the current version before the rebuild starts
        deadline = time.monotonic() + 120
        while not out.read_text().strip() and time.monotonic() < deadline and reader.poll() is None:
            time.sleep(0.2)
        assert out.read_text().strip(), "the JDBC reader never answered"
        # a changed description is altered in place: the table stays registered throughout
        schema_yml = root / "models" / "schema.yml"
        schema_yml.write_text(schema_yml.read_text().replace("The id times the factor.", "Twice the id."))
        rebuilt = _served_cli(root, env, "run", "-s", "big", "--vars", "{factor: 2, pause_ms: 250}")
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        time.sleep(1.0)  # queries of the open session after the rebuild
        stop.touch()
        reader.wait(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    results = _reader_lines(out)
    old, new = f"OK 200000 {BIG_SUM}", f"OK 200000 {2 * BIG_SUM}"
    assert all(r[2] in (old, new) for r in results), [r[2][:300] for r in results if r[2] not in (old, new)][:3]
    seen = [r[2] for r in results]
    assert seen[0] == old and seen[-1] == new  # the open session sees the new version after the publish
    assert new not in seen[:seen.index(new)] and old not in seen[seen.index(new):]  # switches once
    timing = next(r for r in json.loads((root / "target" / "run_results.json").read_text())["results"]
                  if r["unique_id"] == "model.shop.big")["timing"]
    execute = next(t for t in timing if t["name"] == "execute")
    start, end = (dt.datetime.fromisoformat(execute[k]).timestamp() * 1000 for k in ("started_at", "completed_at"))
    during = [r for r in results if start <= r[0] and r[1] <= end]
    assert len([r for r in during if r[2] == old]) >= 3, (start, end, results)
    assert "Twice the id." in _beeline(port, "describe table shop.big", rows=False)
