"""Planning: ephemeral CTE inlining with line maps, views pulled in for the selection, order (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.plan.compiler import EPHEMERAL_PREFIX, inject_ctes
from sparkmodels.plan.steps import build_plan
from sparkmodels.select.selector import select

FILES = {
    "models/e1.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id",
    "models/e2.sql": ("{{ config(materialized='ephemeral') }}\n-- e2 builds on e1\n"
                      "with x as (select * from {{ ref('e1') }})\nselect * from x"),
    "models/own_with.sql": ("{{ config(materialized='table') }}\n-- leading comment\nwith own as (\n"
                            "  select * from {{ ref('e2') }}\n)\nselect *\nfrom own\nwhere bad_col > 1"),
    "models/plain.sql": "{{ config(materialized='table') }}\nselect *\nfrom {{ ref('e1') }}\nwhere zz",
    "models/v1.sql": "select 1 as id",
    "models/v2.sql": "select * from {{ ref('v1') }}",
    "models/t1.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('v1') }}",
    "models/eph_view.sql": "{{ config(materialized='ephemeral') }}select * from {{ ref('v2') }}",
    "models/final.sql": ("{{ config(materialized='table') }}\nselect * from {{ ref('eph_view') }}\n"
                         "join {{ ref('t1') }} using (id)"),
}


@pytest.fixture
def project(make_project):
    return sparkmodels.load_project(make_project(FILES))


def _plan(p, selector):
    sel = select(p.manifest, p.graph, selector, resource_types=("model", "seed"))
    return build_plan(p.manifest, p.graph, sel.selected, compiler=p.compiler)


def _line_of(sql: str, text: str) -> int:
    return sql.split("\n").index(text) + 1


def test_ephemeral_inlined_as_cte(project):
    c = project.compiler.compile("model.demo.plain")
    assert c.sql.lstrip().startswith(f"with {EPHEMERAL_PREFIX}e1 as (")
    assert f"from `{EPHEMERAL_PREFIX}e1`" in c.sql and "{{" not in c.sql
    # 'where zz' is line 4 of models/plain.sql, whatever the injection added above it
    assert c.line_map[_line_of(c.sql, "where zz") - 1] == 4
    assert c.line_map[_line_of(c.sql, "select *") - 1] == 2
    assert len(c.line_map) == c.sql.count("\n") + 1


def test_chain_of_ephemerals_into_a_query_with_its_own_with(project):
    c = project.compiler.compile("model.demo.own_with")
    sql = c.sql
    assert sql.count("with") >= 2 and sql.lower().count("\nwith\n") == 1  # merged into the model's WITH
    e1, e2, own = (sql.index(f"{EPHEMERAL_PREFIX}e1 as ("), sql.index(f"{EPHEMERAL_PREFIX}e2 as ("),
                   sql.index("own as ("))
    assert e1 < e2 < own  # dependencies first
    assert sql.lstrip().startswith("-- leading comment\nwith")
    for text, source_line in [("where bad_col > 1", 8), ("from own", 7), ("  select * from `__sm_eph_e2`", 4)]:
        assert c.line_map[_line_of(sql, text) - 1] == source_line
    assert len(c.line_map) == sql.count("\n") + 1


def test_inject_ctes_unit():
    sql, lm = inject_ctes("select 1\nfrom t", "a as (\nselect 2\n)", (1, 2))
    assert sql == "with a as (\nselect 2\n)\nselect 1\nfrom t"
    assert lm == (1, 1, 1, 1, 2)
    sql, lm = inject_ctes("  WITH b as (select 1)\nselect * from b", "a as (\nselect 2\n)", (3, 4))
    assert sql == "  WITH\na as (\nselect 2\n), b as (select 1)\nselect * from b"
    assert lm[-1] == 4 and len(lm) == sql.count("\n") + 1
    # 'without' is not a WITH clause
    assert inject_ctes("without_x", "a as (select 1)", ())[0].startswith("with a as (select 1)\nwithout_x")


def test_unselected_upstream_views_are_pulled_in_with_reason(project):
    plan = _plan(project, "final")
    steps = {s.name: s for s in plan.steps}
    assert set(steps) == {"v1", "v2", "final"}  # t1 is a table: read as built, not rebuilt
    assert steps["v2"].reason == "view needed by final"
    assert steps["v1"].reason == "view needed by v2"
    assert steps["final"].reason is None
    assert plan.selected == frozenset({"model.demo.final"})
    # final depends on v2 through the ephemeral eph_view; t1 is not a step
    assert steps["final"].depends_on == ("model.demo.v2",)
    assert f"{EPHEMERAL_PREFIX}eph_view" in steps["final"].compiled.sql


def test_ephemerals_are_never_steps(project):
    plan = _plan(project, None)
    names = [s.name for s in plan.steps]
    assert not {"e1", "e2", "eph_view"} & set(names)
    assert all(s.reason is None for s in plan.steps)


def test_order_is_topological(project):
    plan = _plan(project, None)
    pos = {s.unique_id: i for i, s in enumerate(plan.steps)}
    for step in plan.steps:
        for dep in step.depends_on:
            assert pos[dep] < pos[step.unique_id]
    assert pos["model.demo.v1"] < pos["model.demo.t1"] < pos["model.demo.final"]
    assert pos["model.demo.v2"] < pos["model.demo.final"]


def test_selected_table_does_not_pull_upstream_tables(make_project):
    p = sparkmodels.load_project(make_project({
        "models/a.sql": "{{ config(materialized='table') }}select 1 as id",
        "models/b.sql": "{{ config(materialized='table') }}select * from {{ ref('a') }}",
        "seeds/s.csv": "x\n1\n",
        "models/c.sql": "select * from {{ ref('b') }} join {{ ref('s') }}",
    }))
    assert [s.name for s in _plan(p, "c").steps] == ["c"]
    # ties are broken by unique_id, so the order is deterministic
    assert [s.name for s in _plan(p, "+c").steps] == ["a", "b", "s", "c"]


def test_example_plan(example_project):
    p = sparkmodels.load_project(example_project)
    plan = _plan(p, "dim_monthly_zone_revenue")
    steps = {s.name: s for s in plan.steps}
    assert set(steps) == {"dim_monthly_zone_revenue"}  # trips_data is a table
    plan = _plan(p, "trips_data")
    assert {s.name: s.reason for s in plan.steps} == {
        "stg_green_tripdata": "view needed by trips_data",
        "stg_yellow_tripdata": "view needed by trips_data",
        "trips_data": None,
    }
    assert [s.name for s in plan.steps][-1] == "trips_data"


def test_ephemeral_trailing_semicolon_is_dropped(make_project):
    p = sparkmodels.load_project(make_project({
        "models/e.sql": "{{ config(materialized='ephemeral') }}select 1 as id;\n",
        "models/m.sql": "select * from {{ ref('e') }}",
    }))
    sql = p.compiler.compile("model.demo.m").sql
    assert ";" not in sql and "select 1 as id\n)" in sql
