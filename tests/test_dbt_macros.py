"""dbt's cross-database macros (include/macros/dbt) compiled by the loader and run on real Spark.

One model per macro in one project: each is compiled without Spark, then its SQL runs in the test
session and its rows are compared with what dbt's macro returns on other warehouses.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest

import sparkmodels

D, T = dt.date, dt.datetime

# name -> (model SQL, expected rows). The models read no tables: literals and inline VALUES.
CASES = {
    "any_value": ("select {{ dbt.any_value('x') }} as v from values (7), (7) as t(x)", [(7,)]),
    "array_append": ("select {{ dbt.array_append(dbt.array_construct([1, 2]), 3) }} as v", [([1, 2, 3],)]),
    "array_concat": ("select {{ dbt.array_concat(dbt.array_construct([1]), dbt.array_construct([2, 3])) }} as v",
                     [([1, 2, 3],)]),
    "array_construct": ("select {{ dbt.array_construct([dbt.string_literal('a'), dbt.string_literal('b')]) }} as v, "
                        "size({{ dbt.array_construct() }}) as n", [(["a", "b"], 0)]),
    "bool_or": ("select {{ dbt.bool_or('x') }} as v from values (false), (true), (null) as t(x)", [(True,)]),
    "cast": ("select {{ dbt.cast(\"'12'\", api.Column.translate_type('integer')) }} + 1 as v", [(13,)]),
    "cast_bool_to_text": ("select {{ dbt.cast_bool_to_text('true') }} as a, {{ dbt.cast_bool_to_text('x') }} as b "
                          "from values (false) as t(x)", [("true", "false")]),
    "concat": ("select {{ dbt.concat([\"'a'\", 'x', \"'c'\"]) }} as v from values ('b') as t(x)", [("abc",)]),
    "current_timestamp": ("select {{ dbt.current_timestamp() }} > timestamp'2020-01-01' as v", [(True,)]),
    "date": ("select {{ dbt.date(2024, 2, 29) }} as v", [(D(2024, 2, 29),)]),
    "date_spine": ("{{ dbt.date_spine('day', \"'2024-01-30'\", \"'2024-02-02'\") }}",
                   [(T(2024, 1, 30),), (T(2024, 1, 31),), (T(2024, 2, 1),)]),
    "date_trunc": ("select {{ dbt.date_trunc('month', \"timestamp'2024-05-17 10:11:12'\") }} as v",
                   [(T(2024, 5, 1),)]),
    "dateadd": ("select {{ dbt.dateadd('day', 3, \"date'2024-02-27'\") }} as a, "
                "{{ dbt.dateadd('month', -1, \"timestamp'2024-03-31 08:00:00'\") }} as b, "
                "{{ dbt.dateadd('hour', 'n', \"timestamp'2024-01-01 23:00:00'\") }} as c from values (2) as t(n)",
                [(T(2024, 3, 1), T(2024, 2, 29, 8), T(2024, 1, 2, 1))]),
    # dbt counts boundaries crossed: one month from Jan 31 to Feb 1, one hour from 10:59 to 11:01.
    "datediff": ("select {{ dbt.datediff(\"date'2024-01-31'\", \"date'2024-02-01'\", 'month') }} as m, "
                 "{{ dbt.datediff(\"date'2023-12-31'\", \"date'2024-01-01'\", 'year') }} as y, "
                 "{{ dbt.datediff(\"date'2024-01-01'\", \"date'2024-03-01'\", 'day') }} as d, "
                 "{{ dbt.datediff(\"timestamp'2024-01-01 10:59:00'\", \"timestamp'2024-01-01 11:01:00'\", 'hour') }} as h, "
                 "{{ dbt.datediff(\"date'2024-01-07'\", \"date'2024-01-08'\", 'week') }} as w, "
                 "{{ dbt.datediff(\"date'2024-03-31'\", \"date'2024-04-01'\", 'quarter') }} as q, "
                 "{{ dbt.datediff(\"timestamp'2024-01-01 00:00:00'\", \"timestamp'2024-01-01 00:00:01.5'\", 'millisecond') }} as ms",
                 [(1, 1, 60, 1, 1, 1, 1500)]),
    "equals": ("select {{ dbt.equals('a', 'b') }} as v from values (1, 1), (null, null), (1, null) as t(a, b)",
               [(True,), (True,), (False,)]),
    "escape_single_quotes": ("select '{{ dbt.escape_single_quotes(\"it's a \\\\ test\") }}' as v",
                             [("it's a \\ test",)]),
    "except": ("select * from values (1), (2), (1) as t(v) {{ dbt.except() }} select 2", [(1,)]),
    "generate_series": ("{{ dbt.generate_series(3) }}", [(1,), (2,), (3,)]),
    "get_intervals_between": ("select {{ dbt.get_intervals_between(\"date'2024-01-01'\", \"date'2024-01-11'\", 'day') }} as v",
                              [(10,)]),
    "hash": ("select {{ dbt.hash(\"'a'\") }} as v", [("0cc175b9c0f1b6a831c399e269772661",)]),
    "intersect": ("select * from values (1), (2) as t(v) {{ dbt.intersect() }} select 2", [(2,)]),
    "last_day": ("select {{ dbt.last_day(\"date'2024-02-10'\", 'month') }} as m, "
                 "{{ dbt.last_day(\"date'2024-02-10'\", 'quarter') }} as q, "
                 "{{ dbt.last_day(\"date'2024-02-10'\", 'year') }} as y", [(D(2024, 2, 29), D(2024, 3, 31), D(2024, 12, 31))]),
    "length": ("select {{ dbt.length(\"'abcd'\") }} as v", [(4,)]),
    "listagg": ("select {{ dbt.listagg('v') }} as a, "
                "{{ dbt.listagg('v', \"'|'\", 'order by k desc') }} as b, "
                "{{ dbt.listagg('v', \"', '\", 'order by k', 2) }} as c "
                "from values (1, 'x'), (3, 'z'), (2, 'y'), (4, null) as t(k, v)",
                None),  # a: collect order is not defined; checked below
    "position": ("select {{ dbt.position(\"'c'\", \"'abcd'\") }} as v", [(3,)]),
    "replace": ("select {{ dbt.replace(\"'a-b-c'\", \"'-'\", \"'+'\") }} as v", [("a+b+c",)]),
    "right": ("select {{ dbt.right(\"'abcdef'\", 2) }} as a, {{ dbt.right(\"'abc'\", 0) }} as b", [("ef", "")]),
    "safe_cast": ("select {{ dbt.safe_cast(\"'12'\", dbt.type_int()) }} as a, "
                  "{{ dbt.safe_cast(\"'x'\", dbt.type_int()) }} as b", [(12, None)]),
    "split_part": ("select {{ dbt.split_part(\"'a,b,c'\", \"','\", 2) }} as a, "
                   "{{ dbt.split_part(\"'a.b.c'\", \"'.'\", -1) }} as b", [("b", "c")]),
    "string_literal": ("select {{ dbt.string_literal('hello') }} as v", [("hello",)]),
    "types": ("select cast(1 as {{ dbt.type_bigint() }}) as a, cast(1 as {{ dbt.type_int() }}) as b, "
              "cast('true' as {{ dbt.type_boolean() }}) as c, cast(1.5 as {{ dbt.type_float() }}) as d, "
              "cast(1.5 as {{ dbt.type_numeric() }}) as e, cast(1 as {{ dbt.type_string() }}) as f, "
              "cast('2024-01-01' as {{ dbt.type_timestamp() }}) as g",
              [(1, 1, True, 1.5, Decimal("1.500000"), "1", T(2024, 1, 1))]),
}
TYPES = {"types": ["bigint", "int", "boolean", "float", "decimal(28,6)", "string", "timestamp"]}


@pytest.fixture(scope="module")
def macro_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dbt_macros")
    (root / "dbt_project.yml").write_text("name: demo\n")
    (root / "models").mkdir()
    for name, (sql, _) in CASES.items():
        (root / "models" / f"{name}.sql").write_text(sql)
    return sparkmodels.load_project(root)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cross_database_macro_on_spark(spark, macro_project, name):
    sql = macro_project.compiler.compile(f"model.demo.{name}").sql
    df = spark.sql(sql)
    rows = [tuple(r) for r in df.collect()]
    expected = CASES[name][1]
    if name == "listagg":
        (a, b, c), = rows
        assert sorted(a.split(",")) == ["x", "y", "z"]  # nulls dropped
        assert (b, c) == ("z|y|x", "x, y")
        return
    assert sorted(rows, key=repr) == sorted(expected, key=repr), sql
    if name in TYPES:
        assert [f.dataType.simpleString() for f in df.schema.fields] == TYPES[name]


def test_every_macro_of_the_issue_is_covered(macro_project):
    listed = ("any_value array_append array_concat array_construct bool_or cast cast_bool_to_text concat "
              "current_timestamp date date_spine date_trunc dateadd datediff equals escape_single_quotes except "
              "generate_series get_intervals_between hash intersect last_day length listagg position replace "
              "right safe_cast split_part string_literal").split()
    assert set(listed) <= set(CASES)
    dbt_macros = {m.name for m in macro_project.manifest.macros.values() if m.unique_id.startswith("macro.sparkmodels.")}
    types = {f"type_{t}" for t in ("bigint", "boolean", "float", "int", "numeric", "string", "timestamp")}
    assert {*listed, *types} <= dbt_macros


def test_a_project_using_dbt_macros_builds_with_the_cli(spark, make_project):
    """The same macros through `sparkmodels build` (view, table, seed, tests), and ls/compile without a JVM."""
    root = make_project({
        "seeds/trips.csv": "id,pickup,fare\n1,2024-01-03 10:00:00,12.5\n2,2024-01-20 11:00:00,7.5\n3,2024-02-02 09:00:00,3\n",
        "models/monthly.sql": (
            "{{ config(materialized='table', alias='monthly_fares') }}\n"
            "select {{ dbt.date_trunc('month', 'pickup') }} as month, {{ dbt.safe_cast('sum(fare)', dbt.type_numeric()) }} as fare,\n"
            "  {{ dbt.listagg(dbt.cast('id', dbt.type_string()), \"','\", 'order by id') }} as ids\n"
            "from {{ ref('trips') }} group by 1"
        ),
        "models/last.sql": "select max(month) as month from {{ ref('monthly') }}",  # reads the alias
        "models/schema.yml": "models:\n  - name: monthly\n    columns:\n      - name: month\n        tests: [unique]\n",
    })
    code = ("import sys\nfrom sparkmodels.app.cli import cli\n"
            "for cmd in (['ls'], ['compile']):\n"
            "    try:\n        cli([*cmd, '--project-dir', sys.argv[1]], prog_name='sparkmodels')\n"
            "    except SystemExit as exc:\n        assert not exc.code, exc.code\n"
            "print('PYSPARK_IMPORTED' if 'pyspark' in sys.modules or 'py4j' in sys.modules else 'NO_PYSPARK')\n")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "NO_PYSPARK"
    result = sparkmodels.build(str(root), spark=spark)
    assert result.success
    assert spark.sql("select * from last").collect()[0].month == T(2024, 2, 1)
    rows = spark.read.parquet(str(root / "warehouse" / "demo" / "monthly_fares")).orderBy("month").collect()
    assert [(r.month, r.fare, r.ids) for r in rows] == [
        (T(2024, 1, 1), Decimal("20.000000"), "1,2"), (T(2024, 2, 1), Decimal("3.000000"), "3")]


def test_package_generic_test_with_fail_calc_and_undefined_names(spark, make_project):
    """`pkg.x` in YAML calls the package's test_x even when the project has its own x; the package's
    config(fail_calc=...) counts failures; a name its Jinja leaves unset renders as '' as in dbt."""
    import json

    root = make_project({
        "dbt_packages/pkg/dbt_project.yml": "name: pkg\n",
        "dbt_packages/pkg/macros/t.sql": (
            "{% test at_least(model, n) %}{{ config(fail_calc='sum(missing)') }}"
            "{% if false %}{% set never = 'x' %}{% endif %}"
            "select greatest({{ n }} - count(*), 0) as missing {{ never }} from {{ model }}{% endtest %}"
        ),
        "tests/generic/own.sql": "{% test at_least(model) %}select 1 as always_fails{% endtest %}",
        "models/three.sql": "select * from values (1), (2), (3) as t(x)",
        "models/schema.yml": ("models:\n  - name: three\n    data_tests:\n"
                              "      - pkg.at_least: {n: 2}\n      - pkg.at_least: {n: 5}\n"),
    })
    sparkmodels.build(str(root), spark=spark)
    results = {r["unique_id"].split(".")[-1]: r for r in
               json.loads((root / "target" / "run_results.json").read_text())["results"]}
    assert results["pkg_at_least_three__2"]["status"] == "pass"
    assert (results["pkg_at_least_three__5"]["status"], results["pkg_at_least_three__5"]["failures"]) == ("fail", 2)
