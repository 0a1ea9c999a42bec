"""`sparkmodels show` (app/show.py) through the real CLI on the shared session: a model and an inline query,
upstream views built on the fly, tables read and never rebuilt, a missing table, -o json, the Python API."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from sparkmodels.app import api
from sparkmodels.app.cli import cli
from sparkmodels.app.show import Preview

FILES = {
    "models/base.sql": "select id, name from values (1, 'a'), (2, 'b'), (3, cast(null as string)) as t(id, name)",
    "models/tab.sql": "{{ config(materialized='table') }}\nselect id * 10 as id10, name from {{ ref('base') }}",
    "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('tab') }} where id10 > 10",
    "models/v.sql": "select id10, name, 1.5 as d from {{ ref('eph') }} order by id10",
    "models/on_view.sql": "select count(*) as n from {{ ref('base') }}",
}


def cli_run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _version(root):
    return os.readlink(root / "warehouse" / "demo" / "tab")


def test_show_model_and_inline(make_project, spark):
    root = make_project(FILES)
    # a table upstream that was never built: a clear error naming the command that builds it, exit 1
    res = cli_run("show", "--project-dir", str(root), "-s", "v")
    assert res.exit_code == 1, res.output
    assert "'tab' has not been built yet" in res.output and "sparkmodels run -s +tab" in res.output
    assert "Traceback" not in res.output

    assert cli_run("run", "--project-dir", str(root), "-s", "tab").exit_code == 0
    before = _version(root)
    res = cli_run("show", "--project-dir", str(root), "-s", "v")
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == "Previewing node 'v':"
    assert lines[1:] == ["| id10 | name |   d |", "| ---- | ---- | --- |", "|   20 | b    | 1.5 |",
                         "|   30 | null | 1.5 |"]
    res = cli_run("show", "--project-dir", str(root), "-s", "v", "--limit", "1")
    assert res.output.strip().splitlines()[-1] == "|   20 | b    | 1.5 |"
    assert _version(root) == before  # the table was read, not rebuilt

    # an upstream view is built in the session on the fly (the run left `base` in this shared session)
    spark.catalog.dropTempView("base")
    res = cli_run("show", "--project-dir", str(root), "-s", "on_view", "-o", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"node": "on_view", "show": [{"n": 3}]}

    # inline: ref() and a macro, default limit 5, -o json for scripts
    (root / "macros").mkdir()
    (root / "macros" / "m.sql").write_text("{% macro times(c, n) %}{{ c }} * {{ n }}{% endmacro %}")
    res = cli_run("show", "--project-dir", str(root), "--inline",
                  "select {{ times('id', 2) }} as two, id from {{ ref('base') }} cross join range(3) as r(k) order by id",
                  "-o", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["node"] == "inline" and len(data["show"]) == 5
    assert data["show"][0] == {"two": 2, "id": 1}
    res = cli_run("show", "--project-dir", str(root), "--inline", "select * from {{ ref('tab') }} order by id10",
                  "--limit", "-1")
    assert res.output.startswith("Previewing inline node:") and res.output.count("\n") == 6  # title, 2 + 3 rows

    # errors: a failing inline query is located and exit 1; an unknown ref is a compile error, exit 2
    res = cli_run("show", "--project-dir", str(root), "--inline", "select\nnope from {{ ref('base') }}")
    assert res.exit_code == 1 and "Runtime error in inline (<inline>:2)" in res.output, res.output
    res = cli_run("show", "--project-dir", str(root), "--inline", "select * from {{ ref('bse') }}")
    assert res.exit_code == 2 and "Did you mean 'base'?" in res.output, res.output
    res = cli_run("show", "--project-dir", str(root))
    assert res.exit_code == 2 and "either --select MODEL or --inline" in res.output


def test_show_python_api(make_project, spark):
    root = make_project({"models/a.sql": "select 1 as x, date'2020-01-02' as d"})
    (preview,) = api.show(root, select="a", spark=spark)
    assert isinstance(preview, Preview)
    assert (preview.columns, preview.types, preview.rows[0][0]) == (("x", "d"), ("int", "date"), 1)
    assert preview.to_json() == {"node": "a", "show": [{"x": 1, "d": "2020-01-02"}]}


def test_show_renders_introspecting_nodes_in_its_session(make_project, spark):
    # a model, an upstream view and an inline query that introspect are rendered again at show time,
    # not previewed with their parse-time SQL
    cols = "{% for c in adapter.get_columns_in_relation(ref('wide')) if c.name != 'secret' %}{{ c.quoted }}, {% endfor %}"
    root = make_project({
        "models/wide.sql": "{{ config(materialized='table') }}\nselect 1 as id, 'a' as name, 'x' as secret",
        "models/narrow_view.sql": f"select {cols}0 as z from {{{{ ref('wide') }}}}",
        "models/on_narrow.sql": "select * from {{ ref('narrow_view') }}",
    })
    assert api.run(root, spark=spark, select=["wide"]).success
    spark.catalog.dropTempView("narrow_view")
    (on_narrow,) = api.show(root, select="on_narrow", spark=spark)
    assert on_narrow.columns == ("id", "name", "z")  # the view built on the fly, rendered at show time
    (narrow,) = api.show(root, select="narrow_view", spark=spark)
    assert narrow.sql.startswith("select `id`, `name`, 0 as z")
    (inline,) = api.show(root, inline="select {{ run_query('select count(*) from ' ~ ref('wide')).rows[0][0] "
                                       "if execute else -1 }} as n", spark=spark)
    assert inline.rows == ((1,),)
