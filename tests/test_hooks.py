"""Hooks on real Spark (execute/hooks.py, project/hooks.py): pre_hook/post_hook from the project file, schema
YAML and config(), both spellings; on-run-start/on-run-end with `results`; order (pre before the build, post
after publish); failing hooks located at their config with a non-zero exit, through the real CLI."""

from __future__ import annotations

from click.testing import CliRunner

from sparkmodels.app import api
from sparkmodels.app.cli import cli
from sparkmodels.app.project import load_project
from sparkmodels.execute.hooks import statements

PROJECT = """\
name: demo
version: '1'
on-run-start:
  - "create or replace temp view hk_start as select 'started' as s"
on-run-end: "create or replace temp view hk_end as select '{% for r in results %}{{ r.node.name }}={{ r.status }};{% endfor %}' as s"
models:
  demo:
    t:
      +pre-hook: "{% if var('check', false) %}create or replace temp view hk_pre as select {{ run_query('select count(*) from ' ~ this).rows[0][0] }} as c{% endif %}"
seeds:
  demo:
    post_hook: "create or replace temp view hk_seed as select count(*) as n from {{ this }}"
"""
# the hook's own `}}` inside the string, and a line break before the call closes (line markers)
T = """\
{{ config(
    materialized='table',
    post_hook="create or replace temp view hk_post as select {{ run_query('select count(*) from ' ~ this).rows[0][0] }} as c",
) }}
select id from range({{ var('n') }})
"""
SCHEMA = """\
version: 2
models:
  - name: v
    config:
      post-hook: ["create or replace temp view hk_v as select n * 10 as n10 from {{ this }}"]
"""


def _one(spark, view):
    return spark.sql(f"select * from {view}").collect()[0][0]


def test_every_hook_kind_in_order(make_project, spark):
    root = make_project({"project.yml": PROJECT, "models/t.sql": T, "models/schema.yml": SCHEMA,
                         "models/v.sql": "select count(*) as n from {{ ref('t') }}", "seeds/s.csv": "a\n1\n2\n"})
    p = load_project(root, vars={"n": 1})
    t = p.manifest.nodes["model.demo.t"]
    assert [h.location for h in t.config["pre_hook"]] == ["project.yml:9"]
    assert [h.location for h in t.config["post_hook"]] == ["models/t.sql:3"]
    assert [h.location for h in p.manifest.nodes["model.demo.v"].config["post_hook"]] == ["models/schema.yml:5"]

    for view in ("hk_start", "hk_end", "hk_pre", "hk_post", "hk_v", "hk_seed"):
        spark.catalog.dropTempView(view)
    assert api.seed(root, spark=spark, vars={"n": 1}).success  # a seed's hook (bare key in the seeds: tree)
    assert _one(spark, "hk_seed") == 2
    result = api.run(root, spark=spark, vars={"n": 2})
    assert result.success, [r.message for r in result.results]
    assert _one(spark, "hk_start") == "started"
    assert _one(spark, "hk_post") == 2 and _one(spark, "hk_v") == 20
    assert _one(spark, "hk_end") == "t=success;v=success;"  # the ';' inside the string is no statement end
    assert not spark.catalog.tableExists("hk_pre")  # the hook rendered to nothing: no statement ran

    # second run: the pre_hook sees the old version (2 rows), the post_hook the published one (5)
    result = api.run(root, spark=spark, vars={"n": 5, "check": True})
    assert result.success
    assert (_one(spark, "hk_pre"), _one(spark, "hk_post"), _one(spark, "hk_v")) == (2, 5, 50)
    # unchanged inputs: a model with hooks is still built (dbt runs its hooks every run)
    result = api.run(root, spark=spark, vars={"n": 5, "check": True})
    assert not result.results[0].extra.get("cached") and result.results[0].message == "created table"


def test_failing_hooks_are_located_and_fail_the_run(make_project, spark):
    root = make_project({
        "project.yml": ("name: demo\nversion: '1'\n"
                        "on-run-end:\n"
                        "  - \"create or replace temp view hk_results as select '{{ results | map(attribute='status') | join(',') }}' as s\"\n"
                        "  - \"select nope from hk_results\"\n"),
        "models/ok.sql": "select 1 as x",
        "models/bad.sql": "{{ config(pre_hook='select broken(') }}\nselect 2 as x",
    })
    res = CliRunner().invoke(cli, ["run", "--project-dir", str(root)])
    assert res.exit_code == 1, res.output
    assert "Runtime error in bad (models/bad.sql:1): pre_hook failed:" in res.output
    assert "The hook ran: select broken(" in res.output
    # on-run-end ran although a node failed, saw both results, and its failing second hook is located
    assert sorted(_one(spark, "hk_results").split(",")) == ["error", "success"]
    assert "2 of 2 ERROR hook: demo.on-run-end.1" in res.output
    assert "Runtime error in demo.on-run-end.1 (project.yml:5): on-run-end failed:" in res.output  # the 2nd item
    assert "Traceback" not in res.output

    # a failing on-run-start skips every node; its error names the project file's line (of the list's
    # 2nd item, in a dbt_project.yml)
    (root / "project.yml").unlink()
    (root / "dbt_project.yml").write_text("name: demo\nversion: '1'\non-run-start:\n  - \"select 1\"\n\n"
                                          "  - \"select {{ undefined_thing }}\"\n")
    res = CliRunner().invoke(cli, ["run", "--project-dir", str(root), "-s", "ok"])
    assert res.exit_code == 1, res.output
    assert "Compilation error in demo.on-run-start.1 (dbt_project.yml:6): 'undefined_thing' is undefined." in res.output
    assert "SKIP=1" in res.output and "skipped because an on-run-start hook failed" in res.output


def test_hook_list_items_are_located_line_by_line(make_project):
    root = make_project({
        "project.yml": ("name: demo\nversion: '1'\n"
                        "on-run-start: [\"select 1\", \"select 2\"]\n"  # a flow list: one line
                        "on_run_start: |\n"  # a block at the key: its SQL starts below the key
                        "  select 2.5\n"
                        "on-run-end:\n"
                        "  - select 3\n"
                        "  - |\n"
                        "    select 4\n"  # a block scalar's SQL starts below its `|`
                        "  - sql: select 5\n"
                        "    transaction: true\n"
                        "models:\n"
                        "  demo:\n"
                        "    +pre-hook:\n"
                        "      # a comment between items\n"
                        "      - select 6\n"
                        "      - select 7\n"),
        "models/m.sql": "select 1 as x",
        "models/n.sql": "{{ config(post_hook=[\n    'select 10',\n\n    'select 11']) }}\nselect 1 as x",
        "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    config:\n      post_hook:\n"
                             "        - select 8\n        - select 9\n",
    })
    p = load_project(root)
    hooks = p.config.run_hooks
    assert [h.location for h in hooks["on-run-start"]] == ["project.yml:3", "project.yml:3", "project.yml:5"]
    assert [h.location for h in hooks["on-run-end"]] == ["project.yml:7", "project.yml:9", "project.yml:10"]
    m = p.manifest.nodes["model.demo.m"]
    assert [(h, h.location) for h in m.config["pre_hook"]] == [("select 6", "project.yml:16"),
                                                              ("select 7", "project.yml:17")]
    assert [h.location for h in m.config["post_hook"]] == ["models/schema.yml:6", "models/schema.yml:7"]
    n = p.manifest.nodes["model.demo.n"]  # a config() list: each item at its line of the model file
    assert [h.location for h in n.config["post_hook"]] == ["models/n.sql:2", "models/n.sql:4"]


def test_statements_split_outside_quotes_and_comments():
    assert statements("select ';' as a; -- x;\nselect `b;c` from t /* ; */;\n;") == \
        ["select ';' as a", "-- x;\nselect `b;c` from t /* ; */"]
