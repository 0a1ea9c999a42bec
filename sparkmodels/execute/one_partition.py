"""Writing a partitioned version whose rows all lie in one partition straight into that partition's folder.

A monthly batch (append, insert_overwrite, a microbatch) usually writes one partition. Spark's
partitioned writer pays per row for it: a projection turning empty partition strings into nulls, the
partition values of every row, and the data columns copied out of every row, ~10-15 % of a
one-month write. When Spark's optimizer proves that the partition column is one literal in every row
(a constraint of the optimized plan, e.g. from the model's `where month = '2020-01'` or a batch
input read from one partition folder), the version is written without partitionBy into
`<version>/<column>=<value>/`: the same files, folders and schema as Spark's partitioned writer
produces. A check filter (a partition filter where the column is one, evaluated per folder rather
than per row) fails the write if a row is in another partition; the caller then writes again the
usual way. Local storage only, one partition column, strings of plain characters and integers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

# Values whose folder name needs no escaping (Hive's escapePathName leaves these characters alone).
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]+")
_INTEGRAL = ("byte", "short", "integer", "long")
MARK = "sparkmodels-single-partition-check"  # raise_error's message: this write must go the usual way
# A constraint `column = literal` of an optimized plan, as Expression.sql() prints it (either side).
_NAME = r"(?:(?:`(?:[^`]|``)+`|\w+)\.)*(`(?:[^`]|``)+`|\w+)"
_VALUE = r"'([^'\\]*)'|(-?\d+)[LSY]?"
_EQ = [re.compile(rf"^\({_NAME} = (?:{_VALUE})\)$"), re.compile(rf"^\((?:{_VALUE}) = {_NAME}\)$")]


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _equalities(sqls) -> dict[str, tuple[str, bool]]:
    """{column (lower case): (literal, quoted)} from constraints' SQL texts `column = literal`."""
    out: dict[str, tuple[str, bool]] = {}
    for text in sqls:
        m = _EQ[0].match(text)
        if m:
            name, quoted, number = m.group(1), m.group(2), m.group(3)
        else:
            m = _EQ[1].match(text)
            if not m:
                continue
            quoted, number, name = m.group(1), m.group(2), m.group(3)
        value = (quoted, True) if quoted is not None else (number, False)
        out.setdefault(_unquote(name).lower(), value)
    return out


def single_partition(df, partition_by, version) -> tuple[str, object, str] | None:
    """(column, value, folder) when every row of df provably has one value of the one partition
    column (the optimized plan's constraints), else None. Classic sessions and local storage only."""
    if len(partition_by) != 1 or not isinstance(version, Path) or getattr(df, "_jdf", None) is None:
        return None
    column = partition_by[0]
    field = next((f for f in df.schema.fields if f.name.lower() == column.lower()), None)
    if field is None or not _PLAIN.fullmatch(field.name):
        return None
    kind = field.dataType.typeName()
    if kind != "string" and kind not in _INTEGRAL:
        return None
    try:
        constraints = df._jdf.queryExecution().optimizedPlan().constraints().toList()
        sqls = [constraints.apply(i).sql() for i in range(constraints.size())]
    except Exception:  # noqa: BLE001 - a plan Spark cannot optimise here fails in the write itself
        return None
    found = _equalities(sqls).get(field.name.lower())
    if found is None:
        return None
    value, quoted = found
    if kind == "string":  # a string literal, not a number Spark would cast
        if not quoted or not _PLAIN.fullmatch(value):
            return None
        return field.name, value, f"{field.name}={value}"
    if quoted:
        return None
    return field.name, int(value), f"{field.name}={int(value)}"


def in_folder(df, schema, files):
    """df (read from `files`, relative paths under one base) told, as a partition filter that costs
    nothing, the one `key=value` folder all its files lie in, when they do and the key is a string
    column: Spark's optimizer then knows the column's value, so a write of it as the partition column
    can go straight into that folder."""
    folders = {rel.split("/", 1)[0] for rel in files}
    if len(folders) != 1 or not all("/" in rel for rel in files):
        return df
    key, _, value = next(iter(folders)).partition("=")
    field = next((f for f in schema.fields if f.name.lower() == key.lower()), None)
    if field is None or field.dataType.typeName() != "string" or not _PLAIN.fullmatch(value):
        return df
    from pyspark.sql import functions as F

    return df.where(_column(field.name) == F.lit(value))


def _column(name: str):
    from pyspark.sql import functions as F

    return F.col(f"`{name.replace('`', '``')}`")


def checked(df, column: str, value):
    """df without its partition column, failing (raise_error with MARK) on a row of another partition."""
    from pyspark.sql import functions as F

    ok = _column(column) == F.lit(value)
    return df.where(F.when(ok, F.lit(True)).otherwise(F.raise_error(F.lit(MARK)))).drop(column)


def is_check_failure(exc: BaseException) -> bool:
    return MARK in str(exc)


def settle(version: Path, folder: str, rows: int | None) -> None:
    """Make a version written into `<version>/<folder>` look like Spark's partitioned write of it:
    the commit marker at the version's root, and no partition folder when no row was written."""
    inner = version / folder
    with contextlib.suppress(FileNotFoundError):
        os.replace(inner / "_SUCCESS", version / "_SUCCESS")
    with contextlib.suppress(FileNotFoundError):
        os.replace(inner / "._SUCCESS.crc", version / "._SUCCESS.crc")
    if rows is None:
        rows = _footer_rows(inner)
    if rows == 0:  # a partitioned write of no rows writes no partition folder (and so replaces none)
        shutil.rmtree(inner, ignore_errors=True)


def _footer_rows(folder: Path) -> int | None:
    """Rows in the Parquet files of a folder, from their footers (None: a footer we cannot read)."""
    import pyarrow.parquet as pq

    total = 0
    for name in os.listdir(folder) if folder.is_dir() else ():
        if name.startswith(("_", ".")):
            continue
        try:
            total += pq.read_metadata(folder / name).num_rows
        except Exception:  # noqa: BLE001
            return None
    return total
