"""Rendering without Jinja (static_render), memoised templates and macro modules made once (no Spark).

What memoisation buys is tested by its effects (same results, errors naming their own file, macros
shared until a macro file is added); how often Jinja compiles is counted in bench/bench_render.py.

The static path must give exactly what Jinja gives: every template below is rendered twice, once as
usual and once with the static planner switched off, and all of RenderResult must agree.
"""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.errors import CompilationError
from sparkmodels.project.render import jinja as render
from sparkmodels.project.render import static as static_render
from sparkmodels.project.render.jinja import Relation, Renderer

MACROS = {
    "macros/a.sql": (
        "{% macro is_recent(column, days=30) -%}\n    {{ column }} >= date_sub(current_date(), {{ days }})\n"
        "{%- endmacro %}\n\n{% macro keyed(fields) -%}\n"
        "    md5(concat_ws('|'{%- for f in fields %}, {{ f }}{%- endfor %}))\n{%- endmacro %}\n"
    ),
    "macros/b.sql": (
        "{% macro from_ref(name) %}select * from {{ ref(name) }}\nwhere 1 = 1{% endmacro %}\n"
        "{% macro lines() %}a\nb\nc{% endmacro %}\n{% macro me() %}{{ this }}{% endmacro %}\n"
        "{% macro opts(d, flag=true) %}{{ d['k'] }}-{{ flag }}{% endmacro %}\n"
    ),
}

STATIC = [
    "select 1",
    "",
    "select * from {{ ref('a') }}\n",
    "select * from {{ref('a')}} join {{ ref(\"demo\", 'b') }} on 1=1\n\n",
    "select * from {{ ref('a', v=2) }}, {{ ref('b', version=1,) }}\n",
    "{{ config(materialized='table') }}\nselect * from {{ source('raw', 'events') }}",
    "{{ config(\n    materialized='table',\n    tags=['x', 'y',],\n    meta={'owner': 'me', 'n': -3, 'f': 1.5},\n) }}\n"
    "select {{ var('n') }}, {{ var('missing', 7) }}, {{ var('flag', none) }}, {{ var('t', True) }}\n",
    "with x as (\n  select * from {{ ref('a') }}\n),\ny as ({{ from_ref('b') }})\nselect * from x\n",
    "select {{ is_recent('updated_at', 7) }} as r, {{ keyed(['id', 'd']) }} as k\nfrom t\n",
    "select '{{ this }}' as me, {{ me() }}\n{# a comment\nover two lines #}\nselect {{ lines() }} from z\n",
    "{# c\n\n #}{{ lines() }}{{ lines() }}\n{{ from_ref('a') }}{# x #}\n\n{{ config(\n) }}{{ lines() }}",
    "{{ lines() }}",
    "\n\n",
    "select {{ opts({'k': 'v'}) }}, {{ opts({'k': 2}, flag=false) }}, {{ env_var('SM_STATIC_ENV', 'dflt') }}",
    "select 'é ünï' as s, {{ ref('ünï') }}, {{ log('hi') }}{{ var('n') }}\n\n\n",
]

NOT_STATIC = [
    "{% if execute %}select 1{% endif %}",
    "select {{- ref('a') }}",
    "select {{ ref('a') -}}\n",
    "{#- c -#}select 1",
    "select {{ ref('a') | upper }}",
    "select {{ ref('a' ~ 'b') }}",
    "select {{ ref('a\\'b') }}",
    "select {{ ref(\n'a') }}",
    "select {{ this.name }}",
    "select {{ target }}",
    "select {{ ref('a') }} {{ unclosed",
    "select {{ config(materialized=x) }}",
    "select {{ config(a=1, a=2) }}",
    "select {{ ref(name='a', 'b') }}",
    "select {{ ref(1_000) }}",
    "select {{ ref(007) }}",
    "select {{ 'a' 'b' }}",
]


def _renderer(vars=None):
    r = Renderer(vars=vars or {"n": 5}, target={"name": "dev", "project_name": "demo"})
    for name, text in MACROS.items():
        r.add_macro_file(name, text)
    return r


def _fields(result):
    return (result.text, result.line_map, [(c.kind, c.args, c.line) for c in result.calls], result.config,
            result.vars_used, result.env_vars_used, result.macros_used, result.logs)


@pytest.mark.parametrize("source", STATIC)
def test_static_render_equals_jinja(source, monkeypatch):
    this = Relation("m", "analytics")
    fast = _renderer().render(source, filename="models/m.sql", node_name="m", this=this)
    with monkeypatch.context() as m:
        m.setattr(static_render, "plan", lambda parts: None)
        slow = _renderer().render(source, filename="models/m.sql", node_name="m", this=this)
    assert _fields(fast) == _fields(slow)


def test_static_templates_are_planned_and_need_no_jinja(monkeypatch):
    planned = [s for s in STATIC if static_render.plan(render._TAG.split(s)) is not None]
    assert planned == STATIC
    r = _renderer()
    monkeypatch.setattr(r.env, "compile", lambda *a, **k: pytest.fail("Jinja compiled a static template"))
    out = r.render("select * from {{ ref('a') }}\nwhere x > {{ var('n') }}\n", filename="m.sql", node_name="m")
    assert out.text == "select * from \ue0000\ue001\nwhere x > 5\n"
    assert [(c.args, c.line) for c in out.calls] == [(("a",), 1)]


@pytest.mark.parametrize("source", NOT_STATIC)
def test_unsupported_jinja_is_left_to_jinja(source):
    assert static_render.plan(render._TAG.split(source)) is None


def test_failing_static_call_reports_jinjas_error():
    with pytest.raises(CompilationError, match="required var 'nope' is not set") as info:
        _renderer().render("select 1\nfrom {{ ref('a') }}\nwhere {{ var('nope') }}\n", filename="m.sql", node_name="m")
    assert (info.value.node, info.value.path, info.value.line) == ("m", "m.sql", 3)


def test_ref_inside_a_macro_records_the_calling_line():
    out = _renderer().render("select 1\n\n{{ from_ref('b') }}\n", filename="m.sql", node_name="m")
    assert [(c.args, c.line) for c in out.calls] == [(("b",), 3)]
    assert out.macros_used == {"from_ref"}


def test_a_repeated_render_gives_the_same_result_and_errors_name_their_own_file():
    """Renders of one text are memoised per (text, file): the repeat agrees in every field, and the
    same failing text in another file reports that file, not the first one's."""
    r = _renderer()
    source = "{% set x = 1 %}select {{ x }} from {{ ref('a') }}"
    first = r.render(source, filename="m.sql", node_name="m")
    assert _fields(r.render(source, filename="m.sql", node_name="m2")) == _fields(first)
    assert _fields(r.render(source, filename="other.sql", node_name="o")) == _fields(first)
    failing = "{% set x = 1 %}select {{ x }}\nfrom {{ nope.attr }}"
    for filename in ("m.sql", "other.sql", "m.sql"):
        with pytest.raises(CompilationError) as info:
            r.render(failing, filename=filename, node_name="n")
        assert (info.value.path, info.value.line) == (filename, 2)


def _macros_seen(r, filename: str) -> dict:
    """The macro objects a template sees, by name (handed out through an extra context value)."""
    sink: list = []
    r.render("{% do sink.append(is_recent) %}{% do sink.append(from_ref) %}", filename=filename,
             node_name="m", extra={"sink": sink})
    return dict(zip(("is_recent", "from_ref"), sink, strict=True))


def test_macros_are_shared_across_renders_until_a_macro_file_is_added():
    r = _renderer()
    seen = [_macros_seen(r, f"m{i}.sql") for i in range(3)]
    assert all(s["is_recent"] is seen[0]["is_recent"] for s in seen)  # made once, not per render
    for i in range(5):
        assert r.render("{% if true %}{{ is_recent('d') }}{% endif %}", filename=f"m{i}.sql",
                        node_name="m").text == "d >= date_sub(current_date(), 30)"
    with pytest.raises(CompilationError, match="'later' is undefined"):
        r.render("{{ later('d') }}", filename="m.sql", node_name="m")
    r.add_macro_file("macros/c.sql", "{% macro later(column) %}later {{ column }}{% endmacro %}")
    assert r.render("{{ later('d') }}", filename="m.sql", node_name="m").text == "later d"
    after = _macros_seen(r, "m.sql")
    assert after["is_recent"] is not seen[0]["is_recent"]  # a new macro file: every module made again
    assert r.render("{{ is_recent('d', 1) }}", filename="m.sql", node_name="m").text == "d >= date_sub(current_date(), 1)"


def test_macro_file_with_top_level_code_sees_each_render():
    r = Renderer(vars={"v": 1}, target={})
    r.add_macro_file("macros/t.sql", "{% set prefix = 'p_' %}{% macro show() %}{{ prefix }}{{ this }}{% endmacro %}")
    seen = []
    for name in ("a", "b"):
        sink: list = []
        out = r.render("{{ show() }}{% do sink.append(show) %}", filename=f"{name}.sql", node_name=name,
                       this=Relation(name, "s"), extra={"sink": sink})
        assert out.text == f"p_`{name}`" and out.macros_used == {"show"}
        seen.append(sink[0])
    assert seen[0] is not seen[1]  # its module runs again for every render


def test_extra_context_does_not_leak_into_the_next_render():
    r = _renderer()
    assert r.render("{{ only_here }}", filename="t.yml", node_name="t", extra={"only_here": 1}).text == "1"
    with pytest.raises(CompilationError, match="only_here"):
        r.render("{{ only_here }}", filename="t.yml", node_name="t")
    assert r.render("{{ this }}", filename="t.yml", node_name="t", extra={"this": "x"}).text == "x"
    assert r.render("{{ this }}", filename="t.yml", node_name="t").text == "None"


def test_schema_tests_of_one_kind_compile_each_to_its_own_model(make_project):
    """Generic tests of one kind share one template text (bench/bench_render.py counts the compiles);
    each test still reads its own model and column."""
    models = {f"models/m{i}.sql": "select 1 as id" for i in range(6)}
    yml = "models:\n" + "".join(
        f"  - name: m{i}\n    columns:\n      - name: id\n        tests: [unique, not_null, positive]\n"
        for i in range(6))
    macro = "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}"
    p = sparkmodels.load_project(make_project({**models, "models/schema.yml": yml, "macros/positive.sql": macro}))
    for i in range(6):
        assert p.compiler.compile(f"test.demo.positive_m{i}_id").sql.strip() == f"select * from `m{i}` where id <= 0"
        assert [c.args for c in p.manifest.nodes[f"test.demo.positive_m{i}_id"].calls] == [(f"m{i}",)]
    sql = p.compiler.compile("test.demo.not_null_m3_id").sql
    assert sql == "select id\nfrom `m3`\nwhere id is null\n"
    assert [c.args for c in p.manifest.nodes["test.demo.unique_m4_id"].calls] == [("m4",)]
