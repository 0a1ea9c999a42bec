"""target/ artifacts: compiled files rewritten only when changed; manifest.json's test nodes as dbt's (no Spark)."""

from __future__ import annotations

import json
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


def test_manifest_writes_tests_as_dbt_not_as_config(make_project):
    """Generic tests carry test_metadata/attached_node/column_name, unit tests sit in unit_tests (dbt
    1.8+); neither puts its internals in config, which is only what the user configured."""
    root = make_project({
        "models/a.sql": "select 1 as id, 'x' as kind",
        "tests/no_rows.sql": "select * from {{ ref('a') }} where id < 0",
        "models/schema.yml": """
            models:
              - name: a
                columns:
                  - name: kind
                    tests:
                      - accepted_values: {values: [x, y], severity: warn}
            unit_tests:
              - name: a_is_one
                model: a
                given: []
                expect:
                  rows: [{id: 1, kind: x}]
            """})
    sparkmodels.compile(root)
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    generic = manifest["nodes"]["test.demo.accepted_values_a_kind__x__y"]
    assert generic["test_metadata"] == {"name": "accepted_values", "namespace": None, "kwargs": {
        "column_name": "kind", "values": ["x", "y"], "model": "{{ get_where_subquery(ref('a')) }}"}}
    assert generic["attached_node"] == "model.demo.a" and generic["column_name"] == "kind"
    assert generic["config"]["severity"] == "warn"
    singular = manifest["nodes"]["test.demo.no_rows"]
    assert "test_metadata" not in singular and singular["config"]["materialized"] == "test"
    internals = {"test_name", "test_type", "attached_node", "column_name", "kwargs", "builtin", "yaml_line",
                 "given", "expect", "var_overrides", "description"}
    assert not internals & set(generic["config"]) and not internals & set(singular["config"])
    assert "unit_test.demo.a.a_is_one" not in manifest["nodes"]
    unit = manifest["unit_tests"]["unit_test.demo.a.a_is_one"]
    assert unit["resource_type"] == "unit_test" and unit["model"] == "a"
    assert unit["given"] == [] and unit["expect"] == {"rows": [{"id": 1, "kind": "x"}], "format": "dict"}
    assert not internals & set(unit["config"])
