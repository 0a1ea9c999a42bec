"""selectors.yml (dbt's YAML selectors) and the remaining grammar methods, table-driven (no Spark)."""

from __future__ import annotations

import pytest
from test_selector import FILES

import sparkmodels
from sparkmodels.errors import SelectionError
from sparkmodels.select.selectors_yaml import parse_selectors, resolve_selector

SELECTORS = """
selectors:
  - name: staging_str
    definition: "path:models/staging"
  - name: nightly_parents
    definition: {method: tag, value: nightly, parents: true}
  - name: core_children
    definition: {method: fqn, value: dim_zones, children: true}
  - name: depth
    definition: {method: fqn, value: monthly_revenue, parents: true, parents_depth: 1}
  - name: at_stg
    definition: {method: fqn, value: stg_green, childrens_parents: true}
  - name: union_excl
    definition:
      union:
        - path:models/staging
        - method: tag
          value: nightly
        - exclude:
            - stg_fhv
            - {method: fqn, value: monthly_revenue}
  - name: inter
    definition:
      intersection:
        - {method: tag, value: nightly}
        - config.materialized:table
        - "trips+"
  - name: method_exclude
    definition: {method: path, value: models/core, exclude: [trips]}
  - name: nested
    definition:
      union:
        - {method: selector, value: inter}
        - {tag: fhv}
  - name: top_exclude
    definition:
      union: [path:models/core, path:models/staging]
      exclude: [tag:nightly]
  - name: tests_only
    definition: {method: test_type, value: generic}
  - name: not_null_tests
    definition: "test_name:not_null"
  - name: seeds
    definition: {method: resource_type, value: seed}
  - name: nothing
    definition: tag:nope
"""
SCHEMA = """
models:
  - name: trips
    columns:
      - name: id
        tests: [not_null, unique]
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from conftest import write_files

    files = {**FILES, "selectors.yml": SELECTORS, "models/core/schema.yml": SCHEMA,
             "tests/singular_check.sql": "select * from {{ ref('trips') }} where 1 = 0"}
    return write_files(tmp_path_factory.mktemp("yamlsel") / "taxi", files)


def _names(project, selector, types=("model", "seed", "source")):
    nodes, warnings = sparkmodels.ls(project, selector=selector, resource_types=types)
    return sorted(n.name for n in nodes), warnings


@pytest.mark.parametrize("name, expected", [
    ("staging_str", ["fhv", "green", "stg_fhv", "stg_green", "stg_yellow", "yellow"]),  # + sources.yml
    ("nightly_parents", ["dim_zones", "green", "monthly_revenue", "stg_green", "stg_yellow", "trips", "yellow",
                         "zones"]),
    ("core_children", ["dim_zones", "monthly_revenue", "trips"]),
    ("depth", ["monthly_revenue", "trips"]),
    ("at_stg", ["dim_zones", "green", "monthly_revenue", "stg_green", "stg_yellow", "trips", "yellow", "zones"]),
    ("union_excl", ["dim_zones", "fhv", "green", "stg_green", "stg_yellow", "trips", "yellow"]),
    ("inter", ["monthly_revenue", "trips"]),
    ("method_exclude", ["dim_zones", "monthly_revenue"]),
    ("nested", ["monthly_revenue", "stg_fhv", "trips"]),
    ("top_exclude", ["fhv", "green", "stg_fhv", "stg_green", "stg_yellow", "yellow"]),
    ("seeds", ["zones"]),
])
def test_yaml_selectors(project, name, expected):
    names, warnings = _names(project, name)
    assert names == expected
    assert warnings == ()


@pytest.mark.parametrize("name, expected", [
    ("tests_only", ["not_null_trips_id", "unique_trips_id"]),
    ("not_null_tests", ["not_null_trips_id"]),
])
def test_yaml_test_methods(project, name, expected):
    names, _ = _names(project, name, types=("test",))
    assert names == expected


@pytest.mark.parametrize("selector, expected", [
    ("test_type:singular", ["singular_check"]),
    ("test_type:generic", ["not_null_trips_id", "unique_trips_id"]),
    ("test_type:data", ["not_null_trips_id", "singular_check", "unique_trips_id"]),
    ("test_type:unit", []),
    ("test_name:unique", ["unique_trips_id"]),
])
def test_test_methods_on_the_command_line(project, selector, expected):
    nodes, _ = sparkmodels.ls(project, select=selector, resource_types=("test",))
    assert sorted(n.name for n in nodes) == expected


def test_matching_nothing_warns(project):
    names, warnings = _names(project, "nothing")
    assert names == [] and any("tag:nope" in w and "matched nothing" in w for w in warnings)


def test_selector_method_inside_select(project):
    nodes, _ = sparkmodels.ls(project, select="selector:inter,config.materialized:table", resource_types=("model",))
    assert sorted(n.name for n in nodes) == ["monthly_revenue", "trips"]


@pytest.mark.parametrize("yaml_text, message", [
    ("selectors: {a: 1}", "top-level 'selectors:' list"),
    ("selectors:\n  - name: a\n", "needs a 'name' and a 'definition'"),
    ("selectors:\n  - {name: a, definition: x}\n  - {name: a, definition: y}\n", "defined twice"),
    ("selectors:\n  - {name: a, definition: x, default: true}\n  - {name: b, definition: y, default: true}\n",
     "default: true"),
])
def test_malformed_selectors_file(yaml_text, message):
    import yaml

    with pytest.raises(SelectionError, match=message):
        parse_selectors(yaml.safe_load(yaml_text))


@pytest.mark.parametrize("definition, message", [
    ({"method": "tagg", "value": "x"}, "unknown method 'tagg'"),
    ({"method": "tag"}, "needs a 'value'"),
    ({"method": "tag", "value": "x", "childs": True}, "unknown key"),
    ({"union": "tag:x"}, "'union' needs a list"),
    ({"union": ["a"], "method": "tag"}, "cannot be combined"),
    ({"method": "selector", "value": "loop"}, "selector cycle"),
    ({"method": "selector", "value": "nope"}, "no selector named 'nope'"),
    (42, "cannot read the definition"),
    ("tag:", "needs a value"),
    ("a,,b", "stray comma"),
])
def test_malformed_definitions(project, definition, message):
    sel = parse_selectors({"selectors": [{"name": "loop", "definition": definition}]})
    p = sparkmodels.load_project(project)
    with pytest.raises(SelectionError, match=message):
        resolve_selector(sel, "loop", p.manifest, p.graph)


def test_unknown_selector_name_and_select_conflict(project):
    with pytest.raises(SelectionError, match="Did you mean 'inter'"):
        sparkmodels.ls(project, selector="intr")
    with pytest.raises(SelectionError, match="either --select or --selector"):
        sparkmodels.ls(project, selector="inter", select="trips")


def test_default_selector_applies_without_select(tmp_path):
    from conftest import write_files

    sel = "selectors:\n  - {name: only_core, default: true, definition: 'path:models/core'}\n"
    root = write_files(tmp_path / "taxi", {**FILES, "selectors.yml": sel})
    nodes, _ = sparkmodels.ls(root, resource_types=("model",))
    assert sorted(n.name for n in nodes) == ["dim_zones", "monthly_revenue", "trips"]
    nodes, _ = sparkmodels.ls(root, select="stg_green", resource_types=("model",))
    assert [n.name for n in nodes] == ["stg_green"]


def test_cli_selector_option(project):
    from click.testing import CliRunner

    from sparkmodels.app.cli import cli

    out = CliRunner().invoke(cli, ["ls", "--project-dir", str(project), "--selector", "inter", "-o", "name",
                                   "--resource-type", "model"])
    assert out.exit_code == 0, out.output
    assert out.output.split() == ["trips", "monthly_revenue"]
    bad = CliRunner().invoke(cli, ["ls", "--project-dir", str(project), "-s", "tag:x,,y"])
    assert bad.exit_code == 2 and "stray comma" in bad.output
