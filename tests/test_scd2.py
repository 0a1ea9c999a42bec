"""scd2.next_version on real Spark: which rows matched, for null and compound keys (dbt's semantics:
a null key never matches, so its current row stays and its source row is added again)."""

from __future__ import annotations

import datetime as dt

from sparkmodels.execute.materializations.scd2 import first_version, next_version
from sparkmodels.project.snapshots import snapshot_spec


def _spec(**extra):
    return snapshot_spec({"strategy": "timestamp", "updated_at": "ts", **extra}, node="s", path="s.sql")


def test_null_keys_never_match_and_compound_keys_match_on_every_column(spark):
    t1, t2 = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1)
    spec = _spec(unique_key=["a", "b"])
    schema = "a int, b string, v string, ts timestamp"
    before = spark.createDataFrame([(1, "x", "one", t1), (1, "y", "two", t1), (None, "z", "nul", t1), (3, "q", "gone", t1)],
                                   schema)
    prev = first_version(before, spec)
    # (1, x) changed, (1, y) unchanged, the null-key row seen again, (3, q) gone (hard_deletes ignore),
    # (2, x) new
    after = spark.createDataFrame([(1, "x", "ONE", t2), (1, "y", "two", t1), (None, "z", "nul", t1), (2, "x", "new", t2)],
                                  schema)
    got = sorted(((r.a, r.b, r.v, r.dbt_valid_from, r.dbt_valid_to)
                  for r in next_version(prev, after, spec).collect()), key=repr)
    assert got == sorted([
        (1, "x", "one", t1, t2), (1, "x", "ONE", t2, None),   # closed and replaced
        (1, "y", "two", t1, None),                            # matched on both columns, unchanged
        (None, "z", "nul", t1, None), (None, "z", "nul", t1, None),  # a null key: kept, and added again
        (3, "q", "gone", t1, None),                           # not in the source: kept as it was
        (2, "x", "new", t2, None),
    ], key=repr)


def test_invalidate_closes_only_rows_missing_from_the_source(spark):
    t1 = dt.datetime(2024, 1, 1)
    spec = _spec(unique_key="a", hard_deletes="invalidate")
    prev = first_version(spark.createDataFrame([(1, "x", t1), (2, "y", t1)], "a int, v string, ts timestamp"), spec)
    rows = next_version(prev, spark.createDataFrame([(1, "x", t1)], "a int, v string, ts timestamp"), spec).collect()
    assert sorted((r.a, r.dbt_valid_to is None) for r in rows) == [(1, True), (2, False)]
