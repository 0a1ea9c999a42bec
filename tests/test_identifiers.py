"""Schema, alias and name values are one folder name each: paths are refused, located, before Spark starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sparkmodels.app.cli import cli
from sparkmodels.errors import ProjectError
from sparkmodels.project.config import load_config
from sparkmodels.project.identifiers import check_identifier, identifier_problem


@pytest.mark.parametrize("value", ["../../../../tmp/victim", "/abs/path", "a/b", "..", ".", ".versions", "", "  ",
                                   "a\\b", "x`y", "s3a:x", "a\x00b", 3])
def test_paths_and_quoting_breakers_are_refused(value):
    assert identifier_problem(value) is not None
    with pytest.raises(ProjectError, match="config schema"):
        check_identifier(value, "config schema", node="m", path="models/m.sql", line=2)


@pytest.mark.parametrize("value", ["analytics", "nyc_taxi_seeds", "stg-2020", "a.b", "Ünïcode"])
def test_ordinary_names_pass(value):
    assert identifier_problem(value) is None


def _compile(root):
    return CliRunner().invoke(cli, ["compile", "--project-dir", str(root)])


def test_in_file_config_schema_with_a_path_is_a_located_error(make_project, tmp_path):
    root = make_project({"models/a.sql": "select 1 as x\n{{ config(schema='../../../../tmp/victim') }}\n"})
    res = _compile(root)
    assert res.exit_code == 2, res.output
    assert "Project error in a (models/a.sql:2): config schema '../../../../tmp/victim'" in res.output
    assert "Traceback" not in res.output


def test_schema_yaml_alias_and_project_tree_schema_are_located(make_project):
    root = make_project({"models/a.sql": "select 1 as x",
                         "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    config:\n      alias: ../up\n"})
    res = _compile(root)
    assert res.exit_code == 2 and "(models/schema.yml:5): config alias '../up'" in res.output, res.output
    root = make_project({"models/b.sql": "select 1 as x",
                         "project.yml": "name: demo\nversion: '1'\nmodels:\n  demo:\n    +schema: /etc\n"},
                        name="p2")
    res = _compile(root)
    assert res.exit_code == 2 and "(project.yml:5): config schema '/etc'" in res.output, res.output


def test_target_schema_must_be_an_identifier(make_project):
    root = make_project({"project.yml": "name: demo\nversion: '1'\ntargets:\n  dev:\n    schema: /abs/path\n"})
    with pytest.raises(ProjectError, match=r"target 'dev': schema '/abs/path' must not contain '/'") as err:
        load_config(root)
    assert err.value.path == "project.yml"

