"""state:new / state:modified[.body|.configs|.relation|.macros] and result:<status> on a pair of manifests (no Spark)."""

from __future__ import annotations

import json
import shutil

import pytest

import sparkmodels
from sparkmodels.errors import SelectionError
from sparkmodels.select.state import load_state, selector_context

BEFORE = {
    "project.yml": "name: demo\nversion: '1'\n",
    "macros/money.sql": "{% macro cents(col) %}({{ col }} / 100){% endmacro %}",
    "macros/other.sql": "{% macro other(col) %}{{ col }}{% endmacro %}",
    "models/a.sql": "select 1 as id",
    "models/b.sql": "{{ config(materialized='table') }}select * from {{ ref('a') }}",
    "models/c.sql": "select {{ cents('id') }} as amount from {{ ref('b') }}",
    "models/d.sql": "select * from {{ ref('a') }}",
    "models/e.sql": "select * from {{ ref('d') }}",
    "models/f.sql": "select {{ other('id') }} as id from {{ ref('a') }}",
    "models/schema.yml": "models:\n  - name: a\n    columns:\n      - name: id\n        tests: [not_null]\n",
}
CHANGES = {
    "models/a.sql": "select 2 as id",  # body
    "models/b.sql": "{{ config(materialized='table', tags=['x']) }}select * from {{ ref('a') }}",  # configs
    "macros/money.sql": "{% macro cents(col) %}({{ col }} / 100.0){% endmacro %}",  # c's macro
    "models/d.sql": "{{ config(schema='other') }}select * from {{ ref('a') }}",  # relation
    "models/new_one.sql": "select * from {{ ref('e') }}",  # new
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(current project, state dir holding the manifest before CHANGES)."""
    from conftest import write_files

    base = tmp_path_factory.mktemp("state")
    root = write_files(base / "proj", BEFORE)
    sparkmodels.compile(root)
    state = shutil.copytree(root / "target", base / "prod-target")
    (state / "run_results.json").write_text(json.dumps({"args": {"command": "build"}, "results": [
        {"unique_id": "model.demo.a", "status": "success"},
        {"unique_id": "model.demo.b", "status": "error"},
        {"unique_id": "model.demo.c", "status": "skipped"},
        {"unique_id": "test.demo.not_null_a_id", "status": "fail"},
    ]}))
    write_files(root, CHANGES)
    return root, state


def _ls(pair, selector, types=("model",)):
    root, state = pair
    nodes, warnings = sparkmodels.ls(root, select=selector, state=state, resource_types=types)
    return sorted(n.name for n in nodes)


@pytest.mark.parametrize("selector, expected", [
    ("state:new", ["new_one"]),
    ("state:old", ["a", "b", "c", "d", "e", "f"]),
    ("state:modified.body", ["a", "b", "d"]),  # b and d's files changed (a config() call is in the body)
    ("state:modified.configs", ["b", "d"]),
    ("state:modified.relation", ["d"]),
    ("state:modified.macros", ["c"]),
    ("state:modified", ["a", "b", "c", "d", "new_one"]),
    ("state:unmodified", ["e", "f"]),
    ("state:modified+", ["a", "b", "c", "d", "e", "f", "new_one"]),
    ("state:modified.macros+", ["c"]),
    ("state:modified.relation+", ["d", "e", "new_one"]),
    ("state:modified,config.materialized:table", ["b"]),
    ("result:error", ["b"]),
    ("result:skipped+", ["c"]),
    ("result:success", ["a"]),
    ("result:error+ result:skipped", ["b", "c"]),
])
def test_state_selectors(pair, selector, expected):
    assert _ls(pair, selector) == expected


def test_result_fail_selects_tests(pair):
    assert _ls(pair, "result:fail", types=("test",)) == ["not_null_a_id"]


def test_exclude_with_state(pair):
    root, state = pair
    nodes, _ = sparkmodels.ls(root, select="state:modified+", exclude="state:new", state=state,
                              resource_types=("model",))
    assert "new_one" not in {n.name for n in nodes}


def test_unchanged_project_is_unmodified(tmp_path):
    from conftest import write_files

    root = write_files(tmp_path / "p", BEFORE)
    sparkmodels.compile(root)
    state = shutil.copytree(root / "target", tmp_path / "s")
    nodes, warnings = sparkmodels.ls(root, select="state:modified", state=state)
    assert nodes == [] and "matched nothing" in warnings[0]


def test_macro_dependency_chain(tmp_path):
    """A macro that calls a changed macro makes its callers modified too (checksum per file)."""
    from conftest import write_files

    files = {**BEFORE, "macros/money.sql": "{% macro cents(col) %}{{ inner(col) }}{% endmacro %}",
             "macros/inner.sql": "{% macro inner(col) %}({{ col }} / 100){% endmacro %}"}
    root = write_files(tmp_path / "p", files)
    sparkmodels.compile(root)
    state = shutil.copytree(root / "target", tmp_path / "s")
    write_files(root, {"macros/inner.sql": "{% macro inner(col) %}({{ col }} / 1000){% endmacro %}"})
    nodes, _ = sparkmodels.ls(root, select="state:modified.macros", state=state)
    assert [n.name for n in nodes] == ["c"]


@pytest.mark.parametrize("selector, state_kind, message", [
    ("state:modifed", "ok", "Did you mean 'modified'"),
    ("state:modified.bodyy", "ok", "modified.body"),
    ("result:errors", "ok", "Did you mean 'error'"),
    ("state:new", None, "needs --state"),
    ("state:new", "empty", "has no manifest.json"),
    ("state:new", "missing", "is not a directory"),
])
def test_state_errors(pair, tmp_path, selector, state_kind, message):
    root, state = pair
    state_dir = {"ok": state, None: None, "empty": tmp_path, "missing": tmp_path / "nope"}[state_kind]
    with pytest.raises(SelectionError) as exc:
        sparkmodels.ls(root, select=selector, state=state_dir)
    assert message in str(exc.value)


def test_result_without_run_results(pair, tmp_path):
    root, state = pair
    only_manifest = tmp_path / "s"
    only_manifest.mkdir()
    shutil.copy(state / "manifest.json", only_manifest / "manifest.json")
    with pytest.raises(SelectionError, match="needs a run_results.json"):
        sparkmodels.ls(root, select="result:error", state=only_manifest)


def test_manifest_records_warehouse_for_defer(pair):
    root, state = pair
    prev = load_state(state)
    assert prev.warehouse and prev.warehouse.endswith("warehouse") and prev.schema == "demo"
    assert set(selector_context(sparkmodels.load_project(root).manifest, prev)) == {"state", "result"}


def test_cli_state_option(pair):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    root, state = pair
    out = CliRunner().invoke(cli, ["ls", "--project-dir", str(root), "-s", "state:modified.configs",
                                   "--state", str(state), "-o", "name"])
    assert out.exit_code == 0, out.output
    assert out.output.split() == ["b", "d"]


def test_blank_lines_in_schema_yaml_modify_nothing(tmp_path):
    """Test internals (their YAML line among them) are not config: moving a test down the file by two
    blank lines changes no node, neither models nor their generic or unit tests."""
    from conftest import write_files

    files = {**BEFORE, "models/schema.yml": BEFORE["models/schema.yml"] + (
        "unit_tests:\n  - name: a_is_one\n    model: a\n    given: []\n    expect:\n      rows: [{id: 1}]\n")}
    root = write_files(tmp_path / "p", files)
    sparkmodels.compile(root)
    state = shutil.copytree(root / "target", tmp_path / "s")
    schema = root / "models" / "schema.yml"
    schema.write_text("\n\n" + schema.read_text(encoding="utf-8"), encoding="utf-8")
    nodes, _ = sparkmodels.ls(root, select="state:modified", state=state, resource_types=("model", "test"))
    assert [n.name for n in nodes] == []
    tests, _ = sparkmodels.ls(root, select="state:unmodified", state=state, resource_types=("test",))
    assert sorted(n.name for n in tests) == ["a_is_one", "not_null_a_id"]


def test_modified_contract(tmp_path):
    """dbt's state:modified.contract: an enforced contract whose columns or types changed."""
    from conftest import write_files

    schema = ("version: 2\nmodels:\n  - name: c\n    config: {contract: {enforced: true}}\n"
              "    columns:\n      - {name: id, data_type: int}\n")
    root = write_files(tmp_path / "p", {**BEFORE, "models/contract.yml": schema})
    sparkmodels.compile(root)
    state = shutil.copytree(root / "target", tmp_path / "s")
    assert sparkmodels.ls(root, select="state:modified", state=state)[0] == []
    write_files(root, {"models/contract.yml": schema.replace("data_type: int", "data_type: bigint")})
    nodes, _ = sparkmodels.ls(root, select="state:modified.contract", state=state)
    assert [n.name for n in nodes] == ["c"]
    assert sparkmodels.ls(root, select="state:modified.configs", state=state)[0] == []
