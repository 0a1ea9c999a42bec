"""Atomic table versions behind a symlink: publish, current, clean, leases, foreign folders (plain files, no Spark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparkmodels.errors import EnvironmentProblem, WarehouseError
from sparkmodels.execute.storage import TableLocation, local_path, version_name


def _write(loc: TableLocation, payload: str, complete: bool = True) -> Path:
    version = loc.new_version()
    version.mkdir()
    (version / "part-0.parquet").write_text(payload)
    if complete:
        (version / "_SUCCESS").write_text("")
    return version


def _write_unchecked(loc: TableLocation, payload: str) -> Path:
    """A complete version folder made without new_version() (its checks would refuse)."""
    version = loc.versions / version_name()
    version.mkdir(parents=True)
    (version / "part-0.parquet").write_text(payload)
    (version / "_SUCCESS").write_text("")
    return version


def _read(loc: TableLocation) -> str:
    return (loc.link / "part-0.parquet").read_text()


@pytest.fixture
def loc(tmp_path):
    return TableLocation(tmp_path / "warehouse", "main", "orders")


def test_never_built(loc):
    assert loc.current() is None
    assert loc.clean() == []
    assert loc.link == loc.warehouse / "main" / "orders"
    assert loc.versions == loc.warehouse / "main" / ".versions" / "orders"


def test_publish_makes_version_current_via_relative_symlink(loc):
    v1 = _write(loc, "one")
    assert loc.current() is None  # written but not published: readers see nothing yet
    loc.publish(v1)
    assert loc.link.is_symlink() and not os.path.isabs(os.readlink(loc.link))
    assert loc.current() == v1.resolve()
    assert _read(loc) == "one"


def test_new_versions_sort_in_creation_order(loc):
    names = [loc.new_version().name for _ in range(50)]
    assert names == sorted(names) and len(set(names)) == 50


def test_previous_complete_version_kept_older_removed(loc):
    versions = []
    for i in range(4):
        v = _write(loc, f"v{i}")
        loc.publish(v)
        removed = loc.clean()
        versions.append(v)
        assert _read(loc) == f"v{i}"
        if i >= 2:
            assert removed == [versions[i - 2]]
    remaining = sorted(p.name for p in loc.versions.iterdir() if p.name.startswith("v"))
    assert remaining == sorted([versions[2].name, versions[3].name])
    assert loc.current() == versions[3].resolve()


def test_orphaned_partial_versions_are_removed(loc):
    v1 = _write(loc, "one")
    loc.publish(v1)
    crashed = _write(loc, "half", complete=False)  # a killed write: no _SUCCESS, never published
    loc.leases.release(loc.versions, crashed.name)  # ... and its process is gone
    v2 = _write(loc, "two")
    loc.publish(v2)
    removed = loc.clean()
    assert crashed in removed and not crashed.exists()
    assert v1.exists()  # the previous complete version stays for readers still on it
    assert _read(loc) == "two"


def test_newer_unpublished_version_is_left_for_a_concurrent_writer(loc):
    v1 = _write(loc, "one")
    loc.publish(v1)
    in_progress = _write(loc, "writing", complete=False)
    assert loc.clean() == []
    assert in_progress.exists()


def test_keep_zero_removes_all_but_current(loc):
    for i in range(3):
        v = _write(loc, str(i))
        loc.publish(v)
    loc.clean(keep=0)
    assert [p.name for p in loc.versions.iterdir() if p.name.startswith("v")] == [loc.current().name]


def test_a_folder_another_tool_wrote_at_the_table_path_is_never_adopted_or_removed(loc):
    loc.link.mkdir(parents=True)
    (loc.link / "precious.txt").write_text("not yours")
    assert loc.current() == loc.link  # readable as is
    with pytest.raises(WarehouseError, match=r"a folder sparkmodels did not create .*never adopts, moves or deletes"):
        loc.new_version()  # refused before Spark would write anything
    assert not loc.versions.exists() or not any(p.name.startswith("v") for p in loc.versions.iterdir())
    v = _write_unchecked(loc, "ours")
    with pytest.raises(WarehouseError, match="did not create"):
        loc.publish(v)
    assert not v.exists()  # the refused version is discarded
    loc.clean(keep=0)
    assert (loc.link / "precious.txt").read_text() == "not yours" and not loc.link.is_symlink()


@pytest.mark.parametrize("make_foreign", [
    lambda link, tmp: link.write_text("a file"),
    lambda link, tmp: link.symlink_to(tmp),
])
def test_a_file_or_foreign_symlink_at_the_table_path_is_refused(tmp_path, make_foreign):
    loc = TableLocation(tmp_path / "warehouse", "main", "orders")
    loc.link.parent.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make_foreign(loc.link, outside)
    with pytest.raises(WarehouseError, match="never adopts"):
        loc.new_version()
    assert os.path.lexists(loc.link) and outside.is_dir()


def test_an_older_sparkmodels_in_place_table_is_adopted_as_the_previous_version(loc):
    loc.link.mkdir(parents=True)
    (loc.link / "part-0.parquet").write_text("in place")
    (loc.link / "_sparkmodels.json").write_text("{}")  # our marker: written by sparkmodels
    v1 = _write(loc, "ours")
    loc.publish(v1)
    assert loc.link.is_symlink() and _read(loc) == "ours"
    adopted = [p for p in loc.versions.iterdir() if "adopted" in p.name]
    assert len(adopted) == 1 and (adopted[0] / "part-0.parquet").read_text() == "in place"
    assert loc.clean() == []  # the adopted folder is the previous version and is kept
    v2 = _write(loc, "again")
    loc.publish(v2)
    assert adopted[0] in loc.clean()  # and goes away like any older version


@pytest.mark.parametrize("schema, name", [("../../victim", "t"), ("/abs", "t"), ("main", ".."), ("main", "a/b")])
def test_names_that_are_paths_are_refused_before_anything_is_written(tmp_path, schema, name):
    with pytest.raises(WarehouseError, match="writes only inside the warehouse"):
        TableLocation(tmp_path / "wh", schema, name)
    assert not (tmp_path / "wh").exists() and not (tmp_path / "victim").exists()


def test_a_schema_folder_symlinked_out_of_the_warehouse_is_refused(tmp_path):
    (tmp_path / "wh").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "wh" / "main").symlink_to(tmp_path / "outside")
    loc = TableLocation(tmp_path / "wh", "main", "t")
    with pytest.raises(WarehouseError, match="outside the warehouse"):
        loc.new_version()
    assert list((tmp_path / "outside").iterdir()) == []


def test_clean_and_discard_touch_only_version_folders(loc):
    v1 = _write(loc, "one")
    loc.publish(v1)
    stranger = loc.versions / "notes"
    stranger.mkdir()
    loc.clean(keep=0)
    assert stranger.is_dir()
    with pytest.raises(WarehouseError, match="is not a version"):
        loc.discard(loc.warehouse / "main")
    assert (loc.warehouse / "main").is_dir()


def test_an_unpublished_complete_orphan_never_costs_the_previous_published_version(loc):
    v1 = _write(loc, "one")
    loc.publish(v1)
    v2 = _write(loc, "two")
    loc.publish(v2)
    orphan = _write(loc, "crashed after commit")  # complete, never published, its writer gone
    loc.leases.release(loc.versions, orphan.name)
    v3 = _write(loc, "three")
    loc.publish(v3)
    removed = loc.clean()
    assert orphan in removed and v1 in removed
    assert v2.exists() and loc.previous() == v2.name  # readers a moment ago were on v2


def test_an_older_version_in_progress_is_kept_while_its_lease_is_held(tmp_path):
    wh = tmp_path / "wh"
    slow = TableLocation(wh, "main", "t")  # two writers, each with its own leases (two runs)
    fast = TableLocation(wh, "main", "t")
    long_write = slow.new_version()
    long_write.mkdir()
    (long_write / "_temporary").mkdir()  # Spark is still writing it
    short = _write(fast, "short")
    fast.publish(short)
    assert fast.clean() == [] and (long_write / "_temporary").is_dir()
    slow.leases.release(slow.versions, long_write.name)  # its writer is gone
    assert fast.clean() == [long_write]


def test_a_lease_of_a_killed_process_is_dead(tmp_path):
    import subprocess
    import sys

    wh = tmp_path / "wh"
    code = ("import sys, time; from pathlib import Path; from sparkmodels.execute.storage import TableLocation;"
            f"v = TableLocation(Path({str(wh)!r}), 'main', 't').new_version(); v.mkdir(); print(v, flush=True);"
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        version = Path(proc.stdout.readline().strip())
        loc = TableLocation(wh, "main", "t")
        assert loc.clean() == [] and version.is_dir()  # alive: left alone
    finally:
        proc.kill()
        proc.wait()
    assert loc.clean() == [version] and not (loc.versions / "_leases" / version.name).exists()


def test_publish_is_a_compare_and_swap_on_the_base_version(tmp_path):
    wh = tmp_path / "wh"
    a, b = TableLocation(wh, "main", "t"), TableLocation(wh, "main", "t")
    va = a.new_version()  # both start from "no table"
    vb = _write(b, "b")
    va.mkdir()
    (va / "_SUCCESS").write_text("")
    b.publish(vb)
    with pytest.raises(WarehouseError, match=r"changed while this run wrote it.*another run published"):
        a.publish(va)
    assert not va.exists() and b.current() == vb.resolve()
    vc = _write(a, "c")  # a new write starts from b's version and publishes
    a.publish(vc, expected_base=vb.name)
    assert _read(a) == "c"


def test_discard(loc):
    v = _write(loc, "x", complete=False)
    loc.discard(v)
    assert not v.exists()


def test_dangling_link_is_not_current(loc):
    v = _write(loc, "x")
    loc.publish(v)
    loc.discard(v)
    assert loc.current() is None


@pytest.mark.parametrize("uri, expected", [
    ("/data/wh", "/data/wh"),
    ("file:///data/wh", "/data/wh"),
    ("file:/data/wh", "/data/wh"),
    ("relative/wh", "relative/wh"),
])
def test_local_path(uri, expected):
    assert local_path(uri) == Path(expected)


def test_remote_warehouse_is_rejected():
    with pytest.raises(EnvironmentProblem, match="not a local path"):
        local_path("s3a://bucket/wh")


def test_warehouse_behind_a_symlink_keeps_the_current_version(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    loc = TableLocation(tmp_path / "alias" / "wh", "main", "t")
    for i in range(3):
        v = _write(loc, str(i))
        loc.publish(v)
        loc.clean()
        assert _read(loc) == str(i)  # clean() must never delete the version readers see
    assert len([p for p in loc.versions.iterdir() if p.name.startswith("v")]) == 2
