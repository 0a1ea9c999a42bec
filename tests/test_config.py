"""project.yml / dbt_project.yml, config trees and precedence, targets, profiles.yml and --vars (no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

import sparkmodels
from sparkmodels.errors import CompilationError, ProjectError
from sparkmodels.project.config import load_config, parse_cli_vars, resolve_tree

TREE_PROJECT = """
name: demo
version: '2.1'
models:
  demo:
    +materialized: table
    +tags: [top]
    staging:
      +materialized: view
      +schema: stg
      +tags: stg
      deep:
        +materialized: ephemeral
        +partition_by: [day]
    marts:
      materialized: table
      tags: [mart]
    legacy:
      +enabled: false
seeds:
  demo:
    +schema: raw
    lookups:
      +enabled: false
"""


@pytest.fixture
def tree_project(make_project):
    return make_project({
        "project.yml": TREE_PROJECT,
        "models/top.sql": "select 1 as x",
        "models/staging/s_plain.sql": "select 1 as x",
        "models/staging/s_inline.sql": "{{ config(materialized='table', tags=['inline']) }}\nselect 2 as x",
        "models/staging/s_yml.sql": "select 3 as x",
        "models/staging/s_both.sql": "{{ config(materialized='incremental') }}\nselect 4 as x",
        "models/staging/schema.yml": """
            version: 2
            models:
              - name: s_yml
                config:
                  materialized: table
                  tags: [yml]
              - name: s_both
                config:
                  materialized: table
        """,
        "models/staging/deep/d1.sql": "select 1 as day",
        "models/marts/m.sql": "select * from {{ ref('s_plain') }}",
        "models/legacy/old.sql": "select 1",
        "seeds/a.csv": "x\n1\n",
        "seeds/lookups/b.csv": "x\n1\n",
    })


def _model(project, name):
    return project.manifest.nodes[f"model.demo.{name}"]


def test_project_yml_keys(make_project):
    root = make_project({
        "project.yml": """
            name: keys
            version: "3.0"
            model-paths: [sql]
            seed-paths: [csvs]
            macro-paths: [jinja]
            test-paths: [checks]
            target-path: build
            vars:
              start: '2020-01'
              codes: [1, 2]
        """,
        "sql/m.sql": "select {{ var('codes')[1] }} as c, '{{ var('start') }}' as s, {{ two() }} as t",
        "jinja/two.sql": "{% macro two() %}2{% endmacro %}",
        "csvs/lookup.csv": "id\n1\n",
        "models/ignored.sql": "select 1",
    })
    config = load_config(root)
    assert config.name == "keys" and config.version == "3.0"
    assert config.config_file == "project.yml"
    assert (config.model_paths, config.seed_paths, config.macro_paths, config.test_paths) == (
        ("sql",), ("csvs",), ("jinja",), ("checks",))
    assert config.target_dir == root.resolve() / "build"
    assert config.vars["codes"] == (1, 2)

    project = sparkmodels.load_project(root)
    names = {n.name for n in project.manifest.nodes.values()}
    assert names == {"m", "lookup"}  # models/ is not a model path here
    assert project.manifest.nodes["model.keys.m"].rendered.strip() == "select 2 as c, '2020-01' as s, 2 as t"

    sparkmodels.compile(root)
    assert (root / "build" / "manifest.json").is_file()
    assert (root / "build" / "compiled" / "keys" / "sql" / "m.sql").is_file()


def test_defaults_when_keys_missing(make_project):
    config = load_config(make_project({}))
    assert config.model_paths == ("models",) and config.seed_paths == ("seeds",)
    assert config.macro_paths == ("macros",) and config.target_path == "target"
    assert dict(config.vars) == {}


def test_project_needs_a_name(make_project):
    root = make_project({"project.yml": "version: '1'\n"})
    with pytest.raises(ProjectError, match="needs a 'name'") as info:
        load_config(root)
    assert info.value.path == "project.yml"


def test_missing_project_file(tmp_path):
    with pytest.raises(ProjectError, match=r"no project\.yml"):
        load_config(tmp_path)


def test_folder_tree_materialized_schema_tags_enabled_partition_by(tree_project):
    p = sparkmodels.load_project(tree_project)
    top, plain, deep, mart = (_model(p, n) for n in ("top", "s_plain", "d1", "m"))
    assert top.materialized == "table" and list(top.config["tags"]) == ["top"]
    assert plain.materialized == "view"  # deeper folder wins over the project level
    assert plain.config["schema"] == "stg"
    assert list(plain.config["tags"]) == ["top", "stg"]  # tags add up from folder to folder
    assert deep.materialized == "ephemeral" and list(deep.config["partition_by"]) == ["day"]
    assert deep.config["schema"] == "stg" and list(deep.config["tags"]) == ["top", "stg"]
    # keys without '+' are accepted when they are known config keys
    assert mart.materialized == "table" and list(mart.config["tags"]) == ["top", "mart"]
    # +enabled: false removes the model (and the seed in seeds/lookups)
    assert "model.demo.old" not in p.manifest.nodes
    assert "seed.demo.a" in p.manifest.nodes and "seed.demo.b" not in p.manifest.nodes
    assert p.manifest.nodes["seed.demo.a"].config["schema"] == "raw"


def test_precedence_inline_over_yaml_over_tree(tree_project):
    p = sparkmodels.load_project(tree_project)
    inline, yml, both = (_model(p, n) for n in ("s_inline", "s_yml", "s_both"))
    assert inline.materialized == "table"  # in-file config over the folder's view
    assert list(inline.config["tags"]) == ["top", "stg", "inline"]
    assert yml.materialized == "table"  # schema YAML config over the folder's view
    assert list(yml.config["tags"]) == ["top", "stg", "yml"]
    assert both.materialized == "incremental"  # in-file config over schema YAML


def test_default_materialization_is_view(make_project):
    p = sparkmodels.load_project(make_project({"models/a.sql": "select 1"}))
    assert p.manifest.nodes["model.demo.a"].config["materialized"] == "view"


@pytest.mark.parametrize("fqn, expected", [
    (("demo", "top"), {"materialized": "table", "tags": ["top"]}),
    (("demo", "staging", "x"), {"materialized": "view", "tags": ["top", "stg"], "schema": "stg"}),
    (("demo", "staging", "deep", "x"),
     {"materialized": "ephemeral", "tags": ["top", "stg"], "schema": "stg", "partition_by": ["day"]}),
    (("other", "x"), {}),
])
def test_resolve_tree(fqn, expected):
    from sparkmodels.project.yamlio import parse_yaml

    tree = parse_yaml(TREE_PROJECT, "project.yml")["models"]
    got = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in resolve_tree(tree, fqn).items()}
    assert got == expected


def test_dbt_project_yml_with_profile_key(make_project, tmp_path):
    root = tmp_path / "dbtproj"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: dbtp\nversion: '1'\nprofile: somewhere_else\n"
                                          "models:\n  dbtp:\n    +materialized: table\n")
    (root / "models" / "a.sql").write_text("select 1")
    config = load_config(root)
    assert config.config_file == "dbt_project.yml"
    assert config.target.name == "local"  # an unusable dbt profile falls back to the local target
    p = sparkmodels.load_project(root)
    assert p.manifest.nodes["model.dbtp.a"].materialized == "table"


def test_project_yml_wins_over_dbt_project_yml(make_project):
    root = make_project({"dbt_project.yml": "name: other\n"})
    assert load_config(root).name == "demo"


def test_default_local_target(make_project):
    root = make_project({})
    target = load_config(root).target
    assert target.name == "local" and target.master == "local[*]" and target.remote is None
    assert Path(target.warehouse) == root.resolve() / "warehouse"
    assert target.schema == "demo" and target.threads == 1


TARGETS = """
name: demo
target: dev
targets:
  dev:
    master: local[2]
    warehouse: wh_dev
    schema: dev_s
    threads: 4
    conf:
      spark.sql.shuffle.partitions: 3
      spark.sql.adaptive.enabled: true
  prod:
    master: "{{ env_var('SM_TEST_MASTER') }}"
    warehouse: /tmp/sm_prod_wh
    threads: "{{ env_var('SM_TEST_THREADS', '2') }}"
"""


def test_targets_in_project_yml(make_project, monkeypatch):
    monkeypatch.delenv("SPARKMODELS_TARGET", raising=False)
    root = make_project({"project.yml": TARGETS})
    dev = load_config(root).target
    assert (dev.name, dev.master, dev.schema, dev.threads) == ("dev", "local[2]", "dev_s", 4)
    assert dev.warehouse == str(root.resolve() / "wh_dev")
    assert dict(dev.conf) == {"spark.sql.shuffle.partitions": "3", "spark.sql.adaptive.enabled": "true"}
    assert load_config(root, threads=7).target.threads == 7

    monkeypatch.setenv("SM_TEST_MASTER", "spark://cluster:7077")
    prod = load_config(root, target="prod").target
    assert (prod.name, prod.master, prod.warehouse, prod.threads) == (
        "prod", "spark://cluster:7077", "/tmp/sm_prod_wh", 2)
    assert prod.schema == "demo"
    monkeypatch.setenv("SPARKMODELS_TARGET", "prod")
    assert load_config(root).target.name == "prod"


def test_env_var_missing_in_target_names_file_and_line(make_project, monkeypatch):
    monkeypatch.delenv("SM_TEST_MASTER", raising=False)
    root = make_project({"project.yml": TARGETS})
    with pytest.raises(CompilationError, match="SM_TEST_MASTER") as info:
        load_config(root, target="prod")
    assert info.value.path == "project.yml"
    assert info.value.line == 13  # the line of the prod target


def test_unknown_target_is_an_error(make_project):
    root = make_project({"project.yml": TARGETS})
    with pytest.raises(ProjectError, match=r"target 'qa'.*known targets: dev, prod"):
        load_config(root, target="qa")


def test_unknown_default_target_is_an_error(make_project):
    root = make_project({"project.yml": "name: demo\ntarget: prd\ntargets:\n  prod: {master: 'local[1]'}\n"})
    with pytest.raises(ProjectError, match=r"target 'prd' \(from the default 'target:'\) is not defined"):
        load_config(root)


def test_profiles_yml_our_shape(make_project):
    root = make_project({"profiles.yml": """
        target: b
        targets:
          a: {master: 'local[1]'}
          b: {master: 'local[3]', schema: bee}
    """})
    config = load_config(root)
    assert (config.target.name, config.target.master, config.target.schema) == ("b", "local[3]", "bee")
    assert load_config(root, target="a").target.master == "local[1]"


def test_profiles_yml_dbt_shape(make_project, monkeypatch):
    monkeypatch.setenv("SM_TEST_SCHEMA", "from_env")
    root = make_project({
        "dbt_project.yml": "name: dp\nversion: '1'\nprofile: taxi\n",
        "profiles.yml": """
            taxi:
              target: dev
              outputs:
                dev:
                  master: local[2]
                  schema: "{{ env_var('SM_TEST_SCHEMA') }}"
                  threads: 3
                prod:
                  remote: sc://host:15002
        """,
    })
    (root / "project.yml").unlink()
    dev = load_config(root).target
    assert (dev.name, dev.master, dev.schema, dev.threads) == ("dev", "local[2]", "from_env", 3)
    prod = load_config(root, target="prod").target
    assert prod.remote == "sc://host:15002" and prod.master is None
    with pytest.raises(ProjectError, match="known targets: dev, prod"):
        load_config(root, target="staging")


@pytest.mark.parametrize("text, expected", [
    ("{start: '2020-01', n: 3}", {"start": "2020-01", "n": 3}),
    ('{"a": [1, 2]}', {"a": [1, 2]}),
    ("a: true", {"a": True}),
    ("", {}),
])
def test_parse_cli_vars(text, expected):
    assert parse_cli_vars(text) == expected


@pytest.mark.parametrize("text", ["[1, 2]", "just a string"])
def test_parse_cli_vars_rejects_non_mappings(text):
    with pytest.raises(ProjectError, match="--vars must be a YAML mapping"):
        parse_cli_vars(text)


def test_cli_vars_invalid_yaml():
    with pytest.raises(ProjectError, match="invalid YAML") as info:
        parse_cli_vars("{a: [1, 2}")
    assert info.value.path == "--vars"


def test_cli_vars_override_project_vars(make_project):
    root = make_project({
        "project.yml": "name: demo\nvars:\n  start: '2019-01'\n  keep: k\n",
        "models/m.sql": "select '{{ var('start') }}' as s, '{{ var('keep') }}' as k",
    })
    p = sparkmodels.load_project(root, vars="{start: '2021-06'}")
    assert p.manifest.nodes["model.demo.m"].rendered == "select '2021-06' as s, 'k' as k"
    p = sparkmodels.load_project(root, vars={"keep": "x"})
    assert p.manifest.nodes["model.demo.m"].rendered == "select '2019-01' as s, 'x' as k"


def test_folder_names_yaml_reads_as_booleans_or_numbers(make_project):
    root = make_project({
        "project.yml": """
            name: demo
            models:
              demo:
                off:
                  +materialized: table
                yes:
                  +tags: [y]
                2020:
                  +materialized: ephemeral
        """,
        "models/off/a.sql": "select 1",
        "models/yes/b.sql": "select 1",
        "models/2020/c.sql": "select 1",
    })
    nodes = sparkmodels.load_project(root).manifest.nodes
    assert nodes["model.demo.a"].materialized == "table"
    assert list(nodes["model.demo.b"].config["tags"]) == ["y"]
    assert nodes["model.demo.c"].materialized == "ephemeral"
