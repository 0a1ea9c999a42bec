"""Rendering without Jinja (static_render), memoised templates and macro modules made once (no Spark).

The static path must give exactly what Jinja gives: every template below is rendered twice, once as
usual and once with the static planner switched off, and all of RenderResult must agree.
"""

from __future__ import annotations

import jinja2
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


def _count(monkeypatch, obj, name):
    calls = []
    original = getattr(obj, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, spy)
    return calls


def test_template_compiled_once_per_text_and_file(monkeypatch):
    r = _renderer()
    compiles = _count(monkeypatch, r.env, "compile")
    source = "{% set x = 1 %}select {{ x }} from {{ ref('a') }}"
    first = r.render(source, filename="m.sql", node_name="m")
    second = r.render(source, filename="m.sql", node_name="m2")
    assert len(compiles) == 1
    assert _fields(first) == _fields(second)
    r.render(source, filename="other.sql", node_name="o")  # another file: its own template (error paths)
    assert len(compiles) == 2


def test_macro_modules_made_once_and_a_new_macro_file_invalidates(monkeypatch):
    r = _renderer()
    made = _count(monkeypatch, Renderer, "_module_macros")
    for i in range(5):
        assert r.render("{% if true %}{{ is_recent('d') }}{% endif %}", filename=f"m{i}.sql",
                        node_name="m").text == "d >= date_sub(current_date(), 30)"
    assert len(made) == len(MACROS)  # one module per macro file, not per render
    with pytest.raises(CompilationError, match="'later' is undefined"):
        r.render("{{ later('d') }}", filename="m.sql", node_name="m")
    r.add_macro_file("macros/c.sql", "{% macro later(column) %}later {{ column }}{% endmacro %}")
    assert r.render("{{ later('d') }}", filename="m.sql", node_name="m").text == "later d"
    # add_macro_file finds the macro names in the syntax tree; then all three files get new modules
    assert len(made) == len(MACROS) + 3


def test_macro_file_with_top_level_code_gets_fresh_modules_per_render(monkeypatch):
    r = Renderer(vars={"v": 1}, target={})
    r.add_macro_file("macros/t.sql", "{% set prefix = 'p_' %}{% macro show() %}{{ prefix }}{{ this }}{% endmacro %}")
    made = _count(monkeypatch, Renderer, "_module_macros")
    for name in ("a", "b"):
        out = r.render("{{ show() }}", filename=f"{name}.sql", node_name=name, this=Relation(name, "s"))
        assert out.text == f"p_`{name}`" and out.macros_used == {"show"}
    assert len(made) == 2


def test_extra_context_does_not_leak_into_the_next_render():
    r = _renderer()
    assert r.render("{{ only_here }}", filename="t.yml", node_name="t", extra={"only_here": 1}).text == "1"
    with pytest.raises(CompilationError, match="only_here"):
        r.render("{{ only_here }}", filename="t.yml", node_name="t")
    assert r.render("{{ this }}", filename="t.yml", node_name="t", extra={"this": "x"}).text == "x"
    assert r.render("{{ this }}", filename="t.yml", node_name="t").text == "None"


def test_schema_tests_of_one_kind_share_one_compiled_template(make_project, monkeypatch):
    compiles = _count(monkeypatch, jinja2.Environment, "compile")
    models = {f"models/m{i}.sql": "select 1 as id" for i in range(6)}
    yml = "models:\n" + "".join(
        f"  - name: m{i}\n    columns:\n      - name: id\n        tests: [unique, not_null, positive]\n"
        for i in range(6))
    macro = "{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}"
    p = sparkmodels.load_project(make_project({**models, "models/schema.yml": yml, "macros/positive.sql": macro}))
    test_compiles = [c for c in compiles if "__sm_target" in str(c[1])]
    # the custom kind: one text for its 6 tests; the built-in kinds expand without Jinja (generic.py)
    assert len(test_compiles) == 1 and "test_positive" in str(test_compiles[0][1])
    sql = p.compiler.compile("test.demo.not_null_m3_id").sql
    assert sql == "select id\nfrom `m3`\nwhere id is null\n"
    assert [c.args for c in p.manifest.nodes["test.demo.unique_m4_id"].calls] == [("m4",)]
