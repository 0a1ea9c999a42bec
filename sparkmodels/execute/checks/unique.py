"""Counting unique (and failing accepted_values) tests without a shuffle: a driver-side scan, or bitmaps.

dbt's unique test groups the column and counts values seen more than once, which makes Spark
shuffle every value. A relation small enough for the driver (target option
`unique_collect_max_rows`, rows times tested columns) instead has its tested columns collected
once, as 8-byte Arrow integers, and sorted with numpy:

- integral, date and timestamp columns are collected as their exact integer values, so the
  number of duplicated values is dbt's count;
- strings (default collation), binary, decimal, boolean and timestamp_ntz are collected as
  xxhash64: equal values hash equally, so no repeated hash proves the column unique; a repeated
  hash (a duplicate, or a collision) leaves the count to the test's own SQL.

The same scan collects the rejected values of each accepted_values test that rejected rows, for
Arrow's exact distinct count (dbt's failure count), when Arrow compares the type as Spark does.
Larger integral columns use Spark's exact bitmaps when their value range is dense enough
(unique_query); anything else runs the test's own SQL.
"""

from __future__ import annotations

from collections.abc import Mapping

RAW_MAX_ROWS = 1_000_000  # rejected values collected as they are (not as 8-byte integers)
INTEGRAL = ("tinyint", "smallint", "int", "bigint")  # bitmap_bit_position's input types
BITMAP_BITS = 32_768  # values per bitmap bucket (Spark's bitmap_* functions: 4 KiB per bucket)
_EXACT = {**{t: "cast({c} as bigint)" for t in INTEGRAL}, "date": "unix_date({c})", "timestamp": "unix_micros({c})"}
_HASHED = ("string", "binary", "boolean", "timestamp_ntz")


def kind_of(type_name: str) -> str | None:
    """'exact' | 'hash' | None (not collectable: floats, collated strings, nested types)."""
    if type_name in _EXACT:
        return "exact"
    if type_name in _HASHED or type_name.startswith("decimal("):
        return "hash"
    return None


def raw_kind_of(type_name: str, rejected_rows: int) -> str | None:
    """'raw' when Arrow compares values of this Spark type as Spark does (for distinct counts) and
    the rejected rows are few enough to collect whatever their width (strings may be long)."""
    return "raw" if rejected_rows <= RAW_MAX_ROWS and kind_of(type_name) is not None else None


def collected_expr(type_name: str, col: str) -> str:
    """The 8-byte integer a value is collected as: itself (exact kinds) or its xxhash64."""
    template = _EXACT.get(type_name)
    return template.format(c=col) if template else f"xxhash64({col})"


def pick_collected(kinds: Mapping[int, str | None], rows: int, limit: int) -> list[int]:
    """The unique tests to collect: collectable ones while rows x columns stays within limit."""
    picked: list[int] = []
    for i, kind in sorted(kinds.items()):
        if kind and rows * (len(picked) + 1) <= limit:
            picked.append(i)
    return picked


def collect_query(relation: str, columns: Mapping[int, str]) -> str:
    """One scan selecting column __u<i> per test: its expression, null on rows the test ignores."""
    return f"select {', '.join(f'{expr} as __u{i}' for i, expr in columns.items())} from {relation}"


def duplicate_groups(values) -> int:
    """How many distinct values occur more than once (dbt's unique failure count) in an int64 array."""
    import numpy as np

    a = np.sort(np.asarray(values, dtype=np.int64))
    if a.size < 2:
        return 0
    eq = a[1:] == a[:-1]
    return int(eq[0]) + int(np.count_nonzero(eq[1:] & ~eq[:-1]))  # starts of runs of equal values


def collected_counts(arrow_table, kinds: Mapping[int, str]) -> dict[int, int | None]:
    """Failure count per collected test: unique 'exact' kinds and accepted_values' 'raw' rejected
    values exactly; unique 'hash' kinds 0, or None (recount with the test's SQL) on a repeated hash."""
    import pyarrow.compute as pc

    counts: dict[int, int | None] = {}
    for i, kind in kinds.items():
        column = pc.drop_null(arrow_table.column(f"__u{i}"))
        if kind == "raw":
            counts[i] = int(pc.count_distinct(column).as_py())
            continue
        dups = duplicate_groups(column.to_numpy())
        counts[i] = dups if kind == "exact" else (0 if dups == 0 else None)
    return counts


def bitmap_worthwhile(rows: int, lo: int | None, hi: int | None) -> bool:
    """Whether exact bitmaps are cheaper than shuffling the values: the buckets the value range
    spans (4 KiB each) must not outweigh the rows themselves (a 16-byte shuffled row each)."""
    if lo is None or hi is None or rows <= 1:
        return False
    buckets = (hi - lo) // BITMAP_BITS + 2
    return buckets * 4096 <= rows * 16 + (1 << 20)


def unique_query(relation: str, tests: Mapping[int, tuple[str, str]], rows: Mapping[int, int]) -> str:
    """Rows (__i, __n): for each unique test i on a dense integral column, its number of non-null
    rows (rows[i]) minus its number of distinct values, computed with Spark's exact bitmaps.

    tests[i] is (column, where-prefix). Each bucket of 32,768 consecutive values becomes one 4 KiB
    bitmap, so the shuffle carries a few bitmaps per map task instead of every value: a unique
    column of 3M ids moves ~92 bitmaps. __n = 0 proves the column unique.
    """
    branches = []
    for i, nonnull in rows.items():
        col, cond = tests[i]
        branches.append(f"select {i} as __i, {int(nonnull)} - coalesce(sum(bitmap_count(b)), 0) as __n from (\n"
                        f"    select bitmap_construct_agg(bitmap_bit_position({col})) as b from {relation}\n"
                        f"    where {cond}{col} is not null group by bitmap_bucket_number({col})\n) b{i}")
    return "\nunion all\n".join(branches)
