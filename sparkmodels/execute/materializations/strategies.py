"""Incremental strategies on Parquet: append, insert_overwrite, merge and delete+insert.

Each builds the next version of a table from the new rows (`src`) and the current version (`dest`,
what `{{ this }}` reads), writing with Spark only what changes and sharing every other data file
with the previous version (versions.py). merge and delete+insert are copy-on-write at file
granularity: the files holding a matched key are read, merged and rewritten; all others are shared.
"""

from __future__ import annotations

from sparkmodels.execute.materializations.versions import (
    partition_of,
    partitions_written,
    read_files,
    relative_file,
    write_sharing,
    write_version,
)
from sparkmodels.project.incremental import columns_of

DEST, SRC = "DBT_INTERNAL_DEST", "DBT_INTERNAL_SOURCE"
_FILE, _IN_DEST, _IN_SRC = "__sm_file", "__sm_in_dest", "__sm_in_src"


def q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def append(ctx, src, dest, old, partition_by):
    """New rows in new files; every file of the previous version is shared."""
    return write_sharing(ctx.engine, ctx, src, partition_by=partition_by, old=old,
                         keep=lambda version, files: files)


def insert_overwrite(ctx, src, dest, old, partition_by):
    """With partition_by: the partitions present in the new rows are replaced, the others shared.
    Without: the table is replaced by the new rows."""
    if not partition_by:
        return write_version(ctx.engine, ctx, src, partition_by=())
    loc = ctx.engine.location(ctx.node, ctx.schema)

    def keep(version, files):
        replaced = partitions_written(loc, version, len(partition_by))
        return [f for f in files if partition_of(f) not in replaced]

    return write_sharing(ctx.engine, ctx, src, partition_by=partition_by, old=old, keep=keep)


def _predicates(config) -> list[str]:
    preds = config.get("incremental_predicates") or []
    return [preds] if isinstance(preds, str) else [str(p) for p in preds]


def _matched_files(ctx, src, dest, old, keys, preds) -> tuple[set[str], object]:
    """The previous version's data files holding a row that matches a new key (and the predicates),
    and dest tagged with its file."""
    from pyspark.sql import functions as F

    spark = ctx.engine.spark
    tagged = dest.withColumn(_FILE, F.input_file_name())
    d_view, s_view = f"__sm_dest_{ctx.node.name}", f"__sm_src_{ctx.node.name}"
    tagged.createOrReplaceTempView(d_view)
    src.createOrReplaceTempView(s_view)
    on = " and ".join([f"{DEST}.{q(k)} = {SRC}.{q(k)}" for k in keys] + [f"({p})" for p in preds])
    rows = spark.sql(f"select distinct {DEST}.{_FILE} from {q(d_view)} {DEST} left semi join "
                     f"(select {', '.join(q(k) for k in keys)} from {q(s_view)}) {SRC} on {on}").collect()
    uris = [r[0] for r in rows]
    rels = [relative_file(u, old) for u in uris]
    files = {r or u for r, u in zip(rels, uris, strict=True)}
    if not uris:
        return files, tagged.limit(0)
    if all(rels):  # read just those files (a filter on the file name would still scan every file)
        return files, read_files(spark, old, dest.schema, files)
    return files, tagged.where(F.col(_FILE).isin(uris))


def merge(ctx, src, dest, old, partition_by):
    """dbt's merge: matched rows take the new values (merge_update_columns / merge_exclude_columns
    limit which), new keys are inserted. Only the files holding matched rows are rewritten."""
    config = ctx.node.config
    keys = columns_of(config.get("unique_key"))
    preds = _predicates(config)
    columns = list(dest.columns)
    src_cols = set(src.columns)
    update = set(columns_of(config.get("merge_update_columns")) or columns)
    update -= set(columns_of(config.get("merge_exclude_columns")))
    if all(c in src_cols and c in update for c in columns):
        # Every column of a matched row takes the new value: the merge's result is delete+insert's
        # (unmatched old rows, plus every new row, duplicates and null keys alike), which needs an
        # anti join instead of a full outer join over the rewritten files.
        return delete_insert(ctx, src, dest, old, partition_by)
    files, affected = _matched_files(ctx, src, dest, old, keys, preds)
    exprs = []
    for c in columns:
        if c in src_cols and c in update:
            exprs.append(f"case when {SRC}.{_IN_SRC} then {SRC}.{q(c)} else {DEST}.{q(c)} end as {q(c)}")
        elif c in src_cols:
            exprs.append(f"case when {DEST}.{_IN_DEST} then {DEST}.{q(c)} else {SRC}.{q(c)} end as {q(c)}")
        else:
            exprs.append(f"{DEST}.{q(c)}")
    spark = ctx.engine.spark
    a_view, s_view = f"__sm_affected_{ctx.node.name}", f"__sm_src_{ctx.node.name}"
    affected.drop(_FILE).createOrReplaceTempView(a_view)
    on = " and ".join([f"{DEST}.{q(k)} = {SRC}.{q(k)}" for k in keys] + [f"({p})" for p in preds])
    merged = spark.sql(
        f"select {', '.join(exprs)} from (select *, true as {_IN_DEST} from {q(a_view)}) {DEST} "
        f"full outer join (select *, true as {_IN_SRC} from {q(s_view)}) {SRC} on {on}")
    stats = write_sharing(ctx.engine, ctx, merged, partition_by=partition_by, old=old,
                          keep=lambda version, old_files: [f for f in old_files if f not in files])
    return {**stats, "rewritten_files": len(files)}


def delete_insert(ctx, src, dest, old, partition_by):
    """dbt's delete+insert: rows whose key is among the new rows' keys are deleted, the new rows
    inserted. Only the files holding a deleted row are rewritten."""
    config = ctx.node.config
    keys = columns_of(config.get("unique_key"))
    preds = _predicates(config)
    files, affected = _matched_files(ctx, src, dest, old, keys, preds)
    spark = ctx.engine.spark
    a_view, s_view = f"__sm_affected_{ctx.node.name}", f"__sm_src_{ctx.node.name}"
    affected.drop(_FILE).createOrReplaceTempView(a_view)
    on = " and ".join([f"{DEST}.{q(k)} = {SRC}.{q(k)}" for k in keys] + [f"({p})" for p in preds])
    cols = ", ".join(q(c) for c in dest.columns)
    kept = spark.sql(f"select {DEST}.* from {q(a_view)} {DEST} left anti join {q(s_view)} {SRC} on {on}")
    out = kept.select(*dest.columns).unionByName(spark.sql(f"select {cols} from {q(s_view)}"))
    stats = write_sharing(ctx.engine, ctx, out, partition_by=partition_by, old=old,
                          keep=lambda version, old_files: [f for f in old_files if f not in files])
    return {**stats, "rewritten_files": len(files)}


STRATEGIES = {"append": append, "insert_overwrite": insert_overwrite, "merge": merge,
              "delete+insert": delete_insert}
