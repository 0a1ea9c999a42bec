"""Node selection (dbt's grammar), table-driven against a small project shaped like the example (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import SelectionError
from sparkmodels.select.selector import parse, parse_atom, select

# raw.green, raw.yellow -> stg_green, stg_yellow -> trips (table) -> monthly_revenue (table)
# zones (seed) -> dim_zones (table) -> trips;  raw.fhv -> stg_fhv (tag: fhv) -> fhv_by_base (ephemeral)
FILES = {
    "project.yml": """
        name: taxi
        models:
          taxi:
            core:
              +materialized: table
              +tags: [nightly]
    """,
    "models/staging/sources.yml": """
        sources:
          - name: raw
            tables:
              - name: green
              - name: yellow
              - name: fhv
    """,
    "models/staging/stg_green.sql": "select * from {{ source('raw', 'green') }}",
    "models/staging/stg_yellow.sql": "select * from {{ source('raw', 'yellow') }}",
    "models/staging/stg_fhv.sql": "{{ config(tags=['fhv']) }}select * from {{ source('raw', 'fhv') }}",
    "models/core/dim_zones.sql": "select * from {{ ref('zones') }}",
    "models/core/trips.sql": ("select * from {{ ref('stg_green') }} union all select * from {{ ref('stg_yellow') }}"
                              " join {{ ref('dim_zones') }}"),
    "models/core/monthly_revenue.sql": "select * from {{ ref('trips') }}",
    "models/marts/fhv_by_base.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('stg_fhv') }}",
    "seeds/zones.csv": "id\n1\n",
}
ALL_TYPES = ("model", "seed", "source")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from conftest import write_files

    root = write_files(tmp_path_factory.mktemp("sel") / "taxi", FILES)
    return sparkmodels.load_project(root)


def _sel(project, selector, exclude=None, types=ALL_TYPES):
    res = select(project.manifest, project.graph, selector, exclude, resource_types=types)
    return sorted(project.manifest.nodes[u].name for u in res.selected), res.warnings


@pytest.mark.parametrize("selector, expected", [
    ("trips", ["trips"]),
    ("+trips", ["dim_zones", "green", "stg_green", "stg_yellow", "trips", "yellow", "zones"]),
    ("trips+", ["monthly_revenue", "trips"]),
    ("+trips+", ["dim_zones", "green", "monthly_revenue", "stg_green", "stg_yellow", "trips", "yellow", "zones"]),
    ("1+trips", ["dim_zones", "stg_green", "stg_yellow", "trips"]),
    ("2+monthly_revenue", ["dim_zones", "monthly_revenue", "stg_green", "stg_yellow", "trips"]),
    ("stg_green+1", ["stg_green", "trips"]),
    ("zones+1", ["dim_zones", "zones"]),
    # @: the node, its descendants and all ancestors of those descendants
    ("@stg_green", ["dim_zones", "green", "monthly_revenue", "stg_green", "stg_yellow", "trips", "yellow", "zones"]),
    ("@stg_fhv", ["fhv", "fhv_by_base", "stg_fhv"]),
    ("dim_zones stg_fhv", ["dim_zones", "stg_fhv"]),  # union
    ("+trips,stg_green+", ["stg_green", "trips"]),  # intersection
    ("staging,tag:fhv", ["stg_fhv"]),
    ("tag:nightly", ["dim_zones", "monthly_revenue", "trips"]),
    ("tag:fhv+", ["fhv_by_base", "stg_fhv"]),
    ("tag:night*", ["dim_zones", "monthly_revenue", "trips"]),
    ("path:models/staging", ["fhv", "green", "stg_fhv", "stg_green", "stg_yellow", "yellow"]),
    ("path:models/core/trips.sql", ["trips"]),
    ("models/core/trips.sql", ["trips"]),
    ("path:seeds", ["zones"]),
    ("file:trips.sql", ["trips"]),
    ("config.materialized:table", ["dim_zones", "monthly_revenue", "trips"]),
    ("config.materialized:ephemeral", ["fhv_by_base"]),
    ("config.tags:fhv", ["stg_fhv"]),
    ("source:raw", ["fhv", "green", "yellow"]),
    ("source:raw+", ["fhv", "fhv_by_base", "green", "monthly_revenue", "stg_fhv", "stg_green", "stg_yellow",
                     "trips", "yellow"]),
    ("source:raw.green+", ["green", "monthly_revenue", "stg_green", "trips"]),
    ("staging", ["stg_fhv", "stg_green", "stg_yellow"]),  # a folder name
    ("staging.*", ["stg_fhv", "stg_green", "stg_yellow"]),
    ("taxi.core.*", ["dim_zones", "monthly_revenue", "trips"]),
    ("taxi.core", ["dim_zones", "monthly_revenue", "trips"]),
    ("core.trips", ["trips"]),
    ("marts.*", ["fhv_by_base"]),
    ("*revenue*", ["monthly_revenue"]),
    ("stg_*", ["stg_fhv", "stg_green", "stg_yellow"]),
    ("resource_type:seed", ["zones"]),
    ("package:taxi,config.materialized:ephemeral", ["fhv_by_base"]),
])
def test_select(project, selector, expected):
    names, warnings = _sel(project, selector)
    assert names == expected
    assert warnings == ()


def test_project_name_selects_the_whole_project(project):
    assert len(_sel(project, "taxi")[0]) == len(project.manifest.nodes)


def test_several_select_arguments_are_a_union(project):
    assert _sel(project, ["trips", "stg_fhv"])[0] == ["stg_fhv", "trips"]


@pytest.mark.parametrize("selector, exclude, expected", [
    ("staging", "stg_fhv", ["stg_green", "stg_yellow"]),
    ("+trips", "source:raw resource_type:seed", ["dim_zones", "stg_green", "stg_yellow", "trips"]),
    ("tag:nightly", "trips+", ["dim_zones"]),
    (None, "staging core source:* zones", ["fhv_by_base"]),
])
def test_exclude(project, selector, exclude, expected):
    assert _sel(project, selector, exclude)[0] == expected


def test_resource_types_filter_after_graph_operators(project):
    assert _sel(project, "+trips", types=("model",))[0] == ["dim_zones", "stg_green", "stg_yellow", "trips"]
    assert _sel(project, None, types=("seed",))[0] == ["zones"]


def test_no_selector_selects_everything_of_the_types(project):
    names, _ = _sel(project, None)
    assert len(names) == len(project.manifest.nodes) == 11  # 3 sources, 7 models, 1 seed


@pytest.mark.parametrize("selector, suggestion", [
    ("stg_gren", "Did you mean 'stg_green'"),
    ("montly_revenue", "Did you mean 'monthly_revenue'"),
    ("tag:nightlyy", "Did you mean"),
])
def test_non_matching_selector_warns_with_suggestion(project, selector, suggestion):
    names, warnings = _sel(project, selector)
    assert names == []
    assert len(warnings) == 1 and f"'{selector}' matched nothing" in warnings[0]
    if selector != "tag:nightlyy":
        assert suggestion in warnings[0]


def test_warning_only_for_the_term_that_matched_nothing(project):
    names, warnings = _sel(project, "trips nope")
    assert names == ["trips"] and len(warnings) == 1 and "'nope'" in warnings[0]


@pytest.mark.parametrize("bad", ["+", "tag:", "tag:+", "a,,b", ",a", "a,", "bogus:x", "@", "a+b", "++a", "@+a",
                                 "config:x+"])
def test_malformed_selectors_raise(project, bad):
    with pytest.raises(SelectionError) as info:
        _sel(project, bad)
    assert bad in str(info.value) or "stray comma" in str(info.value)


def test_unknown_method_suggests(project):
    with pytest.raises(SelectionError, match="unknown selector method 'tags:'.*Did you mean 'tag'"):
        _sel(project, "tags:nightly")


def test_state_method_needs_state(project):
    with pytest.raises(SelectionError, match="needs --state"):
        _sel(project, "state:modified")


@pytest.mark.parametrize("text, fields", [
    ("m", dict(method="default", value="m", parents=False, children=False)),
    ("2+tag:x+3", dict(method="tag", value="x", parents=True, parents_depth=2, children=True, children_depth=3)),
    ("@m", dict(childrens_parents=True, parents=False)),
    ("config.materialized:table", dict(method="config.materialized", value="table")),
    ("path:models/a b", None),
])
def test_parse_atom(text, fields):
    if fields is None:
        with pytest.raises(SelectionError):
            parse_atom(text)
        return
    atom = parse_atom(text)
    for key, value in fields.items():
        assert getattr(atom, key) == value


def test_parse_union_of_intersections():
    spec = parse(["a,b c", "d"])
    assert [[x.value for x in crit] for crit in spec] == [["a", "b"], ["c"], ["d"]]
    assert parse(None) == [] and parse("   ") == []


def test_example_project_selectors(example_project):
    p = sparkmodels.load_project(example_project)
    names = lambda sel: sorted(p.manifest.nodes[u].name  # noqa: E731
                               for u in select(p.manifest, p.graph, sel, resource_types=ALL_TYPES).selected)
    assert {"dim_zones", "taxi_zone_lookup", "stg_green_tripdata", "stg_yellow_tripdata", "green_tripdata",
            "yellow_tripdata", "trips_data", "dim_monthly_zone_revenue"} == set(names("+dim_monthly_zone_revenue"))
    assert names("staging.*") == ["stg_fhvhv_tripdata", "stg_green_tripdata", "stg_yellow_tripdata"]
    assert names("*revenue*") == ["dim_monthly_zone_revenue"]
    assert {"dim_zones", "trips_data", "dim_monthly_zone_revenue"} <= set(names("config.materialized:table"))
    assert "stg_green_tripdata" in names("source:raw+") and "dim_zones" not in names("source:raw+")
