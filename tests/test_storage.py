"""Atomic table versions behind a symlink: publish, current, clean, adoption (plain files, no Spark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.storage import TableLocation, local_path


def _write(loc: TableLocation, payload: str, complete: bool = True) -> Path:
    version = loc.new_version()
    version.mkdir()
    (version / "part-0.parquet").write_text(payload)
    if complete:
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
    remaining = sorted(p.name for p in loc.versions.iterdir())
    assert remaining == sorted([versions[2].name, versions[3].name])
    assert loc.current() == versions[3].resolve()


def test_orphaned_partial_versions_are_removed(loc):
    v1 = _write(loc, "one")
    loc.publish(v1)
    crashed = _write(loc, "half", complete=False)  # a killed write: no _SUCCESS, never published
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
    assert [p.name for p in loc.versions.iterdir()] == [loc.current().name]


def test_plain_directory_at_link_path_is_adopted(loc):
    loc.link.mkdir(parents=True)
    (loc.link / "part-0.parquet").write_text("by another tool")
    assert loc.current() == loc.link  # readable as is
    v1 = _write(loc, "ours")
    loc.publish(v1)
    assert loc.link.is_symlink() and _read(loc) == "ours"
    adopted = [p for p in loc.versions.iterdir() if "adopted" in p.name]
    assert len(adopted) == 1 and (adopted[0] / "part-0.parquet").read_text() == "by another tool"
    assert loc.clean() == []  # the adopted directory is the previous version and is kept
    v2 = _write(loc, "again")
    loc.publish(v2)
    assert adopted[0] in loc.clean()  # and goes away like any older version


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
    assert len(list(loc.versions.iterdir())) == 2
