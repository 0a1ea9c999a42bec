"""Run-time Jinja (execute/runtime/): models rendered again in the run's session, with Relations,
adapter introspection, run_query and statement; parse-time emptiness; located run-time errors."""

from __future__ import annotations

import json

import pytest

import sparkmodels
from sparkmodels.project.render.dbt_context import Column
from sparkmodels.project.render.introspect import Relation

FILES = {
    "project.yml": "name: demo\nversion: '1'\n",
    "models/base.sql": "{{ config(materialized='table') }}\n"
                       "select 1 as id, 'a' as name, cast(2.5 as double) as amount, cast(10 as bigint) as big\n",
    "models/base_view.sql": "select id, name from {{ ref('base') }}\n",
    "models/narrow.sql": "{{ config(materialized='table') }}\nselect id from {{ ref('base') }}\n",
    "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect id, name from {{ ref('base') }}\n",
    # a macro whose SQL depends on a relation's columns, called from a model (transitively)
    "macros/cols.sql": """
        {% macro col_list(rel, except=[]) %}
          {%- for c in adapter.get_columns_in_relation(rel) if c.name not in except -%}
            {{ c.quoted }}{{ ", " if not loop.last }}
          {%- endfor -%}
        {% endmacro %}
        {% macro starred(rel) %}{{ col_list(rel, except=['big']) }}{% endmacro %}
        {% macro bad_query() %}
          {% do run_query("select no_such_column from " ~ ref('base')) %}
        {% endmacro %}
        """,
    "models/cols.sql": "select {{ starred(ref('base')) }} from {{ ref('base') }}\n",
    "models/col_info.sql": """
        {%- set cols = adapter.get_columns_in_relation(ref('base')) -%}
        select {% for c in cols %}'{{ c.name }}|{{ c.data_type }}|{{ c.dtype }}|{{ c.is_string() }}|{{ c.is_number() }}|{{ c.is_integer() }}|{{ c.is_float() }}' as c{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
        {%- if not cols %} 'none' as c1{% endif %}
        """,
    "models/queried.sql": """
        {% set t = run_query("select max(id) as m, 'x' as s from " ~ ref('base')) %}
        {% if execute %}
        select {{ t.rows[0][0] }} as m, '{{ t.column_names | join(",") }}' as names,
               {{ t.columns[0].values()[0] }} as v, '{{ t.rows[0]['s'] }}' as s, {{ t | length }} as n
        {% else %}
        select 0 as m
        {% endif %}
        """,
    "models/stmt.sql": """
        {% call statement('counted', fetch_result=true) %}
          select count(*) as n from {{ ref('base') }}
        {% endcall %}
        {% set r = load_result('counted') %}
        select {{ r.table.rows[0][0] if execute else 0 }} as n, {{ r.data[0][0] if execute else 0 }} as d,
               {{ r.response.rows_affected if execute else 0 }} as ra, {{ load_result('never') is none }} as nothing
        """,
    "models/rels.sql": """
        {%- set b = ref('base') -%}
        {%- set found = adapter.get_relation(database=none, schema=b.schema, identifier='base') -%}
        {%- set missing = adapter.get_missing_columns(ref('base'), ref('narrow')) -%}
        {%- set made = api.Relation.create(schema='s', identifier='base') -%}
        select '{{ b.identifier }}|{{ b.name }}|{{ b.type }}|{{ b.is_table }}|{{ b.is_view }}' as ref_info,
               '{{ ref('base_view').type }}|{{ ref('base_view').is_view }}' as view_info,
               '{{ found.identifier if found else 'none' }}|{{ adapter.get_relation(none, none, 'nope') is none }}' as lookup,
               '{{ missing | map(attribute='name') | join(',') }}' as missing,
               '{{ this.identifier }}|{{ this.incorporate(path={"identifier": "other"}).identifier }}' as this_info,
               '{{ made.identifier }}|{{ made.schema }}|{{ made is mapping }}' as made,
               '{{ adapter.quote("a b") }}|{{ adapter.expand_target_column_types(b, b) is none }}' as misc,
               (select count(*) from {{ made }}) as via_made
        """,
    "models/depends.sql": """
        -- depends_on: {{ ref('base') }}
        {% if execute %}
          {% set n = run_query("select count(*) from base").rows[0][0] %}
        {% else %}
          {% set n = -1 %}
        {% endif %}
        select {{ n }} as n
        """,
    "models/from_eph.sql": "select {{ col_list(ref('base_view')) }}, (select count(*) from {{ ref('eph') }}) as k "
                           "from {{ ref('base_view') }}\n",
    "models/broken_query.sql": "select 1 as x\n{{ bad_query() }}\n",
    "models/broken_render.sql": "select 1 as x\n{% if execute %}\n{{ none.x.y }}\n{% endif %}\n",
    "models/broken_sql.sql": "select 1 as x\n{% if execute %}\n{% do run_query('selec oops') %}\n{% endif %}\n",
    "models/plain.sql": "select id from {{ ref('base') }}\n",
    "models/run_globals.sql": "{% if execute %}select '{{ graph.nodes['model.demo.base'].name }}|{{ model.name }}|"
                              "{{ flags.WHICH }}|{{ 'model.demo.base' in selected_resources }}|"
                              "{{ invocation_id | length }}|{{ run_started_at.year > 2000 }}|"
                              "{{ context['graph'] is mapping }}|{{ context['execute'] }}' as g"
                              "{% else %}select 'parse' as g{% endif %}\n",
    # the invocation_id templates see, at run time and at load: the one the run's artifacts record
    "models/inv_run.sql": "{% if execute %}select '{{ invocation_id }}' as i{% else %}select 'parse' as i{% endif %}\n",
    "models/inv_load.sql": "select '{{ invocation_id }}' as i\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, spark):
    from conftest import write_files

    root = write_files(tmp_path_factory.mktemp("runtime") / "proj", FILES)
    result = sparkmodels.run(root, spark=spark)
    # the run's artifacts, read now: later tests compile, which writes manifest.json again
    artifacts = {name: json.loads((root / "target" / f"{name}.json").read_text())
                 for name in ("run_results", "manifest")}
    return root, {r.name: r for r in result.results}, artifacts


def one(spark, table: str) -> dict:
    return spark.table(table).collect()[0].asDict()


def test_parse_time_is_empty_and_marks_only_the_models_that_need_run_time(tmp_path):
    from conftest import write_files

    root = write_files(tmp_path / "p", FILES)
    nodes = sparkmodels.load_project(root).manifest.nodes
    marked = {n.name for n in nodes.values() if n.runtime_render}
    assert marked == {"cols", "col_info", "queried", "stmt", "rels", "depends", "from_eph", "broken_query",
                      "broken_render", "broken_sql", "run_globals", "inv_run"}
    # dbt's parse-time values: no columns, no query result, execute false
    assert "'none' as c1" in nodes["model.demo.col_info"].rendered
    assert "select 0 as m" in nodes["model.demo.queried"].rendered
    assert "select -1 as n" in nodes["model.demo.depends"].rendered
    assert nodes["model.demo.depends"].depends_on == ("model.demo.base",)  # from the depends_on comment
    assert "True as nothing" in nodes["model.demo.stmt"].rendered


def test_a_macro_whose_sql_depends_on_a_relations_columns(built, spark):
    _root, results, _artifacts = built
    assert results["cols"].status == "success", results["cols"].message
    assert spark.table("cols").columns == ["id", "name", "amount"]
    assert results["from_eph"].status == "success", results["from_eph"].message
    assert one(spark, "from_eph") == {"id": 1, "name": "a", "k": 1}
    assert results["plain"].status == "success"


def test_columns_from_get_columns_in_relation(built, spark):
    row = one(spark, "col_info")
    assert row == {"c1": "id|int|int|False|True|True|False", "c2": "name|string|string|True|False|False|False",
                   "c3": "amount|double|double|False|True|False|True", "c4": "big|bigint|bigint|False|True|True|False"}


def test_run_query_and_statement(built, spark):
    _root, results, _artifacts = built
    assert results["queried"].status == "success", results["queried"].message
    assert one(spark, "queried") == {"m": 1, "names": "m,s", "v": 1, "s": "x", "n": 1}
    assert one(spark, "stmt") == {"n": 1, "d": 1, "ra": 1, "nothing": True}
    assert one(spark, "depends") == {"n": 1}


def test_relations_and_adapter_methods(built, spark):
    _root, results, _artifacts = built
    assert results["rels"].status == "success", results["rels"].message
    assert one(spark, "rels") == {
        "ref_info": "base|base|table|True|False", "view_info": "view|True", "lookup": "base|True",
        "missing": "name,amount,big", "this_info": "rels|other", "made": "base|s|True", "misc": "`a b`|True",
        "via_made": 1}


def test_run_time_globals(built, spark):
    assert one(spark, "run_globals") == {"g": "base|run_globals|run|True|36|True|True|True"}


def test_one_invocation_id_in_templates_and_artifacts(built, spark):
    _root, _results, artifacts = built
    invocation = artifacts["run_results"]["metadata"]["invocation_id"]
    assert len(invocation) == 36
    assert artifacts["manifest"]["metadata"]["invocation_id"] == invocation
    assert one(spark, "inv_run") == {"i": invocation}  # rendered again when it ran
    assert one(spark, "inv_load") == {"i": invocation}  # rendered once, at load


def test_compiled_files_of_a_run_show_the_run_time_sql(built):
    root, _results, artifacts = built
    compiled = root / "target" / "compiled" / "demo" / "models"
    assert "select 1 as m" in (compiled / "queried.sql").read_text()  # load time wrote `select 0 as m`
    ran = {r["unique_id"]: r["compiled_code"] for r in artifacts["run_results"]["results"]}
    assert "select 1 as n" in ran["model.demo.stmt"] and "select 0" not in ran["model.demo.stmt"]
    assert "select 1 as n" in (compiled / "stmt.sql").read_text()
    assert "select 1 as n" in artifacts["manifest"]["nodes"]["model.demo.stmt"]["compiled_code"]


def test_compiled_file_of_an_incremental_run_shows_the_branch_taken(tmp_path, spark):
    from conftest import write_files

    root = write_files(tmp_path / "p", {
        "project.yml": "name: demo\nversion: '1'\n",
        "models/src.sql": "{{ config(materialized='table') }}\nselect 1 as id union all select 2\n",
        "models/inc.sql": "{{ config(materialized='incremental') }}\n"
                          "{% set src = ref('src') %}\n"
                          "{% set n = run_query('select count(*) from ' ~ src).rows[0][0] if execute else -1 %}\n"
                          "select {{ n }} as n, {% if is_incremental() %}'inc'{% else %}'full'{% endif %} as branch\n",
    })
    compiled = root / "target" / "compiled" / "demo" / "models" / "inc.sql"
    assert sparkmodels.run(root, spark=spark).success
    assert "select 2 as n, 'full' as branch" in compiled.read_text()
    assert sparkmodels.run(root, spark=spark).success
    assert "select 2 as n, 'inc' as branch" in compiled.read_text()
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert "select 2 as n, 'inc' as branch" in next(r["compiled_code"] for r in results if r["name"] == "inc")
    assert sorted(spark.table("inc").collect()) == [(2, "full"), (2, "inc")]
    # compile renders it in a session too, with the branch a run would take now
    assert "select 2 as n, 'inc' as branch" in sparkmodels.compile(root, select=["inc"], spark=spark).compiled[
        "model.demo.inc"]


def test_run_time_errors_keep_their_file_and_line(built):
    _root, results, _artifacts = built
    query = results["broken_query"]
    assert query.status == "error" and "no_such_column" in query.message
    assert (query.error.path, query.error.line) == ("macros/cols.sql", 8)
    assert "Called from models/broken_query.sql:2" in query.error.hint and "select no_such_column" in query.error.hint
    render = results["broken_render"]
    assert render.status == "error" and (render.error.path, render.error.line) == ("models/broken_render.sql", 3)
    sql = results["broken_sql"]
    assert sql.status == "error" and "run_query failed" in sql.message
    assert (sql.error.path, sql.error.line) == ("models/broken_sql.sql", 3)


def test_column_and_relation_objects_without_spark():
    c = Column("v", "varchar(10)", char_size=10)
    assert c.is_string() and c.string_size() == 10 and not c.is_number() and c.quoted == "`v`"
    assert Column("d", "decimal(10,2)").is_number() and not Column("d", "decimal(10,2)").is_integer()
    assert Column.translate_type("long") == "BIGINT" and Column("s", "string").string_size() == 256
    with pytest.raises(ValueError, match="non-string"):
        Column("n", "int").string_size()
    r = Relation("t", "s", type="table")
    assert str(r) == "`t`" and r.render() == "`t`" and r.include(schema=False).identifier == "t"
    assert r.quote() == "`t`" and r.get("metadata")["type"].endswith("Relation") and r.is_table
    other = r.incorporate(path={"identifier": "u"}, type="view")
    assert str(other) == "`u`" and other.is_view


def test_compile_renders_run_time_models_in_a_session_only_when_selected(built, spark):
    root, _results, _artifacts = built
    plain = sparkmodels.compile(root, select=["plain"])
    assert plain.runtime == () and "from `base`" in plain.compiled["model.demo.plain"]
    res = sparkmodels.compile(root, select=["cols", "depends"], spark=spark)
    assert res.runtime == ("cols", "depends")
    assert res.compiled["model.demo.cols"].startswith("select `id`, `name`, `amount` from `base`")
    assert "select 1 as n" in res.compiled["model.demo.depends"]
    written = (root / "target" / "compiled" / "demo" / "models" / "cols.sql").read_text()
    assert "`amount`" in written


def test_columns_are_read_again_after_their_relation_is_rebuilt_in_the_run(tmp_path, spark):
    from conftest import write_files

    # x reads its own old columns, is rebuilt with new ones; y, downstream, must see the new ones
    root = write_files(tmp_path / "p", {
        "project.yml": "name: demo\nversion: '1'\n",
        "models/x.sql": "{{ config(materialized='table') }}\n"
                        "{%- set old = adapter.get_relation(this.database, this.schema, this.identifier) -%}\n"
                        "{%- if old %}-- {{ adapter.get_columns_in_relation(old) | length }}{% endif %}\n"
                        "select 1 as {{ var('col') }}\n",
        "models/y.sql": "select {% for c in adapter.get_columns_in_relation(ref('x')) %}{{ c.quoted }}{% endfor %}"
                        " from {{ ref('x') }}\n",
    })
    assert sparkmodels.run(root, spark=spark, vars={"col": "a"}).success
    assert sparkmodels.run(root, spark=spark, vars={"col": "b"}).success
    assert spark.table("y").columns == ["b"]


def test_snapshots_and_analyses_are_rendered_again_at_run_time(tmp_path, spark):
    from conftest import write_files

    cols = ("{% macro cols_but(rel, drop) %}{% for c in adapter.get_columns_in_relation(rel) if c.name != drop %}"
            "{{ c.quoted }}{{ ', ' if not loop.last }}{% endfor %}{% endmacro %}\n")
    root = write_files(tmp_path / "p", {
        "project.yml": "name: demo\nversion: '1'\n",
        "macros/cols.sql": cols,
        "models/wide.sql": "{{ config(materialized='table') }}\nselect 1 as id, 'a' as name, 2 as internal\n",
        # two blocks in one file: each is rendered from its own body, errors at the file's lines
        "snapshots/snaps.sql": "{% snapshot wide_snap %}\n"
                               "{{ config(unique_key='id', strategy='check', check_cols='all') }}\n"
                               "select {{ cols_but(ref('wide'), 'internal') }} from {{ ref('wide') }}\n"
                               "{% endsnapshot %}\n"
                               "{% snapshot broken_snap %}\n"
                               "{{ config(unique_key='id', strategy='check', check_cols='all') }}\n"
                               "-- depends_on: {{ ref('wide') }}\n"
                               "{% if execute %}{% do run_query('selec oops') %}{% endif %}\n"
                               "select 1 as id\n"
                               "{% endsnapshot %}\n",
        "analyses/cols_of_wide.sql": "select {{ cols_but(ref('wide'), 'name') }} from {{ ref('wide') }}\n",
    })
    nodes = sparkmodels.load_project(root).manifest.nodes
    assert {u for u, n in nodes.items() if n.runtime_render} == {
        "snapshot.demo.wide_snap", "snapshot.demo.broken_snap", "analysis.demo.cols_of_wide"}
    assert "select  from" in nodes["snapshot.demo.wide_snap"].rendered  # parse time: no columns
    results = {r.name: r for r in sparkmodels.build(root, spark=spark).results}
    assert results["wide_snap"].status == "success", results["wide_snap"].message
    columns = spark.read.parquet(str(root / "warehouse" / "demo" / "wide_snap")).columns
    assert columns[:2] == ["id", "name"] and "internal" not in columns
    broken = results["broken_snap"]
    assert broken.status == "error" and (broken.error.path, broken.error.line) == ("snapshots/snaps.sql", 8)
    res = sparkmodels.compile(root, select=["cols_of_wide", "wide_snap"], spark=spark)
    assert res.runtime == ("cols_of_wide", "wide_snap")
    assert "select `id`, `name` from `wide`" in res.compiled["snapshot.demo.wide_snap"]
    assert res.compiled["analysis.demo.cols_of_wide"].startswith("select `id`, `internal` from `wide`")
    written = root / "target" / "compiled" / "demo" / "analyses" / "cols_of_wide.sql"
    assert written.read_text().startswith("select `id`, `internal` from `wide`")


def test_the_build_cache_fingerprints_a_run_time_models_rendered_sql(tmp_path, spark):
    from conftest import write_files

    # the model's SQL depends on a relation outside the project: only its run-time render shows it
    spark.sql("create or replace temp view rt_outside as select 1 as v")
    root = write_files(tmp_path / "p", {
        "project.yml": "name: demo\nversion: '1'\n",
        "models/rt_cached.sql": "{{ config(materialized='table') }}\n"
                                "{% set v = run_query('select v from rt_outside').rows[0][0] if execute else 0 %}\n"
                                "select {{ v }} as v\n",
    })
    assert sparkmodels.run(root, spark=spark).success
    again = sparkmodels.run(root, spark=spark)
    assert again.results[0].extra.get("cached") and spark.table("rt_cached").collect()[0][0] == 1
    compiled = root / "target" / "compiled" / "demo" / "models" / "rt_cached.sql"
    assert "select 1 as v" in compiled.read_text()  # unchanged, its compiled file still the run-time SQL
    spark.sql("create or replace temp view rt_outside as select 2 as v")
    changed = sparkmodels.run(root, spark=spark)
    assert not changed.results[0].extra.get("cached") and spark.table("rt_cached").collect()[0][0] == 2
    spark.catalog.dropTempView("rt_outside")
