"""`sparkmodels run-operation` (execute/operations.py) through the real CLI on the shared session: a macro with
--args that runs run_query over a ref(), its log lines, a package's macro, located errors and dbt's exit codes."""

from __future__ import annotations

from click.testing import CliRunner

from sparkmodels.app import api
from sparkmodels.app.cli import cli

MACROS = """\
{% macro count_rows(model, at_least=0) %}
  {% set t = run_query('select count(*) as n from ' ~ ref(model)) %}
  {{ log('rows in ' ~ model ~ ': ' ~ t.rows[0]['n'] ~ ' ' ~ (t.columns[0].values() | list), info=True) }}
  {{ log('only in the debug output') }}
  {% if t.rows[0][0] < at_least %}
    {{ exceptions.raise_compiler_error('too few rows: ' ~ t.rows[0][0]) }}
  {% endif %}
  {% do return(t.rows[0][0]) %}
{% endmacro %}

{% macro bad_sql() %}
  {% do run_query('select nope') %}
{% endmacro %}
"""


def cli_run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_operation(make_project, spark):
    root = make_project({
        "models/t.sql": "{{ config(materialized='table') }}\nselect id from range(3)",
        "models/unbuilt.sql": "{{ config(materialized='table') }}\nselect 1 as id",
        "macros/ops.sql": MACROS,
        "dbt_packages/pkg/dbt_project.yml": "name: pkg\n",
        "dbt_packages/pkg/macros/p.sql": "{% macro hello(who) %}{{ log('hello ' ~ who, info=True) }}{% endmacro %}",
    })
    assert cli_run("run", "--project-dir", str(root), "-s", "t").exit_code == 0
    res = cli_run("run-operation", "count_rows", "--project-dir", str(root), "--args", "{model: t}")
    assert res.exit_code == 0, res.output
    assert res.output == "rows in t: 3 [3]\n"  # info=True lines only
    res = cli_run("run-operation", "pkg.hello", "--project-dir", str(root), "--args", "who: world")
    assert (res.exit_code, res.output) == (0, "hello world\n")

    # the Python API hands back the macro's return() value and every log line
    out = api.run_operation(root, "count_rows", args={"model": "t"}, spark=spark)
    assert out.value == 3 and out.logs == ("rows in t: 3 [3]", "only in the debug output")

    # the macro fails: exit 1, located at the macro file's line (its own error, or its SQL's)
    res = cli_run("run-operation", "count_rows", "--project-dir", str(root), "--args", "{model: t, at_least: 5}")
    assert res.exit_code == 1
    assert "Compilation error in count_rows (macros/ops.sql:6): too few rows: 3" in res.output
    res = cli_run("run-operation", "bad_sql", "--project-dir", str(root))
    assert res.exit_code == 1
    assert "Runtime error in bad_sql (macros/ops.sql:12): run_query failed:" in res.output
    assert "`nope` cannot be resolved" in res.output and "Traceback" not in res.output
    res = cli_run("run-operation", "count_row", "--project-dir", str(root))
    assert res.exit_code == 1 and "no macro named 'count_row'" in res.output and "Did you mean 'count_rows'?" in res.output
    res = cli_run("run-operation", "count_rows", "--project-dir", str(root), "--args", "{model: unbuilt}")
    assert res.exit_code == 1 and "'unbuilt' has not been built yet" in res.output, res.output
    # bad --args is a usage error: exit 2
    res = cli_run("run-operation", "count_rows", "--project-dir", str(root), "--args", "[1, 2]")
    assert res.exit_code == 2 and "--args must be a YAML mapping" in res.output
