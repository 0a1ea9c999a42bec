"""Spark failures in one paragraph (execute/spark/failures.py), Spark's own output in target/sparkmodels.log
(execute/spark/sparklog.py): real processes, real Spark, real files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sparkmodels.execute.spark.failures import (
    messages,
    plain_message,
    ragged_row,
    summarize,
    unwritable_reason,
)

REPO = Path(__file__).resolve().parent.parent
NOISE = ("at org.apache", "py4j", "Traceback", "SPARK_JOB_CANCELLED", "\tat ")

PY4J_TEXT = """An error occurred while calling o108.parquet.
: org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file file:///p/seeds/ragged.csv.  SQLSTATE: KD001
\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFilesError(QueryExecutionErrors.scala:920)
\tat org.apache.spark.sql.execution.datasources.FileScanRDD$$anon$1.hasNext(FileScanRDD.scala:153)
Caused by: org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record parsing: [3,4].
\tat org.apache.spark.sql.errors.QueryExecutionErrors$.malformedRecordsDetectedInRecordParsingError(QueryExecutionErrors.scala:1500)
\t... 25 more
Caused by: org.apache.spark.SparkRuntimeException: [MALFORMED_CSV_RECORD] Malformed CSV record: 3,4,5 SQLSTATE: KD000
\tat org.apache.spark.sql.errors.QueryExecutionErrors$.malformedCSVRecordError(QueryExecutionErrors.scala:1400)
"""


def test_messages_drop_frames_and_the_py4j_header():
    found = messages(PY4J_TEXT)
    assert found[0].startswith("org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT]")
    assert found[-1].startswith("org.apache.spark.SparkRuntimeException: [MALFORMED_CSV_RECORD]")
    assert not any("\tat " in m or "o108" in m for m in found)
    one = plain_message(PY4J_TEXT)
    assert "\n" not in one and " at org.apache" not in one and "SQLSTATE" not in one
    assert "Caused by: [MALFORMED_CSV_RECORD] Malformed CSV record: 3,4,5" in one


@pytest.mark.parametrize(("text", "expected"), [
    ("java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes(Native)",
     "the disk is full (No space left on device)"),
    ("Py4JJavaError: ...\nCaused by: org.apache.spark.SparkException: [SPARK_JOB_CANCELLED] Job 3 cancelled "
     "part of cancelled job group sparkmodels-m", "the Spark job was cancelled"),
    ("org.apache.spark.SparkException: Job aborted due to stage failure: ... java.lang.OutOfMemoryError: "
     "Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
     "Spark ran out of memory (java.lang.OutOfMemoryError: Java heap space)"),
    ("org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 1.0 failed 4 times, "
     "most recent failure: Lost task 0.3 in stage 1.0 (TID 7) (10.0.0.5 executor 2): ExecutorLostFailure "
     "(executor 2 exited caused by one of the running tasks) Reason: Container killed", "a Spark executor was lost"),
    ("org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
     "file:///d/x.parquet. SQLSTATE: KD001\nCaused by: java.lang.RuntimeException: file:/d/x.parquet is not a "
     "Parquet file. Expected magic number at tail, but found [1, 2, 3, 4]", "file:///d/x.parquet is not a readable"),
    ("Caused by: java.io.FileNotFoundException: File file:/w/demo/t/part-0.parquet does not exist",
     "a file Spark was reading is gone: file:/w/demo/t/part-0.parquet"),
])
def test_common_causes_get_one_plain_sentence(text, expected):
    message, _hint, _line = summarize(text)
    assert message.startswith(expected), message
    assert "\n" not in message and "\tat" not in message


def test_a_ragged_seed_names_its_row(tmp_path):
    seed = tmp_path / "s.csv"
    seed.write_text('a,b\n1,2\n"x, y",3\n3,4,5\n6,7\n')
    assert ragged_row(seed) == (4, 3, 2)  # the quoted comma is one field
    message, _hint, line = summarize(PY4J_TEXT, seed_path=seed)
    assert line == 4 and message.startswith("row 4 of the seed has 3 fields, the header has 2")
    assert summarize(PY4J_TEXT)[0] == "malformed CSV record in file:///p/seeds/ragged.csv: 3,4,5."


def test_unwritable_reason_names_a_file_in_the_way(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert unwritable_reason(f"file:{tmp_path}/afile/wh/demo") == f"{tmp_path}/afile is a file, not a folder"
    assert unwritable_reason(str(tmp_path / "free" / "x")) is None


# -- real processes ------------------------------------------------------------------------------
def _cli(project: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sparkmodels", *args, "--project-dir", str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def _noise(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if any(n in ln for n in NOISE)]


@contextlib.contextmanager
def _unwritable(folder: Path):
    """A folder nobody may create entries in: chmod for a normal user; root ignores modes, so the
    immutable attribute (ext4/xfs), else a file in the folder's place."""
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        try:
            yield
        finally:
            os.chmod(folder, 0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        return
    aside = folder.with_name(folder.name + ".aside")
    folder.rename(aside)
    folder.write_text("not a folder")
    try:
        yield
    finally:
        folder.unlink()
        aside.rename(folder)


@pytest.fixture
def failing_project(make_project):
    return make_project({
        "project.yml": """
            name: demo
            version: '1'
            target: dev
            targets:
              dev: {master: "local[1]", warehouse: warehouse}
        """,
        "seeds/ragged.csv": "a,b\n1,2\n3,4,5\n",
        "udfs/boom.py": """
            from sparkmodels.udfs import udf

            @udf("boom", returns="string")
            def boom(x):
                raise ValueError(f"bad value {x}")
        """,
        "models/udf_fail.sql": "{{ config(materialized='table') }}\nselect boom(cast(id as string)) as b from range(3)\n",
        "models/locked.sql": "{{ config(materialized='table') }}\nselect 1 as x\n",
    })


@pytest.mark.slow
def test_spark_failures_are_one_paragraph_each_and_their_stacks_go_to_the_log(failing_project):
    first = _cli(failing_project, "run", "-s", "locked")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    versions = failing_project / "warehouse" / "demo" / ".versions" / "locked"
    with _unwritable(versions):  # a warehouse folder Spark cannot create the new version in
        proc = _cli(failing_project, "build", "--full-refresh")
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    console = out + err
    assert _noise(console) == [], console
    assert err.strip() == "", err  # nothing of the JVM's reaches the console
    lines = console.splitlines()

    def paragraph(node: str) -> str:
        found = [ln for ln in lines if f"Runtime error in {node} " in ln]
        assert len(found) == 1, console
        return found[0]

    assert "(seeds/ragged.csv:3): row 3 of the seed has 3 fields, the header has 2" in paragraph("ragged")
    assert "(udfs/boom.py:5): Python code failed in a Spark worker in boom(): ValueError: bad value" \
        in paragraph("udf_fail")
    locked = paragraph("locked")
    assert "cannot write" in locked and ".versions/locked" in locked, locked
    assert any(w in locked for w in ("permission denied", "is a file, not a folder", "read-only")), locked
    for node in ("ragged", "udf_fail", "locked"):
        assert "target/sparkmodels.log" in paragraph(node)
    log = (failing_project / "target" / "sparkmodels.log").read_text()
    assert "at org.apache.spark" in log and "Traceback (most recent call last)" in log
    assert 'raise ValueError(f"bad value {x}")' in log and "MALFORMED_CSV_RECORD" in log
    assert "sparkmodels: locked failed" in log

    debug = _cli(failing_project, "run", "-s", "udf_fail", "--debug")
    out, err = debug.communicate(timeout=300)
    assert debug.returncode == 1 and "at org.apache.spark" in err  # --debug shows Spark's own output


@pytest.mark.slow
def test_ctrl_c_prints_no_java_stack(make_project):
    project = make_project({
        "project.yml": "name: demo\nversion: '1'\ntarget: dev\ntargets:\n  dev: {master: 'local[1]', warehouse: wh}\n",
        "models/slow.sql": "{{ config(materialized='table') }}\nselect count(*) as n from range(0, 100000000000)\n",
    })
    proc = _cli(project, "run")
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while not any("START" in ln for ln in out) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the count's job is running
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    proc.wait(timeout=120)
    reader.join(timeout=10)
    console = "".join(out) + err
    assert proc.returncode == 130, console
    assert _noise(console) == [], console
    error = [ln for ln in console.splitlines() if "Runtime error in slow (models/slow.sql): " in ln]
    assert len(error) == 1 and "cancelled" in error[0] and "previous version" in error[0], console
    assert not (project / "wh" / "demo" / "slow").exists()  # nothing half-written was published


@contextlib.contextmanager
def _small_disk(folder: Path, size: str = "3m"):
    """A tmpfs of `size` mounted at folder (root only: CI runs as root), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"a small disk needs `mount -t tmpfs` (root): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_is_one_paragraph_and_the_earlier_table_stays(make_project):
    import pyarrow.parquet as pq

    project = make_project({
        "project.yml": """
            name: demo
            version: '1'
            target: dev
            targets:
              dev: {master: "local[1]", warehouse: warehouse}
        """,
        "models/small.sql": "{{ config(materialized='table') }}\nselect id as x from range(10)\n",
        # ~25 MB of hex digests: far more than the 3 MB disk, whatever the compression
        "models/big.sql": "{{ config(materialized='table') }}\n"
                          "select id, sha2(cast(id as string), 512) as h, sha2(cast(id * 7 as string), 512) as g "
                          "from range(200000)\n",
    })
    with _small_disk(project / "warehouse"):
        first = _cli(project, "run", "-s", "small")
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, out + err
        small_version = os.readlink(project / "warehouse" / "demo" / "small")
        proc = _cli(project, "run", "-s", "big")
        out, err = proc.communicate(timeout=300)
        console = out + err
        assert proc.returncode == 1, console
        assert _noise(console) == [], console
        found = [ln for ln in console.splitlines() if "Runtime error in big " in ln]
        assert len(found) == 1 and "disk is full" in found[0], console
        assert "target/sparkmodels.log" in found[0], found[0]
        small = pq.read_table(str(project / "warehouse" / "demo" / "small")).column("x").to_pylist()
        assert sorted(small) == list(range(10))
        assert os.readlink(project / "warehouse" / "demo" / "small") == small_version  # still the same version
        assert not (project / "warehouse" / "demo" / "big").exists()  # nothing half-written was published
        # the failed write's partial version is gone, so the disk has its space back
        versions = project / "warehouse" / "demo" / ".versions" / "big"
        assert [v.name for v in versions.iterdir() if v.name.startswith("v")] == []
