"""Data tests and unit tests on real Spark: generic, custom, singular, severity, where, store_failures."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import sparkmodels
from sparkmodels.app.cli import cli
from sparkmodels.errors import ProjectError
from sparkmodels.execute.checks.batch import count_query

PEOPLE = """\
id,name,status,country_id,score
1,ann,active,1,10
2,bob,inactive,2,20
2,cat,active,9,30
3,,weird,1,40
4,dan,odd,,50
"""

SCHEMA = """\
version: 2
sources:
  - name: raw
    tables:
      - name: events
        external: {location: raw/events.csv, format: csv, options: {header: "true", inferSchema: "true"}}
        columns:
          - name: kind
            data_tests:
              - accepted_values: {values: [click, view]}
seeds:
  - name: countries
    columns:
      - name: id
        data_tests: [unique, not_null]
models:
  - name: people_model
    columns:
      - name: id
        data_tests:
          - not_null
          - unique
      - name: name
        tests:
          - not_null
          - unique
          - not_null:
              name: name_thresholds
              config: {warn_if: ">0", error_if: ">5"}
          - not_null:
              name: name_where
              config: {where: "id <> 3"}
      - name: status
        data_tests:
          - accepted_values:
              arguments: {values: [active, inactive]}
          - accepted_values:
              name: status_warn
              values: [active, inactive]
              severity: warn
          - accepted_values:
              name: status_limited
              values: [active]
              config: {limit: 1}
      - name: country_id
        data_tests:
          - relationships:
              arguments: {to: ref('countries'), field: id}
      - name: score
        data_tests:
          - at_most: {max_value: 40}
          - at_most:
              name: score_at_most_100
              max_value: 100
          - no_bad_column_name:
              name: broken_test
"""

FILES = {
    "seeds/people.csv": PEOPLE,
    "seeds/countries.csv": "id,name\n1,France\n2,Peru\n",
    "raw/events.csv": "id,kind\n1,click\n2,view\n3,scroll\n",
    "models/people_model.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('people') }}\n",
    "models/schema.yml": SCHEMA,
    "macros/at_most.sql": """\
        {% test at_most(model, column_name, max_value) %}
        select {{ column_name }} from {{ model }} where {{ column_name }} > {{ max_value }}
        {% endtest %}
        """,
    "tests/generic/no_bad_column_name.sql": """\
        {% test no_bad_column_name(model, column_name) %}
        select no_such_column from {{ model }}
        {% endtest %}
        """,
    "tests/assert_few_people.sql": "select * from {{ ref('people_model') }} where score > 45\n",
}


@pytest.fixture(scope="module")
def tested(tmp_path_factory, spark):
    """The demo project built (seeds, model) and then tested once; its test results by name."""
    from conftest import write_files

    root = write_files(tmp_path_factory.mktemp("checks") / "proj",
                       {"project.yml": "name: demo\nversion: '1'\n", **FILES})
    sparkmodels.seed(root, spark=spark)
    assert sparkmodels.run(root, spark=spark).success
    result = sparkmodels.test(root, spark=spark)
    run_results = json.loads((root / "target" / "run_results.json").read_text())
    return root, result, {r.name: r for r in result.results}, run_results


def test_generic_tests_pass_and_fail_with_dbt_failure_counts(tested):
    _, result, by_name, _ = tested
    expect = {
        "not_null_people_model_id": ("pass", 0),
        "unique_people_model_id": ("fail", 1),  # one duplicated value (2)
        "not_null_people_model_name": ("fail", 1),
        "unique_people_model_name": ("pass", 0),  # nulls are not duplicates
        "accepted_values_people_model_status__active__inactive": ("fail", 2),  # distinct: weird, odd
        "relationships_people_model_country_id__id__ref_countries_": ("fail", 1),  # 9; null is fine
        "unique_countries_id": ("pass", 0),
        "not_null_countries_id": ("pass", 0),
        "accepted_values_raw_events_kind__click__view": ("fail", 1),  # source column
    }
    for name, (status, failures) in expect.items():
        assert (by_name[name].status, by_name[name].failures) == (status, failures), name
    assert not result.success


def test_severity_thresholds_where_and_limit(tested):
    _, _, by_name, _ = tested
    assert (by_name["status_warn"].status, by_name["status_warn"].failures) == ("warn", 2)
    assert by_name["name_thresholds"].status == "warn"  # 1 null: > 0 warns, not > 5 so no error
    assert "configured to warn if >0" in by_name["name_thresholds"].message
    assert by_name["name_where"].status == "pass"  # the null name is on id 3
    assert (by_name["status_limited"].status, by_name["status_limited"].failures) == ("fail", 1)


def test_custom_and_singular_tests(tested):
    _, _, by_name, _ = tested
    assert (by_name["at_most_people_model_score__40"].status,
            by_name["at_most_people_model_score__40"].failures) == ("fail", 1)
    assert by_name["score_at_most_100"].status == "pass"
    assert (by_name["assert_few_people"].status, by_name["assert_few_people"].failures) == ("fail", 1)
    broken = by_name["broken_test"]
    assert broken.status == "error" and broken.error.path == "models/schema.yml" and broken.error.line


def test_shared_scan_counts_equal_each_tests_own_sql(tested, spark):
    root, _, by_name, _ = tested
    project = sparkmodels.load_project(root)
    batched = [n for n in project.manifest.of_type("test") if n.test.builtin
               and n.test.name != "relationships"]
    assert len(batched) >= 8
    for node in batched:
        own = spark.sql(count_query(project.compiler.compile(node.unique_id).sql)).collect()[0][0]
        if node.config.get("limit"):
            own = min(own, node.config["limit"])
        assert by_name[node.name].failures == own, node.name


def test_shared_scan_runs_one_spark_job_group_per_relation(tested, spark):
    root, _, _, _ = tested
    sparkmodels.test(root, spark=spark, select=["people_model,test_name:not_null",
                                                 "people_model,test_name:unique",
                                                 "people_model,test_name:accepted_values"])
    tracker = spark.sparkContext.statusTracker()
    project = sparkmodels.load_project(root)
    names = sorted(n.name for n in project.manifest.of_type("test")
                   if n.test.attached_node == "model.demo.people_model" and n.test.builtin
                   and n.test.name != "relationships")
    with_jobs = [n for n in names if tracker.getJobIdsForGroup(f"sparkmodels-{n}")]
    # The first test (accepted_values_..., by name) computed all counts in the shared statements: the
    # failing accepted_values tests' distinct rejected values (weird, odd) and the unique test's
    # duplicate come from the driver-side scan, so no test needs a query of its own.
    assert len(names) == 9 and with_jobs == [names[0]], with_jobs


def test_run_results_and_compiled_sql(tested):
    root, _, _, data = tested
    results = {r["name"]: r for r in data["results"]}
    assert results["unique_people_model_id"]["failures"] == 1
    assert "group by id" in results["unique_people_model_id"]["compiled_code"]
    compiled = root / "target" / "compiled" / "demo"
    assert (compiled / "models" / "schema.yml" / "not_null_people_model_id.sql").is_file()
    assert "where score > 45" in (compiled / "tests" / "assert_few_people.sql").read_text()


def test_store_failures_writes_failing_rows_to_audit_schema(tested, spark):
    root, _, _, _ = tested
    schema = (root / "models" / "schema.yml").read_text()
    (root / "models" / "schema.yml").write_text(schema.replace(
        "          - relationships:\n              arguments: {to: ref('countries'), field: id}\n",
        "          - relationships:\n              arguments: {to: ref('countries'), field: id}\n"
        "              config: {store_failures: true}\n"), encoding="utf-8")
    try:
        result = sparkmodels.test(root, spark=spark, select=["test_name:relationships"])
    finally:
        (root / "models" / "schema.yml").write_text(schema, encoding="utf-8")
    [r] = result.results
    path = root / "warehouse" / "demo_dbt_test__audit" / r.name
    assert str(path) in r.message and r.extra["failures_path"] == str(path)
    assert [row.from_field for row in spark.read.parquet(str(path)).collect()] == [9]


def test_cli_test_lines_and_exit_code(tested):
    root, _, _, _ = tested
    res = CliRunner().invoke(cli, ["test", "--project-dir", str(root), "-s", "people_model",
                                   "--exclude", "broken_test"])
    assert res.exit_code == 1, res.output
    assert "FAIL 2 accepted_values_people_model_status__active__inactive" in res.output
    assert "WARN 2 status_warn" in res.output and "PASS not_null_people_model_id" in res.output
    assert "Failure in test unique_people_model_id" in res.output
    ok = CliRunner().invoke(cli, ["test", "--project-dir", str(root), "-s", "test_name:not_null,countries"])
    assert ok.exit_code == 0, ok.output


UNIT = """\
version: 2
unit_tests:
  - name: doubles_and_filters
    model: scored
    overrides:
      vars: {factor: 3}
    given:
      - input: ref('base')
        rows:
          - {id: 1, score: 10, kind: a}
          - {id: 2, score: 20, kind: b}
          - {id: 2, score: 20, kind: b}
      - input: source('raw', 'kinds')
        format: csv
        rows: |
          kind,keep
          a,true
          b,true
    expect:
      rows:
        - {id: 1, scaled: 30}
        - {id: 2, scaled: 60}
        - {id: 2, scaled: 60}
  - name: wrong_expectation
    model: scored
    given:
      - input: ref('base')
        rows: [{id: 1, score: 10, kind: a}, {id: 5, score: 1, kind: a}]
      - input: source('raw', 'kinds')
        rows: [{kind: a, keep: true}]
    expect:
      rows: [{id: 1, scaled: 20}, {id: 7, scaled: 14}]
"""

UNIT_FILES = {
    "project.yml": "name: demo\nversion: '1'\nvars: {factor: 2}\n",
    "models/base.sql": "select 1 as id, 10 as score, 'a' as kind\n",
    "models/scored.sql": """\
        select b.id, b.score * {{ var('factor') }} as scaled
        from {{ ref('base') }} as b
        join {{ source('raw', 'kinds') }} as k on b.kind = k.kind
        where k.keep
        """,
    "models/sources.yml": "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: kinds\n"
                          "        external: {location: raw/kinds.parquet}\n",
    "models/unit.yml": UNIT,
}


def test_unit_tests_pass_and_fail_with_a_diff(make_project, spark):
    root = make_project(UNIT_FILES)
    result = sparkmodels.test(root, spark=spark)
    by_name = {r.name: r for r in result.results}
    assert by_name["doubles_and_filters"].status == "pass", by_name["doubles_and_filters"].message
    bad = by_name["wrong_expectation"]
    assert (bad.status, bad.failures) == ("fail", 2)
    assert "missing:    {id: 7, scaled: 14}" in bad.message
    assert "unexpected: {id: 5, scaled: 2}" in bad.message
    assert not spark.catalog.listTables() or not any(t.name.startswith("__sm_ut_")
                                                     for t in spark.catalog.listTables())
    units = sparkmodels.ls(root, select=["test_type:unit"])[0]
    assert sorted(n.name for n in units) == ["doubles_and_filters", "wrong_expectation"]
    assert sparkmodels.ls(root, select=["test_type:data"], resource_types=("test",))[0] == []


def test_unit_test_inputs_typed_from_the_real_upstream(make_project, spark, tmp_path):
    files = dict(UNIT_FILES)
    root = make_project(files)
    spark.createDataFrame([("a", True)], "kind string, keep boolean").write.parquet(
        str(root / "raw" / "kinds.parquet"))
    # keep is a boolean in the real source: the CSV text 'true' is cast, so `where k.keep` works.
    result = sparkmodels.test(root, spark=spark, select=["doubles_and_filters"])
    assert [r.status for r in result.results] == ["pass"], result.results[0].message


def test_unknown_generic_test_is_a_located_error(make_project):
    root = make_project({
        "models/m.sql": "select 1 as id\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n"
                             "        data_tests:\n          - uniqe\n",
    })
    with pytest.raises(ProjectError) as info:
        sparkmodels.load_project(root)
    assert "unknown generic test 'uniqe'" in str(info.value) and "Did you mean 'unique'" in str(info.value)
    assert info.value.path == "models/schema.yml" and info.value.line == 5


def test_warn_if_must_be_a_condition(make_project):
    root = make_project({
        "models/m.sql": "select 1 as id\n",
        "models/schema.yml": "version: 2\nmodels:\n  - name: m\n    columns:\n      - name: id\n"
                             "        data_tests:\n          - not_null: {config: {warn_if: lots}}\n",
    })
    with pytest.raises(ProjectError, match="warn_if: 'lots' is not a condition"):
        sparkmodels.load_project(root)


UNIQUE_SCHEMA = """\
version: 2
models:
  - name: keys
    columns:
      - name: dense
        data_tests:
          - unique
          - unique: {name: dense_recent, config: {where: "dense > 10"}}
      - name: dup
        data_tests:
          - unique
          - unique: {name: dup_where_clean, config: {where: "dense < 1000"}}
          - unique: {name: dup_where_dirty, config: {where: "dense >= 1000"}}
      - name: neg
        data_tests: [unique]
      - name: sparse
        data_tests: [unique]
      - name: small
        data_tests: [unique, not_null]
      - name: label
        data_tests: [unique]
"""


@pytest.mark.parametrize("collect_rows", [16_000_000, 0], ids=["collected", "bitmaps_or_sql"])
def test_unique_shortcuts_give_dbt_counts(make_project, spark, collect_rows):
    from sparkmodels.execute.checks.unique import bitmap_worthwhile

    schema = UNIQUE_SCHEMA + """\
      - name: label_dup
        data_tests: [unique]
      - name: day
        data_tests: [unique]
      - name: at
        data_tests: [unique]
      - name: amount
        data_tests: [unique]
      - name: ratio
        data_tests: [unique]
      - name: grade
        data_tests:
          - accepted_values: {name: grade_one_rejected, values: [a, b, c]}
          - accepted_values: {name: grade_two_rejected, values: [a, b]}
"""
    root = make_project({
        "project.yml": f"name: demo\nversion: '1'\ntarget: dev\n"
                       f"targets:\n  dev: {{unique_collect_max_rows: {collect_rows}}}\n",
        "models/schema.yml": schema,
        "models/keys.sql": """
            {{ config(materialized='table') }}
            select id as dense,                                   -- unique, 0..4999
                   case when id >= 1000 and id % 10 = 0 then id + 1 else id end as dup,  -- 400 values twice
                   -id - 40000 as neg,                            -- unique, negative, crosses buckets
                   id * 1000000007 as sparse,                     -- unique, too sparse for bitmaps
                   cast(case when id % 2 = 0 then id % 7 end as int) as small,  -- nulls, duplicates
                   concat('k', id) as label,                      -- unique string (hashed)
                   concat('k', id % 4990) as label_dup,           -- 10 strings twice
                   date_add(date'2020-01-01', cast(id % 4000 as int)) as day,  -- 1000 dates twice
                   timestamp_micros(id * 1000) as at,             -- unique timestamps
                   cast(id % 2500 as decimal(10, 2)) as amount,   -- 2500 decimals twice
                   id / 7.0d as ratio,                            -- unique doubles (never collected)
                   element_at(array('a', 'b', 'c', 'z'), cast(id % 4 + 1 as int)) as grade
            from range(0, 5000, 1, 3)
        """,
    })
    assert sparkmodels.run(root, spark=spark).success
    result = sparkmodels.test(root, spark=spark)
    got = {r.name: r.failures for r in result.results}
    project = sparkmodels.load_project(root)
    for node in project.manifest.of_type("test"):  # every count is exactly the test's own SQL
        own = spark.sql(count_query(project.compiler.compile(node.unique_id).sql)).collect()[0][0]
        assert got[node.name] == own, node.name
    assert got["unique_keys_dense"] == got["dense_recent"] == got["unique_keys_neg"] == 0
    assert got["unique_keys_dup"] == got["dup_where_dirty"] == 400 and got["dup_where_clean"] == 0
    assert got["unique_keys_sparse"] == 0 and got["unique_keys_label"] == 0
    assert got["unique_keys_small"] == 7 and got["not_null_keys_small"] == 2500
    assert got["unique_keys_label_dup"] == 10 and got["unique_keys_day"] == 1000
    assert got["unique_keys_at"] == 0 and got["unique_keys_amount"] == 2500 and got["unique_keys_ratio"] == 0
    tracker = spark.sparkContext.statusTracker()
    with_jobs = {r.name for r in result.results[1:] if tracker.getJobIdsForGroup(f"sparkmodels-{r.name}")}
    # the first test ran the shared statements; a count they give exactly needs no query of its own
    assert got["grade_one_rejected"] == 1 and got["grade_two_rejected"] == 2
    shared = {"unique_keys_dense", "unique_keys_neg", "unique_keys_label", "unique_keys_day", "unique_keys_dup",
              "grade_one_rejected", "grade_two_rejected"}  # rejected values: distinct-counted by Arrow
    if collect_rows:
        assert not with_jobs & shared, with_jobs
        assert {"unique_keys_label_dup", "unique_keys_amount", "unique_keys_ratio"} - {result.results[0].name} \
            <= with_jobs
    else:  # bitmaps prove dense integral columns; strings, dates and duplicates run their own SQL
        assert not with_jobs & {"unique_keys_dense", "unique_keys_neg"}, with_jobs
        assert {"unique_keys_label", "unique_keys_day", "unique_keys_dup", "grade_one_rejected",
                "grade_two_rejected"} - {result.results[0].name} <= with_jobs
    assert bitmap_worthwhile(5000, 0, 4999) and not bitmap_worthwhile(5000, 0, 4999 * 1000000007)


def test_unique_failure_counts_from_sorted_values():
    from sparkmodels.execute.checks.unique import duplicate_groups, kind_of, pick_collected

    assert duplicate_groups([]) == duplicate_groups([5]) == duplicate_groups([3, 1, 2]) == 0
    assert duplicate_groups([2, 2]) == 1 and duplicate_groups([1, 2, 2, 2, 3, 3, 9, 1]) == 3
    assert [kind_of(t) for t in ("int", "date", "string", "decimal(5,1)", "double", "string collate UTF8_LCASE")] \
        == ["exact", "exact", "hash", "hash", None, None]
    # rows x columns within the limit; an uncollectable column takes no share
    assert pick_collected({0: "exact", 1: None, 2: "hash", 3: "raw"}, 100, 250) == [0, 2]
    assert pick_collected({0: "exact"}, 100, 0) == []


def test_passing_unique_on_integral_column_runs_no_query_of_its_own(make_project, spark):
    root = make_project({
        "models/schema.yml": UNIQUE_SCHEMA.split("      - name: dup")[0],
        "models/keys.sql": "{{ config(materialized='table') }}\nselect id as dense from range(0, 3000, 1, 2)",
    })
    assert sparkmodels.run(root, spark=spark).success
    result = sparkmodels.test(root, spark=spark)
    assert {r.name: (r.status, r.failures) for r in result.results} == {
        "unique_keys_dense": ("pass", 0), "dense_recent": ("pass", 0)}
    tracker = spark.sparkContext.statusTracker()
    with_jobs = [r.name for r in result.results if tracker.getJobIdsForGroup(f"sparkmodels-{r.name}")]
    assert len(with_jobs) == 1, with_jobs  # both answered by the first test's shared statements


PY_UNIT_FILES = {
    **{k: v for k, v in UNIT_FILES.items() if k != "models/unit.yml"},
    "models/scored_py.py": """\
from pyspark.sql import functions as F


def model(ctx):
    base = ctx.ref("base")
    kinds = ctx.source("raw", "kinds").where("keep")
    out = base.join(kinds, "kind").select("id", (F.col("score") * ctx.var("factor")).alias("scaled"))
    if ctx.var("explode", False):
        raise ValueError("asked to fail")
    return out
""",
    "models/unit.yml": UNIT.replace("model: scored\n", "model: scored_py\n") + """\
  - name: python_error_is_located
    model: scored_py
    overrides:
      vars: {explode: true}
    given:
      - input: ref('base')
        rows: [{id: 1, score: 10, kind: a}]
      - input: source('raw', 'kinds')
        rows: [{kind: a, keep: true}]
    expect:
      rows: [{id: 1, scaled: 20}]
""",
}


def test_unit_tests_of_python_models_read_the_given_rows_and_var_overrides(make_project, spark):
    root = make_project(PY_UNIT_FILES)
    result = sparkmodels.test(root, spark=spark, select=["scored_py"], fail_fast=False)
    by_name = {r.name: r for r in result.results}
    assert set(by_name) == {"doubles_and_filters", "wrong_expectation", "python_error_is_located"}
    good = by_name["doubles_and_filters"]  # factor 3 from the override, not project.yml's 2
    assert good.status == "pass", good.message
    bad = by_name["wrong_expectation"]
    assert (bad.status, bad.failures) == ("fail", 2)
    assert "missing:    {id: 7, scaled: 14}" in bad.message and "unexpected: {id: 5, scaled: 2}" in bad.message
    err = by_name["python_error_is_located"]
    assert err.status == "error"
    assert "ValueError: asked to fail" in err.message
    assert (err.error.path, err.error.line) == ("models/scored_py.py", 9)  # the model's line, not the YAML's
    # the real model never ran: no table or view was made from the given rows
    assert not any(t.name == "scored_py" for t in spark.catalog.listTables())


def test_unit_test_of_a_python_model_must_give_every_input(make_project):
    files = dict(PY_UNIT_FILES)
    files["models/unit.yml"] = """\
version: 2
unit_tests:
  - name: half_given
    model: scored_py
    given:
      - input: ref('base')
        rows: [{id: 1, score: 10, kind: a}]
    expect:
      rows: [{id: 1, scaled: 20}]
"""
    root = make_project(files)
    with pytest.raises(ProjectError, match=r"gives no rows for source\('raw', 'kinds'\), which scored_py reads"):
        sparkmodels.load_project(root)


def test_builtin_tests_render_the_same_without_jinja(make_project, monkeypatch):
    """The built-in tests' static expansion gives exactly the macro's text, calls and macros."""
    from sparkmodels.project import testnodes as nodes

    schema = """\
version: 2
sources:
  - name: raw
    tables:
      - name: events
        columns:
          - name: kind
            data_tests:
              - accepted_values: {values: [click, "it's"], config: {where: "kind <> 'x'"}}
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null
          - unique
          - unique: {name: u_where, config: {where: "id > 1"}}
          - relationships: {to: ref('p'), field: pid}
          - relationships: {to: "source('raw', 'events')", field: kind}
          - relationships: {name: rel_where, arguments: {to: ref('p'), field: pid}, config: {where: "id is not null"}}
      - name: status
        data_tests:
          - accepted_values: {values: [a, b]}
          - accepted_values: {name: av_noquote, values: [1, 2.5, true], quote: false}
          - accepted_values: {name: av_empty, values: []}
          - accepted_values: {name: av_brace, values: ["{x}"]}
          - not_null: {config: {where: "status <> '{{ var(\\"v\\", \\"z\\") }}'"}}
"""
    root = make_project({"models/m.sql": "select 1 as id, 'a' as status", "models/p.sql": "select 1 as pid",
                         "models/schema.yml": schema, "project.yml": "name: demo\nversion: '1'\nvars: {v: q}\n"})

    def tests_of(project):
        return {n.name: (n.rendered, n.calls, n.depends_on_macros, n.depends_on)
                for n in project.manifest.of_type("test")}

    fast = tests_of(sparkmodels.load_project(root))
    assert nodes.builtin_template("not_null", ("ref", "m"), "id", {}, None) == "select id\nfrom {{ ref('m') }}\nwhere id is null"
    assert nodes.builtin_template("accepted_values", ("ref", "m"), "s", {"values": ["{x}"]}, None) is None
    monkeypatch.setattr(nodes, "builtin_template", lambda *a: None)
    slow = tests_of(sparkmodels.load_project(root))
    assert len(fast) == 12 and fast == slow
    assert "where value_field not in ('click', 'it\\'s')" in fast["accepted_values_raw_events_kind__click__it_s"][0]


def test_quoted_columns_project_column_types_and_flags(make_project, spark):
    """`quote: true` hands the test the quoted name (a column with a space); seeds' `+column_types` in
    the project tree; dbt_project.yml-style `flags:` (fail_fast stops the run, flags.X in Jinja)."""
    root = make_project({
        "project.yml": "name: demo\nversion: '1'\nflags: {fail_fast: true, send_anonymous_usage_stats: false}\n"
                       "seeds:\n  demo:\n    +column_types: {code: string}\n",
        "seeds/codes.csv": "code,n\n007,1\n008,2\n",
        "models/a_spaced.sql": "select n as `my col`, code, '{{ flags.FAIL_FAST }}' as ff from {{ ref('codes') }}",
        "models/b_later.sql": "{{ config(materialized='table') }}\nselect 2 as n",
        "models/schema.yml": """
            version: 2
            models:
              - name: a_spaced
                columns:
                  - name: my col
                    quote: true
                    data_tests: [not_null, unique]
                  - name: code
                    data_tests:
                      - accepted_values: {arguments: {values: ['007']}, config: {severity: warn}}
              - name: b_later
                columns:
                  - name: n
                    data_tests: [{accepted_values: {arguments: {values: [1]}}}]
        """,
        "models/c_last.sql": "{{ config(materialized='table') }}\nselect * from {{ ref('b_later') }}",
        "models/d_other.sql": "{{ config(materialized='table') }}\nselect 1 as x",
        "models/e_other.sql": "{{ config(materialized='table') }}\nselect 1 as x",
    })
    result = sparkmodels.build(root, spark=spark, exclude=["b_later", "c_last"])
    by_name = {r.name: r for r in result.results}
    assert by_name["not_null_a_spaced__my_col_"].status == "pass"
    assert by_name["unique_a_spaced__my_col_"].status == "pass"
    # '008' kept as text (Spark would read 8): the one value accepted_values rejects
    assert by_name["accepted_values_a_spaced_code__007"].failures == 1
    result = sparkmodels.build(root, spark=spark, select=["b_later", "d_other", "e_other"])
    # fail_fast from flags: after the first failure nothing runs, and what had not run says why
    failed_at = [r.name for r in result.results].index("accepted_values_b_later_n__1")
    after = result.results[failed_at + 1:]
    assert after and all(r.status == "skipped" for r in after)
    assert any("fail-fast" in r.message for r in after)
    rows = spark.sql("select ff from a_spaced").collect()
    assert {r.ff for r in rows} == {"True"}
