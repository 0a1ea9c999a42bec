"""dbt's load-time Jinja globals (render/dbt_context.py) as models see them (no Spark)."""

from __future__ import annotations

import re

from sparkmodels.project.render.jinja import Renderer


def _render(text: str, renderer: Renderer | None = None):
    r = renderer or Renderer(vars={}, target={"project_name": "demo", "schema": "s"})
    return r.render(text, filename="models/m.sql", node_name="m")


def test_conversions_and_helpers_behave_as_dbts():
    out = _render(
        "{{ tojson({'a': [1, 2]}) }}|{{ fromjson('{\"b\": 3}')['b'] }}|{{ fromjson('not json', 'dflt') }}|"
        "{{ fromyaml('x: [1, 2]')['x'][1] }}|{{ toyaml({'k': 'v'}) | trim }}|"
        "{{ zip([1, 2], ['a', 'b']) | list }}|{{ set([1, 1, 2]) | length }}|{{ set(5, default='no') }}|"
        "{{ local_md5('a') }}|{{ modules.datetime.date(2024, 1, 2).isoformat() }}|"
        "{{ modules.re.sub('[0-9]', '#', 'a1b2') }}|{{ modules.itertools.chain([1], [2]) | list }}"
    ).text
    assert out == ("{\"a\": [1, 2]}|3|dflt|2|k: v|[(1, 'a'), (2, 'b')]|2|no|0cc175b9c0f1b6a831c399e269772661|"
                   "2024-01-02|a#b#|[1, 2]")


def test_column_translate_type_is_dbt_sparks():
    out = _render("{{ api.Column.translate_type('long') }} {{ api.Column.translate_type('string') }} "
                  "{{ api.Column.translate_type('integer') }} {{ api.Column.create('x', 'long').data_type }}").text
    assert out == "BIGINT string integer BIGINT"


def test_invocation_id_flags_print_and_warn(capsys):
    r = Renderer(vars={}, target={"project_name": "demo"})
    first = _render("{{ invocation_id }}", r).text
    assert re.fullmatch(r"[0-9a-f-]{36}", first) and _render("{{ invocation_id }}", r).text == first
    assert _render("{{ invocation_id }}").text != first  # one per loaded project
    out = _render("{{ flags.FULL_REFRESH }} {{ flags.WHICH }}{{ print('hello') }}{{ exceptions.warn('careful') }}", r)
    assert out.text == "False compile"
    assert capsys.readouterr().out == "hello\n"
    assert out.logs == ["Warning: careful"]


def test_exceptions_warn_in_a_model_is_a_load_warning(make_project):
    import sparkmodels

    project = sparkmodels.load_project(make_project({"models/m.sql": "{{ exceptions.warn('old column') }}select 1"}))
    assert project.manifest.warnings == ("m (models/m.sql): old column",)
