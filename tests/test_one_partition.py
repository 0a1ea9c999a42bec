"""A batch whose rows all lie in one partition is written straight into that partition's folder
(execute/one_partition.py): the optimizer's constraint decides, a check fails the write on a row of
another partition (then Spark's partitioned writer runs), and a batch of no rows replaces nothing."""

from __future__ import annotations

import pytest

import sparkmodels
from sparkmodels.execute import one_partition
from sparkmodels.execute.one_partition import _equalities, checked, is_check_failure, single_partition


def test_equalities_from_constraint_sql():
    got = _equalities(["isnotnull(month)", "(month = '2020-01')", "(`t`.`y` = 2020)", "('b' = `k`)",
                       "(id = 5L)", "(month = 'zz')", "(a > 1)"])
    assert got == {"month": ("2020-01", True), "y": ("2020", False), "k": ("b", True), "id": ("5", False)}


def test_single_partition_follows_the_optimizers_constraints(spark, tmp_path):
    df = spark.createDataFrame([(1, "2020-01", 2020), (2, "2020-02", 2021)], "id int, m string, y int")
    assert single_partition(df.where("m = '2020-01'"), ["m"], tmp_path) == ("m", "2020-01", "m=2020-01")
    assert single_partition(df.where("m = '2020-01'").selectExpr("id", "m as M"), ["m"], tmp_path) == (
        "M", "2020-01", "M=2020-01")  # through an alias; the folder takes the column's own name
    assert single_partition(df.where("y = 2020"), ["y"], tmp_path) == ("y", 2020, "y=2020")
    assert single_partition(df, ["m"], tmp_path) is None
    assert single_partition(df.where("m = '2020-01' or m = '2020-02'"), ["m"], tmp_path) is None
    assert single_partition(df.where("m = 'a/b'"), ["m"], tmp_path) is None  # a value the folder escapes
    assert single_partition(df.where("m = '2020-01' and y = 2020"), ["m", "y"], tmp_path) is None
    assert single_partition(df.where("m = '2020-01'"), ["m"], str(tmp_path)) is None  # not local storage


def test_checked_write_fails_on_a_row_of_another_partition(spark, tmp_path):
    df = spark.createDataFrame([(1, "2020-01"), (2, "2020-02")], "id int, m string")
    with pytest.raises(Exception) as caught:
        checked(df, "m", "2020-01").write.parquet(str(tmp_path / "out" / "m=2020-01"))
    assert is_check_failure(caught.value)
    checked(df.where("m = '2020-01'"), "m", "2020-01").write.parquet(str(tmp_path / "ok" / "m=2020-01"))
    assert [tuple(r) for r in spark.read.parquet(str(tmp_path / "ok")).collect()] == [(1, "2020-01")]


def _model(strategy: str, extra: str = "") -> str:
    return (f"{{{{ config(materialized='incremental', incremental_strategy='{strategy}', partition_by=['m']) }}}}\n"
            "select id, v, m from {{ source('raw', 't') }}\n"
            f"{{% if is_incremental() %}}where m = '{{{{ var('m', '') }}}}'{extra}{{% endif %}}\n")


def _project(make_project, spark, months):
    root = make_project({
        "models/sources.yml": """
            version: 2
            sources:
              - name: raw
                tables:
                  - name: t
                    external: {location: data/t}
        """,
        "models/app.sql": _model("append"),
        "models/io.sql": _model("insert_overwrite"),
        "models/io_none.sql": _model("insert_overwrite", " and id < 0"),
    })
    _source(spark, root, months)
    return root


def _source(spark, root, months):
    rows = [(i, f"v{i}", m) for m in months for i in range(int(m[-2:]) * 10, int(m[-2:]) * 10 + 3)]
    spark.createDataFrame(rows, "id int, v string, m string").write.mode("overwrite").partitionBy("m").parquet(
        str(root / "data" / "t"))


def _rows(spark, root, name):
    return sorted(tuple(r) for r in spark.read.parquet(str(root / "warehouse" / "demo" / name))
                  .select("id", "v", "m").collect())


def test_one_month_batches_go_straight_into_their_folder(make_project, spark, monkeypatch):
    root = _project(make_project, spark, ["2020-01", "2020-02"])
    assert sparkmodels.run(root, spark=spark).success
    first = {name: _rows(spark, root, name) for name in ("app", "io", "io_none")}
    _source(spark, root, ["2020-01", "2020-02", "2020-03"])
    calls = []
    real = one_partition.checked
    monkeypatch.setattr(one_partition, "checked", lambda df, c, v: calls.append((c, v)) or real(df, c, v))
    result = sparkmodels.run(root, spark=spark, vars={"m": "2020-03"})
    assert result.success, [r.message for r in result.results]
    assert sorted(calls) == [("m", "2020-03")] * 3  # each model's batch took the one-folder write
    assert _rows(spark, root, "io_none") == first["io_none"]
    new = [(i, f"v{i}", "2020-03") for i in range(30, 33)]
    assert _rows(spark, root, "app") == sorted(first["app"] + new)
    assert _rows(spark, root, "io") == sorted(first["io"] + new)
    # A batch of no rows for a month the table has replaces nothing (an empty folder would replace it)
    assert sparkmodels.run(root, spark=spark, vars={"m": "2020-02"}, select=["io_none"]).success
    assert _rows(spark, root, "io_none") == first["io_none"]
    for name, months in (("app", {"m=2020-01", "m=2020-02", "m=2020-03"}), ("io_none", {"m=2020-01", "m=2020-02"})):
        version = (root / "warehouse" / "demo" / name).resolve()
        assert (version / "_SUCCESS").exists()  # the commit marker where Spark's partitioned write puts it
        assert {p.name for p in version.iterdir() if p.is_dir()} == months
        assert not list(version.glob("m=*/_SUCCESS"))
    # An existing month replaced by insert_overwrite keeps the other months' files
    _source(spark, root, ["2020-01", "2020-02", "2020-03"])
    assert sparkmodels.run(root, spark=spark, vars={"m": "2020-02"}, select=["io"]).success
    assert _rows(spark, root, "io") == sorted(first["io"] + new)


def test_a_wrong_partition_guess_falls_back_to_sparks_partitioned_writer(make_project, spark, monkeypatch):
    root = _project(make_project, spark, ["2020-01"])
    assert sparkmodels.run(root, spark=spark, select=["app"]).success
    _source(spark, root, ["2020-01", "2020-02"])
    # The optimizer's constraints are sound; a guess that was wrong anyway must not misplace a row.
    monkeypatch.setattr(one_partition, "single_partition", lambda df, by, version: ("m", "2020-01", "m=2020-01"))
    assert sparkmodels.run(root, spark=spark, select=["app"], vars={"m": "2020-02"}).success
    version = (root / "warehouse" / "demo" / "app").resolve()
    assert {p.name for p in version.iterdir() if p.is_dir()} == {"m=2020-01", "m=2020-02"}
    assert _rows(spark, root, "app") == [(10, "v10", "2020-01"), (11, "v11", "2020-01"), (12, "v12", "2020-01"),
                                         (20, "v20", "2020-02"), (21, "v21", "2020-02"), (22, "v22", "2020-02")]
