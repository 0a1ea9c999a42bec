"""SCD type 2 as DataFrame logic: a snapshot's next full version from its source and previous version.

Pure: DataFrames and a SnapshotSpec in, a DataFrame out, nothing written (snapshot.py writes it).
The semantics are dbt's snapshots:
  - first run: every source row, valid from its `updated_at` (timestamp strategy) or the run time
    (check strategy), valid to null (or `dbt_valid_to_current`);
  - later runs compare the source with the *current* rows (valid_to null or = dbt_valid_to_current):
    a changed row (timestamp: the source's updated_at is newer than the row's valid_from; check: one
    of check_cols differs, nulls compared as values) closes the current row at the new row's
    updated_at and adds the new row; a new key adds a row; history rows are kept as they are;
  - a key missing from the source: `ignore` keeps its current row, `invalidate` closes it at the run
    time, `new_record` closes it and adds a deletion record (dbt_is_deleted = 'True'); a key that
    comes back after a deletion gets a new current row.
The current rows and the source are joined once (a full outer join); the kept/closed rows, the new
rows and the deletion records are selects of that one join (Spark reuses its shuffles).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from sparkmodels.project.snapshots import SnapshotSpec

_NEW = "__sm_new_"  # prefix of the source's columns in the join
_HAS_OLD, _HAS_NEW, _TS = "__sm_has_old", "__sm_has_new", "__sm_ts"


def _hash(values: list[Column]) -> Column:
    """dbt's snapshot_hash_arguments: md5 of the values as strings, nulls as '', joined by '|'."""
    return F.md5(F.concat_ws("|", *[F.coalesce(v.cast("string"), F.lit("")) for v in values]))


def _change_time(spec: SnapshotSpec, source: DataFrame, now: Column) -> Column:
    if spec.updated_at:
        return source[spec.updated_at]
    return now  # check strategy without updated_at: the run's time, as dbt's snapshot_get_time()


def _valid_to_current(spec: SnapshotSpec, dtype) -> Column:
    if spec.valid_to_current is None:
        return F.lit(None).cast(dtype)
    return F.expr(spec.valid_to_current).cast(dtype)


def first_version(source: DataFrame, spec: SnapshotSpec, now: Column | None = None) -> DataFrame:
    """The snapshot of a source seen for the first time."""
    now = now if now is not None else F.current_timestamp()
    names = spec.names
    ts = _change_time(spec, source, now)
    cols = [source[c] for c in source.columns]
    out = [*cols, _hash([*(source[k] for k in spec.unique_key), ts]).alias(names["dbt_scd_id"]),
           ts.alias(names["dbt_updated_at"]), ts.alias(names["dbt_valid_from"])]
    df = source.select(*out)
    dtype = df.schema[names["dbt_valid_from"]].dataType
    df = df.withColumn(names["dbt_valid_to"], _valid_to_current(spec, dtype))
    if spec.hard_deletes == "new_record":
        df = df.withColumn(names["dbt_is_deleted"], F.lit("False"))
    return df


def next_version(previous: DataFrame, source: DataFrame, spec: SnapshotSpec,
                 now: Column | None = None) -> DataFrame:
    """The snapshot's next full version: previous history, current rows closed or kept, new rows."""
    now = now if now is not None else F.current_timestamp()
    names = spec.names
    vf, vt, scd, upd, deleted = (names[k] for k in ("dbt_valid_from", "dbt_valid_to", "dbt_scd_id",
                                                     "dbt_updated_at", "dbt_is_deleted"))
    meta = [scd, upd, vf, vt] + ([deleted] if deleted in previous.columns or spec.hard_deletes == "new_record" else [])
    meta_set = set(meta)
    old_data = [c for c in previous.columns if c not in meta_set]
    data = old_data + [c for c in source.columns if c not in set(old_data) and c not in meta_set]
    types = {f.name: f.dataType for f in previous.schema.fields}
    src_types = {f.name: f.dataType for f in source.schema.fields}
    ts_type = types[vf]
    vt_current = _valid_to_current(spec, ts_type)

    is_current = previous[vt].isNull()
    if spec.valid_to_current is not None:
        is_current = is_current | (previous[vt] == vt_current)
    history = previous.where(~is_current)
    current = previous.where(is_current).withColumn(_HAS_OLD, F.lit(True))
    if deleted not in previous.columns and deleted in meta:
        history = history.withColumn(deleted, F.lit("False"))
        current = current.withColumn(deleted, F.lit("False"))

    src = source.select(*[source[c].alias(_NEW + c) for c in source.columns],
                        _change_time(spec, source, now).cast(ts_type).alias(_TS), F.lit(True).alias(_HAS_NEW))
    on = [current[k] == src[_NEW + k] for k in spec.unique_key]
    j = current.join(src, on, "full_outer")
    has_old = F.coalesce(F.col(_HAS_OLD), F.lit(False))
    has_new = F.coalesce(F.col(_HAS_NEW), F.lit(False))

    if spec.strategy == "timestamp":
        changed = F.coalesce(F.col(vf) < F.col(_TS), F.lit(False))
    else:
        check = [c for c in source.columns if c not in spec.unique_key] if spec.check_cols == "all" else spec.check_cols
        diffs = [~F.col(c).eqNullSafe(F.col(_NEW + c).cast(types.get(c, src_types[c]))) for c in check]
        changed = F.lit(False)
        for d in diffs:
            changed = changed | d
    was_deleted = (F.col(deleted) == F.lit("True")) if deleted in meta else F.lit(False)
    # Matched (a current row and a source row of one key): both sides' first key column is non-null,
    # which in an equi-join on the key only a match gives. The markers say which side a row has (a
    # null key never matches but its row stays); matched reads only the key columns, so each branch's
    # broadcast side carries no marker column: a marker grew the current rows' estimate past Spark's
    # broadcast threshold at 1M rows, and the join became a sort-merge join with two shuffles.
    key = spec.unique_key[0]
    matched = F.col(key).isNotNull() & F.col(_NEW + key).isNotNull()
    changed = matched & (changed | was_deleted)
    vanished = has_old & ~matched & ~was_deleted

    closed_at = F.when(changed, F.col(_TS))
    if spec.hard_deletes in ("invalidate", "new_record"):
        closed_at = closed_at.when(vanished, now.cast(ts_type))
    out_types = {c: types.get(c, src_types.get(c)) for c in data}
    out_types.update({scd: StringType(), upd: ts_type, vf: ts_type, vt: ts_type, deleted: StringType()})

    def row(values: dict) -> list[Column]:
        return [values[c].cast(out_types[c]).alias(c) for c in data + meta]

    old_row = row({**{c: F.col(c) if c in old_data else F.lit(None) for c in data},
                   scd: F.col(scd), upd: F.col(upd), vf: F.col(vf),
                   vt: F.coalesce(closed_at, F.col(vt)), **({deleted: F.col(deleted)} if deleted in meta else {})})
    new_row = row({**{c: F.col(_NEW + c) if c in src_types else F.lit(None) for c in data},
                   scd: _hash([*(F.col(_NEW + k) for k in spec.unique_key), F.col(_TS)]),
                   upd: F.col(_TS), vf: F.col(_TS), vt: vt_current,
                   **({deleted: F.lit("False")} if deleted in meta else {})})
    # Three selects of one join: Spark plans the join's shuffles once and reuses them (ReuseExchange).
    parts = [j.where(has_old).select(*old_row), j.where(has_new & (~matched | changed)).select(*new_row)]
    if spec.hard_deletes == "new_record":
        ts_now = now.cast(ts_type)
        parts.append(j.where(vanished).select(*row({
            **{c: F.col(c) if c in old_data else F.lit(None) for c in data},
            scd: _hash([*(F.col(k) for k in spec.unique_key), ts_now]), upd: ts_now, vf: ts_now,
            vt: vt_current, deleted: F.lit("True")})))
    history = history.select(*[F.col(c) if c in history.columns else F.lit(None).cast(out_types[c]).alias(c)
                               for c in data + meta])
    out = history
    for part in parts:
        out = out.unionByName(part)
    return out
