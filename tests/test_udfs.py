"""Python UDFs: the decorator, registration before models run, the three forms, errors, map_batches."""

from __future__ import annotations

import pandas as pd
import pytest

import sparkmodels
from sparkmodels.errors import ProjectError, SparkModelsError
from sparkmodels.udfs import map_batches, spec_of, udf

UDF_FILE = """
import pandas as pd

from sparkmodels.udfs import udf


@udf("shout", returns="string")
def shout(s):
    return None if s is None else s.upper() + "!"


@udf("plus_one_pickled", returns="bigint", arrow=False)
def plus_one_pickled(x):
    return x + 1


@udf("times_ten", returns="double", vectorized=True)
def times_ten(x: pd.Series) -> pd.Series:
    return x * 10.0


@udf("split_kind", returns="struct<head:string,size:int>")
def split_kind(s):
    return None if s is None else (s[:1], len(s))


def not_a_udf(x):
    return x
"""


def test_decorator_keeps_a_plain_function_with_its_spec():
    @udf("b_id", returns="string")
    def f(x):
        return x * 2

    @udf(returns="double", vectorized=True)
    def g(s):
        return s

    assert f(2) == 4  # still a normal function: unit-testable without Spark
    assert spec_of(f).name == "b_id" and spec_of(f).form == "arrow" and spec_of(f).returns == "string"
    assert spec_of(g).name == "g" and spec_of(g).vectorized
    assert spec_of(udf(lambda x: x)) is not None and spec_of(len) is None
    with pytest.raises(TypeError):
        udf("x", returns="")


def test_example_base_id_matches_the_course_function():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "udfs" / "base_id.py"
    spec = importlib.util.spec_from_file_location("example_base_id", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def crazy_stuff(base_num):
        num = int(base_num[1:])
        if num % 7 == 0:
            return f"s/{num:03x}"
        elif num % 3 == 0:
            return f"a/{num:03x}"
        return f"e/{num:03x}"

    nums = [f"B{n:05d}" for n in range(1, 3000, 7)] + ["B02510", "B02800"]
    assert [mod.base_id(n) for n in nums] == [crazy_stuff(n) for n in nums]
    series = pd.Series([*nums, None])
    assert list(mod.base_id_vectorized(series)) == [crazy_stuff(n) for n in nums] + [None]
    assert mod.base_id("B02510") == "e/9ce" and mod.base_id("B02800") == "s/af0"


def test_udfs_are_registered_and_callable_from_sql(make_project, spark):
    root = make_project({
        "udfs/text.py": UDF_FILE,
        "models/src.sql": "select * from values ('ab', 1L, 1.5d), ('c', 2L, 2.0d), (null, 3L, null) as t(s, n, d)",
        "models/use_udfs.sql": """
            {{ config(materialized='table') }}
            select n, shout(s) as loud, plus_one_pickled(n) as n1, times_ten(d) as d10,
                   split_kind(s).head as head, split_kind(s).size as size
            from {{ ref('src') }}
            where s is not null or n = 3
        """,
    })
    result = sparkmodels.run(root, spark=spark)
    assert result.success, [(r.name, r.message) for r in result.results]
    rows = {r.n: r for r in spark.table("use_udfs").collect()}
    assert (rows[1].loud, rows[1].n1, rows[1].d10, rows[1].head, rows[1].size) == ("AB!", 2, 15.0, "a", 2)
    assert (rows[2].loud, rows[2].n1, rows[2].d10) == ("C!", 3, 20.0)
    assert rows[3].loud is None and rows[3].d10 is None
    # not_a_udf was not registered; the three forms were registered as the kind of UDF they declare
    names = {f.name for f in spark.catalog.listFunctions() if f.name in ("shout", "not_a_udf")}
    assert names == {"shout"}


def test_udf_forms_map_to_arrow_pickled_and_pandas_eval_types(spark):
    from pyspark.rdd import PythonEvalType

    from sparkmodels.execute.python.models import spark_udf

    def f(x):
        return x

    def g():
        return "constant"

    def made(form, func=f, deterministic=True):
        decorated = udf("f", returns="string", arrow=form != "pickle", vectorized=form == "pandas",
                        deterministic=deterministic)(func)
        return spark_udf(spec_of(decorated), func)

    kinds = {form: made(form).evalType for form in ("arrow", "pickle", "pandas")}
    assert kinds == {"arrow": PythonEvalType.SQL_SCALAR_ARROW_UDF,  # the default: once per distinct input
                     "pickle": PythonEvalType.SQL_BATCHED_UDF,
                     "pandas": PythonEvalType.SQL_SCALAR_PANDAS_UDF}
    # opting out of determinism keeps one call per row (the Arrow row UDF) and tells the optimizer
    opted_out = made("arrow", deterministic=False)
    assert opted_out.evalType == PythonEvalType.SQL_ARROW_BATCHED_UDF and not opted_out.deterministic
    assert made("arrow").deterministic
    # a function of no arguments has no input column to batch over: Arrow row UDF
    assert made("arrow", func=g).evalType == PythonEvalType.SQL_ARROW_BATCHED_UDF


COUNTING_UDFS = """
from sparkmodels.udfs import udf

CALL_LOG = "@LOG@"


def _note(name):
    # one line per call, appended by whichever worker process runs the UDF
    with open(CALL_LOG, "a") as out:
        out.write(name + "\\n")


@udf("tag", returns="string")
def tag(s):
    _note("tag")
    return "was null" if s is None else s.upper()


@udf("tag_each_row", returns="string", deterministic=False)
def tag_each_row(s):
    _note("tag_each_row")
    return "was null" if s is None else s.upper()


@udf("pair", returns="struct<joined:string,total:bigint>")
def pair(s, n):
    _note("pair")
    return None if s is None else (s + ":" + str(n), None if n is None else n * 2)


@udf("zero_sign", returns="string")
def sign(x):
    return None if x is None else ("neg" if str(x).startswith("-") else "pos")


@udf("doubled", returns="array<int>")
def doubled(xs):
    return None if xs is None else [x * 2 for x in xs]


@udf("fields", returns="string")
def fields(r):
    return None if r is None else f"{r.a}-{r['b']}"
"""


def test_default_udf_calls_the_function_once_per_distinct_input(make_project, spark, tmp_path):
    log = tmp_path / "calls.log"
    root = make_project({
        "udfs/counting.py": COUNTING_UDFS.replace("@LOG@", str(log)),
        "models/src.sql": """
            {{ config(materialized='table') }}
            select case when id % 10 = 9 then null else concat('k', id % 3) end as s,
                   case when id % 7 = 6 then null else id % 2 end as n,
                   array(cast(id % 4 as int)) as xs, named_struct('a', id % 2, 'b', 'x') as r,
                   case id % 4 when 0 then 0.0d when 1 then -0.0d when 2 then null else -1.5d end as x
            from range(0, 200, 1, 1)
        """,
        "models/tagged.sql": """
            {{ config(materialized='table') }}
            select s, n, tag(s) as t, pair(s, n) as p, zero_sign(x) as sx, x, doubled(xs) as dx, xs,
                   fields(r) as fr, r.a as ra
            from {{ ref('src') }}
        """,
        "models/each_row.sql": "{{ config(materialized='table') }}\nselect tag_each_row(s) as t from {{ ref('src') }}",
    })
    log.write_text("")
    result = sparkmodels.run(root, spark=spark)
    assert result.success, [(r.name, r.message) for r in result.results]
    rows = spark.table("tagged").collect()
    assert len(rows) == 200
    for r in rows:  # the same values as calling the plain function per row
        assert r.t == ("was null" if r.s is None else r.s.upper())
        assert r.p == (None if r.s is None else (f"{r.s}:{r.n}", None if r.n is None else r.n * 2))
        assert r.sx == (None if r.x is None else ("neg" if str(r.x).startswith("-") else "pos"))
        assert r.dx == [v * 2 for v in r.xs] and r.fr == f"{r.ra}-x"
    assert {r.sx for r in rows if r.x == 0} == {"pos", "neg"}  # 0.0 and -0.0 are distinct inputs
    calls = log.read_text().split()
    # one partition, one batch: 3 strings + null for tag, distinct (s, n) pairs for pair,
    # and one call per row when the UDF is declared non-deterministic
    assert calls.count("tag") == 4
    distinct_pairs = {(r.s, r.n) for r in rows}
    assert calls.count("pair") == len(distinct_pairs) < 200
    assert calls.count("tag_each_row") == 200
    assert {r.t for r in spark.table("each_row").collect()} == {"K0", "K1", "K2", "was null"}


def test_udf_paths_config_and_ls_never_imports_udf_files(make_project, spark):
    root = make_project({
        "project.yml": "name: demo\nversion: '1'\nudf-paths: [functions]\n",
        "functions/f.py": "from sparkmodels.udfs import udf\n\n@udf('twice', returns='int')\n"
                          "def twice(x):\n    return 2 * x\n",
        "udfs/ignored.py": "raise RuntimeError('udfs/ is not a udf-path here')\n",
        "models/m.sql": "select twice(21) as v",
    })
    assert [n.name for n in sparkmodels.ls(root)[0]] == ["m"]
    result = sparkmodels.run(root, spark=spark)
    assert result.success, [(r.name, r.message) for r in result.results]
    assert spark.table("m").collect()[0].v == 42


def test_broken_udf_file_is_reported_at_run_not_at_load(make_project, spark):
    root = make_project({
        "udfs/broken.py": "from sparkmodels.udfs import udf\n\nx = 1\nraise RuntimeError('boom at import')\n",
        "models/m.sql": "select 1 as v",
    })
    sparkmodels.compile(root)  # loading and compiling never import UDF files
    with pytest.raises(SparkModelsError) as info:
        sparkmodels.run(root, spark=spark)
    assert (info.value.path, info.value.line) == ("udfs/broken.py", 4)
    assert "boom at import" in str(info.value)


def test_udf_failing_in_a_worker_names_the_udf_file_and_line(make_project, spark):
    root = make_project({
        "udfs/risky.py": """
            from sparkmodels.udfs import udf


            @udf("inverse", returns="double")
            def inverse(x):
                return 1 / x
        """,
        "models/m.sql": "{{ config(materialized='table') }}\nselect inverse(id) as v from range(3)",
    })
    result = sparkmodels.run(root, spark=spark)
    err = result.results[0].error
    assert err is not None
    assert (err.node, err.path, err.line) == ("m", "udfs/risky.py", 6)
    assert "ZeroDivisionError" in err.message and "inverse()" in err.message
    assert "at org.apache" not in str(err)


def test_bad_return_type_and_duplicate_names_are_project_errors(make_project, spark):
    bad = make_project({
        "udfs/u.py": "from sparkmodels.udfs import udf\n\n\n@udf('u', returns='strnig<')\ndef u(x):\n    return x\n",
        "models/m.sql": "select 1 as v",
    }, name="bad")
    with pytest.raises(ProjectError) as info:
        sparkmodels.run(bad, spark=spark)
    assert info.value.path == "udfs/u.py" and info.value.line == 4 and "'u'" in info.value.message

    dup = make_project({
        "udfs/a.py": "from sparkmodels.udfs import udf\n\n@udf('same')\ndef a(x):\n    return x\n",
        "udfs/b.py": "from sparkmodels.udfs import udf\n\n@udf('same')\ndef b(x):\n    return x\n",
        "models/m.sql": "select 1 as v",
    }, name="dup")
    with pytest.raises(ProjectError, match="two UDFs are named 'same'"):
        sparkmodels.run(dup, spark=spark)


def test_map_batches_applies_a_pandas_function_per_batch(spark):
    df = spark.range(0, 1000, numPartitions=4).selectExpr("id", "cast(id % 7 as double) as dist")

    def predict(batch: pd.DataFrame) -> pd.DataFrame:
        # extra columns and a different order are fine: output is matched to the schema by name
        return pd.DataFrame({"pred": batch["dist"] * 5 + 2, "id": batch["id"], "unused": 0,
                             "batch_rows": len(batch)})

    out = map_batches(df, predict, schema="id bigint, pred double, batch_rows int")
    assert out.columns == ["id", "pred", "batch_rows"]
    rows = out.collect()
    assert len(rows) == 1000
    assert all(r.pred == (r.id % 7) * 5 + 2 for r in rows)
    assert max(r.batch_rows for r in rows) <= 250  # called per partition batch, not per row or once

    def wrong(batch):
        return batch[["id"]]

    with pytest.raises(Exception, match="also needs"):
        map_batches(df, wrong, schema="id bigint, pred double").collect()
