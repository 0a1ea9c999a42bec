"""Schema YAML files: sources (external files), model/seed patches, located errors (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import ProjectError


def _load(make_project, files):
    return sparkmodels.load_project(make_project(files))


def test_sources_schema_identifier_and_external(make_project, tmp_path):
    p = _load(make_project, {
        "models/s.yml": """
            version: 2
            sources:
              - name: raw
                schema: landing
                external:
                  location: /unused
                  format: csv
                  options: {header: true}
                tables:
                  - name: t
                    identifier: T_TABLE
                    description: the t table
                    columns:
                      - name: id
                        description: key
                  - name: u
                    external:
                      location: files/u/*.csv
              - name: plain
                tables:
                  - name: p
        """,
    })
    nodes = p.manifest.nodes
    t, u, plain = nodes["source.demo.raw.t"], nodes["source.demo.raw.u"], nodes["source.demo.plain.p"]
    assert (t.source_name, t.identifier, t.description) == ("raw", "T_TABLE", "the t table")
    assert t.columns["id"].description == "key" and t.fqn == ("demo", "raw", "t")
    assert t.external["format"] == "csv" and t.external["location"] == "/unused"
    # a table's own external refines the source's: its location, the source's format and options
    assert u.external["location"] == str(p.config.root / "files/u/*.csv")
    assert u.external["format"] == "csv" and dict(u.external["options"]) == {"header": True}
    assert plain.external is None and plain.config["schema"] == "plain"
    assert t.config["schema"] == "landing"


@pytest.mark.parametrize("location, expected", [
    ("data/x/*.parquet", "{root}/data/x/*.parquet"),
    ("/abs/path/x", "/abs/path/x"),
    ("s3a://bucket/x", "s3a://bucket/x"),
    ("file:/mnt/x", "file:/mnt/x"),
])
def test_external_location_resolution(make_project, location, expected):
    p = _load(make_project, {"models/s.yml": f"sources:\n  - name: raw\n    tables:\n      - name: t\n"
                                             f"        external:\n          location: '{location}'\n"})
    got = p.manifest.nodes["source.demo.raw.t"].external["location"]
    assert got == expected.format(root=p.config.root)


@pytest.mark.parametrize("text, message, line", [
    ("sources:\n  - name: raw\n    tables:\n      - name: t\n        external:\n          format: parquet\n",
     "external needs a 'location'", 6),
    ("sources:\n  - name: raw\n    tables:\n      - name: t\n        external:\n          location: x\n"
     "          format: xlsx\n", "external format 'xlsx' is not supported", 6),
    ("sources:\n  - tables: []\n", "each source needs a 'name'", 2),
    ("sources:\n  - name: raw\n    tables:\n      - description: x\n", "each table of source 'raw' needs a 'name'", 4),
    ("models:\n  - description: x\n", "each entry under 'models:' needs a 'name'", 2),
    ("models:\n  - name: a\n    columns:\n      - description: x\n", "each column needs a 'name'", 4),
])
def test_schema_errors_name_file_and_line(make_project, text, message, line):
    with pytest.raises(ProjectError, match=message) as info:
        _load(make_project, {"models/a.sql": "select 1", "models/s.yml": text})
    assert (info.value.path, info.value.line) == ("models/s.yml", line)


def test_model_described_twice(make_project):
    with pytest.raises(ProjectError, match="model 'a' is described twice: in models/s.yml") as info:
        _load(make_project, {"models/a.sql": "select 1", "models/s.yml": "models:\n  - name: a\n",
                             "models/t.yml": "models:\n\n  - name: a\n"})
    assert (info.value.path, info.value.line) == ("models/t.yml", 3)


def test_source_defined_twice(make_project):
    src = "sources:\n  - name: raw\n    tables:\n      - name: t\n"
    with pytest.raises(ProjectError, match=r"source table 'raw\.t' is defined twice: in models/a\.yml") as info:
        _load(make_project, {"models/a.yml": src, "models/b.yml": src})
    assert info.value.path == "models/b.yml"


def test_model_patch_columns_tests_and_meta(make_project):
    p = _load(make_project, {
        "models/a.sql": "select 1 as id",
        "models/a.yaml": """
            models:
              - name: a
                description: model a
                config:
                  tags: [from_yml]
                columns:
                  - name: id
                    description: the id
                    data_type: int
                    meta: {owner: me}
                    data_tests: [unique, not_null]
        """,
    })
    a = p.manifest.nodes["model.demo.a"]
    assert a.description == "model a" and a.patch_path == "models/a.yaml"
    assert list(a.config["tags"]) == ["from_yml"]
    col = a.columns["id"]
    assert (col.description, col.data_type, dict(col.meta), tuple(col.tests)) == (
        "the id", "int", {"owner": "me"}, ("unique", "not_null"))


def test_schema_yaml_under_seed_paths(make_project):
    p = _load(make_project, {"seeds/codes.csv": "c\n1\n",
                             "seeds/codes.yml": "seeds:\n  - name: codes\n    description: code list\n"})
    assert p.manifest.nodes["seed.demo.codes"].description == "code list"


def test_empty_schema_file_is_fine(make_project):
    p = _load(make_project, {"models/a.sql": "select 1", "models/empty.yml": ""})
    assert set(p.manifest.nodes) == {"model.demo.a"}


TYPO = """
version: 2
models:
  - name: a
    colums:
      - name: id
        tests: [unique]
sources:
  - name: raw
    tables:
      - name: t
        columns:
          - name: c
            descripton: typo too
"""


def test_unknown_schema_keys_warn_with_a_did_you_mean(make_project):
    p = _load(make_project, {"models/a.sql": "select 1 as id", "models/s.yml": TYPO})
    warnings = [w for w in p.manifest.warnings if "unknown key" in w]
    assert warnings == [
        "models/s.yml:4: unknown key 'colums' in model 'a'; it is ignored. Did you mean 'columns'?",
        "models/s.yml:13: unknown key 'descripton' in column 'c' of table 'raw.t'; it is ignored. "
        "Did you mean 'description'?",
    ]
    # the CLI prints them (ls, compile and every run command show manifest warnings)
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    out = CliRunner().invoke(cli, ["ls", "--project-dir", str(p.config.root)]).output
    assert "Did you mean 'columns'?" in out


def test_unknown_schema_keys_are_errors_with_the_strict_flag(make_project):
    with pytest.raises(ProjectError, match="unknown key 'colums' in model 'a'.*Did you mean 'columns'") as info:
        _load(make_project, {"project.yml": "name: demo\nversion: '1'\nflags: {strict_schema_yaml: true}\n",
                             "models/a.sql": "select 1 as id", "models/s.yml": TYPO})
    assert (info.value.path, info.value.line) == ("models/s.yml", 4)


def test_the_example_project_has_no_unknown_schema_keys(example_project):
    p = sparkmodels.load_project(example_project)
    assert [w for w in p.manifest.warnings if "unknown key" in w] == []
