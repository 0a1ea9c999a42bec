"""target/compiled writing: unchanged files are left alone, changed ones replaced exactly (no Spark)."""

from __future__ import annotations

import os

import sparkmodels
from sparkmodels.report.artifacts import write_if_changed


def test_write_if_changed(tmp_path):
    path = tmp_path / "x.sql"
    assert write_if_changed(path, "select 1\nfrom a_long_table_name\n") is True
    before = os.stat(path)
    assert write_if_changed(path, "select 1\nfrom a_long_table_name\n") is False
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert write_if_changed(path, "select 2") is True  # shorter: the old tail must go
    assert path.read_text() == "select 2"
    assert write_if_changed(path, "select 3") is True  # same length, other bytes
    assert path.read_text() == "select 3"
    assert write_if_changed(path, "select 2 + caf\u00e9") is True  # longer
    assert path.read_bytes() == "select 2 + caf\u00e9".encode()
    assert write_if_changed(path, "") is True and path.read_bytes() == b""
    assert write_if_changed(tmp_path / "new.sql", "x\ny\u2603\n", absent=True) is True
    (tmp_path / "ref.sql").write_text("x\ny\u2603\n", encoding="utf-8")
    assert (tmp_path / "new.sql").read_bytes() == (tmp_path / "ref.sql").read_bytes()


def test_recompile_rewrites_only_changed_files(make_project):
    root = make_project({"models/a.sql": "select 1 as id", "models/sub/b.sql": "select * from {{ ref('a') }}",
                         "models/schema.yml": "models:\n  - name: b\n    columns:\n      - name: id\n"
                                              "        tests: [not_null]\n"})
    sparkmodels.compile(root)
    base = root / "target/compiled/demo/models"
    files = {p: p.stat().st_mtime_ns for p in base.rglob("*.sql")}
    assert {p.relative_to(base).as_posix() for p in files} == {"a.sql", "sub/b.sql",
                                                               "schema.yml/not_null_b_id.sql"}
    (root / "models/a.sql").write_text("select 2 as id")
    os.utime(base / "sub/b.sql", ns=(1, 1))
    os.utime(base / "a.sql", ns=(1, 1))
    sparkmodels.compile(root)
    assert (base / "a.sql").read_text() == "select 2 as id"
    assert (base / "a.sql").stat().st_mtime_ns != 1
    assert (base / "sub/b.sql").stat().st_mtime_ns == 1  # same SQL: not rewritten
    assert (base / "sub/b.sql").read_text() == "select * from `a`"
