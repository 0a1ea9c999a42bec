"""The fault suite: real `sparkmodels run` processes killed with SIGKILL mid-rewrite, and two writers at once.

Each process stops at an exact moment of a table write through the storage's test hook
(SPARKMODELS_HOLD_AT=<moment>, SPARKMODELS_HOLD_FILE=<file>: the writer creates the file and waits
until it is deleted), so the kill or the race happens at that moment, not at a random one.
After every fault the table readers see is a complete version (the previous one unless the
publish had already happened) and the next run succeeds and removes what the dead run left.
Tables are three rows; the state is read with pyarrow, without a JVM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, write_files

PROJECT = {
    "project.yml": """
        name: demo
        version: '1'
        targets:
          dev:
            master: local[1]
            conf: {spark.ui.enabled: "false", spark.sql.shuffle.partitions: "1"}
        models:
          demo:
            +materialized: table
    """,
    "models/up.sql": "select id, {{ var('gen', 0) }} as gen from range(3)\n",
}


def _project(tmp_path: Path) -> Path:
    return write_files(tmp_path / "proj", PROJECT)


def _start(root: Path, gen: int, hold: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SPARKMODELS_HOLD_AT", None)
    if hold:
        env.update(SPARKMODELS_HOLD_AT=f"{hold}:up", SPARKMODELS_HOLD_FILE=str(root / f"hold-{gen}"))
    return subprocess.Popen([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root),
                             "--vars", f"{{gen: {gen}}}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _wait_for_hold(proc: subprocess.Popen, root: Path, gen: int, timeout: float = 240) -> None:
    marker = root / f"hold-{gen}"
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the writer exited before its hold: {proc.communicate()[0]}")
        assert time.monotonic() < deadline, "the writer never reached its hold"
        time.sleep(0.1)


def _kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _table(root: Path) -> set[int]:
    """The gen values of the table readers see now (a complete Parquet version)."""
    import pyarrow.parquet as pq

    return set(pq.read_table(root / "warehouse/demo/up").column("gen").to_pylist())


def _versions(root: Path) -> dict[str, bool]:
    """version name -> committed (_SUCCESS)."""
    folder = root / "warehouse/demo/.versions/up"
    return {p.name: (p / "_SUCCESS").exists() for p in folder.iterdir() if p.name.startswith("v")}


def _current(root: Path) -> str:
    return os.path.basename(os.readlink(root / "warehouse/demo/up"))


def _ok(root: Path, gen: int) -> str:
    code, out = _finish(_start(root, gen))
    assert code == 0, out
    assert _table(root) == {gen}
    return out


@pytest.mark.slow
def test_kill_9_at_each_moment_of_a_rewrite_keeps_a_complete_table_and_the_next_run_recovers(tmp_path):
    root = _project(tmp_path)
    _ok(root, 1)
    first = _current(root)
    # Three rewrites at once (one JVM start of wall time): one stops after taking its lease, before
    # Spark writes; one after Spark committed its version, before publishing; the third too, and
    # is let go to stop again just after its swap.
    writers = {2: _start(root, 2, hold="write"), 3: _start(root, 3, hold="publish"),
               4: _start(root, 4, hold="publish,swapped")}
    for gen, proc in writers.items():
        _wait_for_hold(proc, root, gen)
    _kill9(writers[2])
    _kill9(writers[3])
    assert _current(root) == first and _table(root) == {1}  # the previous table, intact
    assert sum(_versions(root).values()) == 3  # two committed orphans (3, and 4 not yet published)
    (root / "hold-4").unlink()
    _wait_for_hold(writers[4], root, 4)  # now just after the swap, before the lease release and clean
    _kill9(writers[4])
    fourth = _current(root)
    assert fourth != first and _table(root) == {4}  # the new version is whole and current
    assert first in _versions(root)  # and the one readers were on a moment ago is still there
    # The next run succeeds; what the dead runs left is gone, the previously published version kept.
    _ok(root, 5)
    assert set(_versions(root)) == {_current(root), fourth}
    assert not [p for p in (root / "warehouse/demo/.versions/up/_leases").iterdir()]


def _clean_failure(out: str) -> None:
    for noise in ("Traceback", "_temporary", "FileNotFound"):
        assert noise not in out, out


@pytest.mark.slow
def test_two_writers_at_once_never_crash_and_the_one_whose_base_moved_fails_clearly(tmp_path):
    root = _project(tmp_path)
    # A long rewrite holds just before publishing; a short run of the same table starts once the
    # long one has leased its version (so the long one's version is the older: the case cleanup
    # used to delete), rewrites it, publishes and cleans meanwhile.
    slow = _start(root, 10, hold="publish")
    leases = root / "warehouse/demo/.versions/up/_leases"
    deadline = time.monotonic() + 240
    while not (leases.is_dir() and any(not p.name.startswith(".") for p in leases.iterdir())):
        assert slow.poll() is None and time.monotonic() < deadline, "the slow writer never leased its version"
        time.sleep(0.1)
    fast = _start(root, 20)
    _wait_for_hold(slow, root, 10)
    [in_progress] = _versions(root)
    code, out = _finish(fast)
    assert code == 0, out
    assert _table(root) == {20} and in_progress < _current(root)
    assert in_progress in _versions(root)  # the short run's cleanup left the other writer's version alone
    (root / "hold-10").unlink()  # let the slow writer go on: its base is not current any more
    code, out = _finish(slow)
    assert code == 1, out
    assert "changed while this run wrote it" in out and "Warehouse error" in out
    for noise in ("Traceback", "_temporary", "FileNotFound"):
        assert noise not in out, out
    assert _table(root) == {20} and in_progress not in _versions(root)


INCREMENTAL = {
    **PROJECT,
    "models/up.sql": "{{ config(materialized='incremental', incremental_strategy='append') }}\n"
                     "select id, {{ var('gen', 0) }} as gen from range(3)\n",
}


@pytest.mark.slow
def test_two_incremental_appends_at_once_lose_no_rows(tmp_path, spark):
    """Two appends to one incremental table at once: the one that publishes first keeps its rows, the
    one whose base moved publishes nothing and says so, and running it again adds its rows: no row is
    lost silently (counted per gen, with pyarrow). The slow writer is a real process held just before
    its publish; the others run in this test's session."""
    import sparkmodels

    root = write_files(tmp_path / "proj", INCREMENTAL)
    assert sparkmodels.run(root, spark=spark, vars={"gen": 1}).success
    slow = _start(root, 10, hold="publish")
    _wait_for_hold(slow, root, 10)
    assert sparkmodels.run(root, spark=spark, vars={"gen": 20}).success  # appends and publishes meanwhile
    (root / "hold-10").unlink()
    code, out = _finish(slow)
    assert code == 1, out
    assert "changed while this run wrote it" in out and "Run again" in out
    _clean_failure(out)
    counts = _gen_counts(root)
    assert counts == {1: 3, 20: 3}, counts  # the fast run's rows are there, the failed run's are not
    assert sparkmodels.run(root, spark=spark, vars={"gen": 10}).success  # again: on the current version
    assert _gen_counts(root) == {1: 3, 20: 3, 10: 3}
    assert not list((root / "warehouse/demo/.versions/up/_leases").iterdir())


def _gen_counts(root: Path) -> dict[int, int]:
    import collections

    import pyarrow.parquet as pq

    return dict(collections.Counter(pq.read_table(root / "warehouse/demo/up").column("gen").to_pylist()))
