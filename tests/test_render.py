"""Jinja rendering: the dbt context, macros, located errors and the rendered->source line map (no Spark)."""

from __future__ import annotations

import datetime as dt

import pytest

import sparkmodels
from sparkmodels.errors import CompilationError
from sparkmodels.project.render.jinja import Relation, Renderer, add_line_markers, resolve, strip_line_markers


def _load(make_project, files, **kw):
    return sparkmodels.load_project(make_project(files), **kw)


def _rendered(project, name="m"):
    return project.manifest.nodes[f"model.demo.{name}"]


def test_ref_source_become_placeholders_resolved_by_compile(make_project):
    p = _load(make_project, {
        "models/a.sql": "select 1 as id",
        "models/m.sql": "select * from {{ ref('a') }} join {{ source('raw', 'events') }} using (id)",
        "models/sources.yml": "sources:\n  - name: raw\n    schema: landing\n    tables:\n      - name: events\n",
    })
    node = _rendered(p)
    assert "ref(" not in node.rendered and "`a`" not in node.rendered  # placeholders until compile
    assert [(c.kind, c.args) for c in node.calls] == [("ref", ("a",)), ("source", ("raw", "events"))]
    assert p.compiler.compile(node.unique_id).sql == "select * from `a` join `landing`.`events` using (id)"


def test_two_argument_ref_uses_the_model_name(make_project):
    p = _load(make_project, {"models/a.sql": "select 1", "models/m.sql": "select * from {{ ref('demo', 'a') }}"})
    assert p.compiler.compile("model.demo.m").sql == "select * from `a`"


def test_context_variables(make_project, monkeypatch):
    monkeypatch.setenv("SM_RENDER_ENV", "from-env")
    monkeypatch.delenv("SM_RENDER_UNSET", raising=False)
    p = _load(make_project, {
        "project.yml": "name: demo\nvars:\n  v1: hello\n  n: 3\n",
        "models/m.sql": (
            "{{ config(materialized='table', schema='marts') }}"
            "select '{{ var('v1') }}' as a, {{ var('n') + 1 }} as n, '{{ var('absent', 'dflt') }}' as b, "
            "'{{ env_var('SM_RENDER_ENV') }}' as c, '{{ env_var('SM_RENDER_UNSET', 'ed') }}' as d, "
            "'{{ this }}|{{ this.name }}|{{ this.schema }}' as t, "
            "'{{ target.name }}|{{ target.type }}|{{ target.schema }}|{{ target.threads }}' as tg, "
            "{{ is_incremental() }} as inc, '{{ run_started_at.strftime('%Y') }}' as y"
        ),
    })
    node = _rendered(p)
    year = dt.datetime.now(dt.timezone.utc).year
    assert node.rendered == (
        "select 'hello' as a, 4 as n, 'dflt' as b, 'from-env' as c, 'ed' as d, "
        "'`m`|m|demo_marts' as t, 'local|spark|demo|1' as tg, False as inc, "
        f"'{year}' as y"
    )
    assert node.uses_vars == ("absent", "n", "v1")
    assert node.uses_env_vars == ("SM_RENDER_ENV", "SM_RENDER_UNSET")
    assert node.config["materialized"] == "table" and node.config["schema"] == "marts"


def test_config_get_inside_model(make_project):
    p = _load(make_project, {"models/m.sql": "{{ config(alias='x') }}select '{{ config.get('alias') }}', "
                                             "'{{ config.get('missing', 'd') }}'"})
    assert _rendered(p).rendered == "select 'x', 'd'"


def test_target_threads_follow_the_chosen_target(make_project):
    p = _load(make_project, {
        "project.yml": "name: demo\ntargets:\n  dev: {schema: dev_s, threads: 3}\n",
        "models/m.sql": "{{ target.name }} {{ target.schema }} {{ target.threads }}",
    }, threads=5)
    assert _rendered(p).rendered == "dev dev_s 5"


def test_missing_var_names_model_file_line(make_project):
    with pytest.raises(CompilationError, match="required var 'strat' is not set.*Did you mean 'start'") as info:
        _load(make_project, {
            "project.yml": "name: demo\nvars:\n  start: 1\n",
            "models/m.sql": "select 1\nfrom x\nwhere d > {{ var('strat') }}\n",
        })
    err = info.value
    assert (err.node, err.path, err.line) == ("m", "models/m.sql", 3)
    assert "m (models/m.sql:3)" in str(err)


def test_missing_env_var_without_default(make_project, monkeypatch):
    monkeypatch.delenv("SM_RENDER_UNSET", raising=False)
    with pytest.raises(CompilationError, match="SM_RENDER_UNSET") as info:
        _load(make_project, {"models/m.sql": "select\n'{{ env_var('SM_RENDER_UNSET') }}'"})
    assert (info.value.path, info.value.line) == ("models/m.sql", 2)


def test_log_is_collected_and_renders_empty():
    r = Renderer(vars={}, target={})
    result = r.render("select 1{{ log('hello ' ~ 1, info=True) }}", filename="m.sql", node_name="m")
    assert result.text == "select 1"
    assert result.logs == ["hello 1"]


def test_do_return_in_macro_and_macros_across_files(make_project):
    p = _load(make_project, {
        "macros/a.sql": """
            {% macro double(x) %}{{ x }} * 2{% endmacro %}
            {% macro suffixed(x) %}{% do return(x ~ '_sfx') %}{% endmacro %}
        """,
        "macros/b.sql": "{% macro quad(x) %}{{ double(double(x)) }}{% endmacro %}\n",
        "macros/c.sql": "{% macro cols() %}{% do return(['a', 'b']) %}{% endmacro %}\n",
        "models/m.sql": "select {{ quad(3) }} as q, '{{ suffixed('z') }}' as s, {{ cols() | join(', ') }}",
    })
    node = _rendered(p)
    assert node.rendered == "select 3 * 2 * 2 as q, 'z_sfx' as s, a, b"
    assert set(node.depends_on_macros) >= {"macro.demo.quad", "macro.demo.suffixed", "macro.demo.cols"}
    assert {"macro.demo.double", "macro.demo.quad", "macro.demo.suffixed", "macro.demo.cols"} <= set(p.manifest.macros)
    assert p.manifest.macros["macro.demo.quad"].path == "macros/b.sql"


def test_example_macros_render(example_project):
    p = sparkmodels.load_project(example_project)
    sql = p.manifest.nodes["model.nyc_taxi.stg_green_tripdata"].rendered
    assert "md5(concat_ws('|'," in sql and "coalesce(cast(lpep_pickup_datetime as string), '_null_')" in sql
    assert "when 6 then 'Voided trip'" in sql


@pytest.mark.parametrize("body, line, message", [
    ("select 1\n\n, {{ undefined_thing }}\n", 3, "'undefined_thing' is undefined"),
    ("select 1\n{% if true %}\n\n  , {{ foo.bar }}\n{% endif %}\n", 4, "'foo' is undefined"),
    ("select {{ 1 / 0 }}\n", 1, "ZeroDivisionError"),
    ("select 1\n{{ exceptions.raise_compiler_error('custom failure') }}\n", 2, "custom failure"),
])
def test_runtime_errors_are_located(make_project, body, line, message):
    with pytest.raises(CompilationError, match=message) as info:
        _load(make_project, {"models/m.sql": body})
    assert (info.value.node, info.value.path, info.value.line) == ("m", "models/m.sql", line)


def test_undefined_inside_macro_points_at_macro_file(make_project):
    with pytest.raises(CompilationError, match="has no attribute 'nope'") as info:
        _load(make_project, {
            "macros/x.sql": "{# a macro #}\n{% macro boom(x) %}\n  select\n  {{ x.nope.deeper }}\n{% endmacro %}\n",
            "models/m.sql": "select 1\n{{ boom(1) }}\n",
        })
    assert (info.value.node, info.value.path, info.value.line) == ("m", "macros/x.sql", 4)


def test_syntax_error_in_model(make_project):
    with pytest.raises(CompilationError, match="Jinja syntax error") as info:
        _load(make_project, {"models/m.sql": "select 1\n\n\n, {% if %}\n"})
    assert (info.value.node, info.value.path, info.value.line) == ("m", "models/m.sql", 4)


def test_syntax_error_in_macro_file(make_project):
    with pytest.raises(CompilationError, match="Jinja syntax error") as info:
        _load(make_project, {
            "macros/ok.sql": "{% macro fine() %}1{% endmacro %}\n",
            "macros/bad.sql": "{% macro broken(x) %}\nselect\n  {{ x \n{% endmacro %}\n",
            "models/m.sql": "select 1",
        })
    assert info.value.path == "macros/bad.sql"
    assert info.value.line in (3, 4)  # the unclosed {{ on line 3; Jinja notices at the next '{'


def test_unclosed_block_in_model(make_project):
    with pytest.raises(CompilationError, match="Jinja syntax error") as info:
        _load(make_project, {"models/m.sql": "select 1\n{% if true %}\n, 2\n"})
    assert info.value.path == "models/m.sql" and info.value.node == "m"


@pytest.mark.parametrize("body", ["select 1 as x\nfrom t where {{ var('x'\nand y = 2\n",
                                  "select {{ 1 +\n 2 }}\n, {{ x\n", "select {% if true\n%}1{% endif %}\n"])
def test_an_unclosed_tag_never_shows_internal_marker_characters(make_project, body):
    try:
        _load(make_project, {"models/m.sql": body})
    except CompilationError as exc:
        text = str(exc)
        assert _no_markers(text), text
    # a template Jinja accepts is fine too: only messages are checked


def _no_markers(text: str) -> bool:
    return not any(c in text for c in "\ue000\ue001\ue002\ue003") and "\\ue00" not in text and "models/m.sql" in text


def test_an_unclosed_expression_says_what_is_unclosed(make_project):
    with pytest.raises(CompilationError) as info:
        _load(make_project, {"models/m.sql": "select 1 as x\nfrom t where {{ var('x'\nand y = 2\n"})
    assert "unclosed" in str(info.value) and info.value.path == "models/m.sql"
    assert _no_markers(str(info.value))


# -- line markers --------------------------------------------------------------------------------

def test_add_and_strip_markers_roundtrip():
    source = "select\n  a,\n  b\nfrom t\n"
    marked = add_line_markers(source)
    assert marked != source and marked.count("\n") == source.count("\n")
    clean, mapping = strip_line_markers(marked)
    assert clean == source
    assert mapping == (1, 2, 3, 4, 5)


def test_markers_skip_newlines_inside_jinja_tags():
    source = "select {{\n  1 + 1\n}} as x\nfrom t"
    marked = add_line_markers(source)
    # the newlines inside the {{ }} expression carry no marker (Jinja must still parse it)
    assert marked.split("{{")[1].split("}}")[0] == "\n  1 + 1\n"
    out = Renderer(vars={}, target={}).render(source, filename="m.sql", node_name="m")
    assert out.text == "select 2 as x\nfrom t"
    assert out.line_map == (3, 4)


def test_strip_maps_expanded_lines_to_the_calling_line():
    # output line 2 expanded to three lines (no markers on the first two): all map to source line 2
    rendered = "select\ue0021\ue003\n  a,\n  b,\n  c\ue0022\ue003\nfrom t"
    clean, mapping = strip_line_markers(rendered)
    assert clean == "select\n  a,\n  b,\n  c\nfrom t"
    assert mapping == (1, 2, 2, 2, 3)


def test_full_render_line_map_after_multiline_macro(make_project):
    p = _load(make_project, {
        "macros/cols.sql": "{% macro cols() -%}\n  a,\n  b,\n  c\n{%- endmacro %}\n",
        "models/m.sql": "{{ config(materialized='table') }}\nselect\n  {{ cols() }},\n  d\nfrom t\nwhere oops\n",
    })
    node = _rendered(p)
    lines = node.rendered.split("\n")
    assert lines[1:7] == ["select", "  a,", "  b,", "  c,", "  d", "from t"]
    where = lines.index("where oops") + 1
    assert where == 8
    assert node.source_line(where) == 6  # 'where oops' is on line 6 of the file
    assert node.source_line(lines.index("  d") + 1) == 4
    assert [node.source_line(i) for i in (3, 4, 5)] == [3, 3, 3]  # the macro's lines -> the call


def test_line_map_with_for_loop(make_project):
    p = _load(make_project, {
        "models/m.sql": "select\n{% for c in ['a', 'b', 'c'] %}\n  {{ c }},\n{% endfor %}\n  1 as one\nfrom bad\n",
    })
    node = _rendered(p)
    lines = node.rendered.split("\n")
    assert node.source_line(lines.index("from bad") + 1) == 6
    assert node.source_line(lines.index("  b,") + 1) == 3


def test_relation_and_resolve():
    this = Relation("orders", "main")
    assert str(this) == "`orders`" and this.name == "orders" and this.schema == "main"
    assert resolve("a \ue0000\ue001 b \ue0001\ue001", ["`x`", "`y`"]) == "a `x` b `y`"
    assert resolve("no placeholders", []) == "no placeholders"


def test_set_block_values_carry_no_markers():
    source = ("{% set cols %}\na\nb\n{% endset %}\nselect\n{%- for c in cols.split() %}\n"
              "  {{ c }}{% if not loop.last %},{% endif %}\n{%- endfor %}\nfrom t\n")
    out = Renderer(vars={}, target={}).render(source, filename="m.sql", node_name="m")
    assert out.text == "\nselect\n  a,\n  b\nfrom t\n"  # what plain Jinja renders
    assert out.line_map == (4, 5, 7, 7, 9, 10)


def test_macro_defined_in_model_maps_to_call_line():
    source = "{% macro cols() %}\n  a,\n  b\n{% endmacro %}\nselect\n{{ cols() }}\nfrom t\nwhere x"
    out = Renderer(vars={}, target={}).render(source, filename="m.sql", node_name="m")
    lines = out.text.split("\n")
    assert out.line_map[lines.index("  b")] == 6
    assert out.line_map[lines.index("where x")] == 8


def test_whitespace_control_joined_lines_map_to_their_first_line():
    source = "select\n  a\n{%- if true %}\n  , b\n{%- endif %}\nfrom t"
    out = Renderer(vars={}, target={}).render(source, filename="m.sql", node_name="m")
    assert out.text == "select\n  a\n  , b\nfrom t"
    assert out.line_map == (1, 2, 4, 6)


def test_execute_is_false_at_load_and_marks_the_model_for_run_time():
    # dbt's parse phase: `execute` is false; reading it means the model is rendered again when it runs
    out = Renderer(vars={}, target={}).render("{% if execute %}select 1{% else %}skip{% endif %}",
                                              filename="m.sql", node_name="m")
    assert out.text == "skip" and out.runtime
    plain = Renderer(vars={}, target={}).render("select 1 from {{ ref('a') }}", filename="m.sql", node_name="m")
    assert not plain.runtime


def test_context_is_the_renders_own_context(make_project):
    # dbt's `context`: look names up dynamically, e.g. a macro chosen by name (context.get(name))
    p = _load(make_project, {
        "project.yml": "name: demo\nvars:\n  v1: hello\n",
        "macros/m.sql": "{% macro pick(name) %}{{ context.get(name)() }}{% endmacro %}\n"
                        "{% macro shout() %}HEY{% endmacro %}\n",
        "models/m.sql": "select '{{ context['var']('v1') }}' as a, '{{ context.get('nope', 'dflt') }}' as b, "
                        "'{{ context['this'].identifier }}' as t, '{{ pick('shout') }}' as c, "
                        "{{ 'ref' in context and 'shout' in context }} as has",
        "models/other.sql": "select '{{ context['this'].identifier }}' as t",
    })
    assert _rendered(p).rendered == "select 'hello' as a, 'dflt' as b, 'm' as t, 'HEY' as c, True as has"
    assert _rendered(p, "other").rendered == "select 'other' as t"  # each render's own entries
