"""Macro namespaces and adapter.dispatch: dbt's search order across the root project, packages and dbt (no Spark)."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import CompilationError
from sparkmodels.project.render.jinja import Renderer

PKG = {
    "dbt_packages/pkg/dbt_project.yml": "name: pkg\n",
    "dbt_packages/pkg/macros/m.sql": (
        "{% macro greet(x) %}{{ return(adapter.dispatch('greet', 'pkg')(x)) }}{% endmacro %}\n"
        "{% macro default__greet(x) %}pkg-default {{ x }}{% endmacro %}\n"
        "{% macro _helper() %}pkg-private{% endmacro %}\n"
        "{% macro shout(x) %}{{ pkg._helper() }} {{ x | upper }}{% endmacro %}\n"
    ),
}


def _sql(make_project, files, name="m"):
    project = sparkmodels.load_project(make_project(files))
    return project.compiler.compile(f"model.demo.{name}").sql.strip()


def test_package_macros_live_in_the_package_namespace(make_project):
    assert _sql(make_project, {**PKG, "models/m.sql": "select {{ pkg.shout('a') }}, {{ pkg.greet('b') }}"}) == (
        "select pkg-private A, pkg-default b")


def test_dispatch_prefers_spark_over_default_and_the_root_project_over_the_package(make_project):
    spark_in_pkg = {"dbt_packages/pkg/macros/s.sql": "{% macro spark__greet(x) %}pkg-spark {{ x }}{% endmacro %}"}
    assert _sql(make_project, {**PKG, **spark_in_pkg, "models/m.sql": "{{ pkg.greet('b') }}"}) == "pkg-spark b"
    # No dispatch config: [root, pkg]; the package loop is outside the prefix loop (dbt's order),
    # so the root's default__ wins over the package's spark__.
    root = {"macros/r.sql": "{% macro default__greet(x) %}root-default {{ x }}{% endmacro %}"}
    assert _sql(make_project, {**PKG, **spark_in_pkg, **root, "models/m.sql": "{{ pkg.greet('b') }}"}) == "root-default b"


def test_dispatch_follows_the_projects_search_order(make_project):
    files = {
        **PKG,
        "dbt_project.yml": "name: demo\ndispatch:\n  - macro_namespace: pkg\n    search_order: [shim, pkg]\n",
        "dbt_packages/shim/dbt_project.yml": "name: shim\n",
        "dbt_packages/shim/macros/s.sql": "{% macro spark__greet(x) %}shim {{ x }}{% endmacro %}",
        "macros/r.sql": "{% macro spark__greet(x) %}root {{ x }}{% endmacro %}",  # not in the search order
        "models/m.sql": "{{ pkg.greet('b') }}",
    }
    files.pop("project.yml", None)
    root = make_project(files)
    (root / "project.yml").unlink()
    project = sparkmodels.load_project(root)
    assert project.compiler.compile("model.demo.m").sql.strip() == "shim b"


def test_dispatch_error_lists_what_it_searched(make_project):
    with pytest.raises(CompilationError) as err:
        sparkmodels.load_project(make_project({**PKG, "models/m.sql": "{{ adapter.dispatch('nothing', 'pkg')() }}"}))
    assert "'demo.spark__nothing', 'demo.default__nothing', 'pkg.spark__nothing', 'pkg.default__nothing'" in str(err.value)
    assert err.value.path == "models/m.sql"


def test_dbt_namespace_and_unqualified_calls_and_project_overrides(make_project):
    files = {"models/m.sql": "{{ dbt.date_trunc('month', 'd') }} | {{ date_trunc('month', 'd') }}"}
    assert _sql(make_project, files) == "date_trunc('month', d) | date_trunc('month', d)"
    # A root macro with dbt's name replaces unqualified calls; dbt.x stays dbt's.
    same_name = {"macros/o.sql": "{% macro date_trunc(datepart, date) %}mine({{ date }}){% endmacro %}"}
    assert _sql(make_project, {**files, **same_name}) == "date_trunc('month', d) | mine(d)"
    # A root spark__ implementation replaces dbt's through dispatch, for both forms.
    impl = {"macros/o.sql": "{% macro spark__date_trunc(datepart, date) %}impl({{ date }}){% endmacro %}"}
    assert _sql(make_project, {**files, **impl}) == "impl(d) | impl(d)"


def test_dbt_macros_inside_package_macros_see_the_projects_overrides(make_project):
    files = {
        "dbt_packages/pkg/dbt_project.yml": "name: pkg\n",
        "dbt_packages/pkg/macros/m.sql": "{% macro month(d) %}{{ dbt.date_trunc('month', d) }}{% endmacro %}",
        "macros/o.sql": "{% macro spark__date_trunc(datepart, date) %}impl({{ date }}){% endmacro %}",
        "models/m.sql": "{{ pkg.month('d') }}",
    }
    assert _sql(make_project, files) == "impl(d)"


def test_unknown_macro_of_a_namespace_is_a_located_error(make_project):
    with pytest.raises(CompilationError, match="no (attribute|macro).*nope") as err:
        sparkmodels.load_project(make_project({"models/m.sql": "select\n{{ dbt.nope() }}"}))
    assert (err.value.path, err.value.line) == ("models/m.sql", 2)


def test_adapter_introspection_is_empty_at_load_and_marks_the_model_for_run_time(make_project):
    # dbt's parse-time adapter: get_columns_in_relation is [], get_relation is None
    project = sparkmodels.load_project(make_project({
        "models/m.sql": "select 1 as x -- {{ adapter.get_columns_in_relation(this) }} {{ adapter.get_relation(this) }}"}))
    node = project.manifest.nodes["model.demo.m"]
    assert node.runtime_render and "[] None" in node.rendered
    with pytest.raises(CompilationError, match="not available"):
        sparkmodels.load_project(make_project({"models/m.sql": "{{ adapter.frobnicate(this) }}"}))


def test_adapter_quote_and_renderer_packages_registered_in_any_order():
    r = Renderer(vars={}, target={"project_name": "root"})
    r.add_macro_file("dbt_packages/p/m.sql", "{% macro f() %}p{% endmacro %}", package="p")
    r.add_macro_file("macros/m.sql", "{% macro f() %}root{% endmacro %}")
    out = r.render("{{ f() }} {{ p.f() }} {{ root.f() }} {{ adapter.quote('a b') }}", filename="m.sql", node_name="m")
    assert out.text == "root p root `a b`"
    # a node of package p sees its own macros first
    assert r.render("{{ f() }}", filename="x.sql", node_name="x", package="p").text == "p"


def test_generate_schema_and_alias_name_defaults_and_project_overrides(make_project):
    files = {
        "models/a.sql": "{{ config(schema='marts', alias='a_final') }}select 1 as x",
        "models/b.sql": "select * from {{ ref('a') }}",
        "models/c.sql": "{{ config(alias='c2', schema='x') }}select '{{ this }} {{ this.schema }}' as t",
    }
    project = sparkmodels.load_project(make_project(files))
    assert project.compiler.compile("model.demo.c").sql == "select '`c2` demo_x' as t"
    a = project.manifest.nodes["model.demo.a"]
    assert "relation_schema" not in a.config and a.config["alias"] == "a_final"
    assert project.compiler.compile("model.demo.b").sql == "select * from `a_final`"
    from sparkmodels.project.config import schema_for

    assert schema_for(project.config, a.config) == "demo_marts"  # dbt's default: <target>_<custom>
    override = {
        "macros/naming.sql": (
            "{% macro generate_schema_name(custom_schema_name, node) %}{{ custom_schema_name or target.schema }}{% endmacro %}\n"
            "{% macro generate_alias_name(custom_alias_name, node) %}{{ node.fqn[-1] | upper }}{% endmacro %}"
        ),
    }
    project = sparkmodels.load_project(make_project({**files, **override}, name="over"))
    a = project.manifest.nodes["model.demo.a"]
    assert schema_for(project.config, a.config) == "marts"
    assert project.compiler.compile("model.demo.c").sql == "select '`C` x' as t"
    assert project.compiler.compile("model.demo.b").sql == "select * from `A`"


def test_namespaced_calls_with_nested_arguments_render_without_jinja_and_match_jinja(make_project, monkeypatch):
    from sparkmodels.project.render import static

    body = "select {{ dbt.safe_cast('a', dbt.type_string()) }} as a,\n{{ pkg.shout(dbt.string_literal('x')) }} from {{ ref('b') }}"
    files = {**PKG, "models/b.sql": "select 1 as a", "models/m.sql": body,
             "models/j.sql": "{% if true %}" + body + "{% endif %}"}  # a block: Jinja renders it
    project = sparkmodels.load_project(make_project(files))
    m, j = project.manifest.nodes["model.demo.m"], project.manifest.nodes["model.demo.j"]
    assert project.compiler.compile(m.unique_id).sql == project.compiler.compile(j.unique_id).sql == (
        "select try_cast(a as string) as a,\npkg-private 'X' from `b`")
    assert (m.line_map, m.calls, m.depends_on_macros) == (j.line_map, j.calls, j.depends_on_macros)
    assert static.plan(["select ", "{{ dbt.safe_cast('a', dbt.type_string()) }}", ""]) is not None
