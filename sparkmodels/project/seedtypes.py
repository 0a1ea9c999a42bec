"""dbt's seed type inference (agate's TypeTester as dbt configures it, with dbt-spark's type names).

dbt tries, per column, number, date (`%Y-%m-%d`), datetime (`%Y-%m-%d %H:%M:%S`), ISO 8601
datetime, boolean (`true`/`false`) and text, in that order, and takes the first type every non-null
value parses as; dbt-spark names a number `double` when any value has decimals, else `bigint`. A
column of nulls only is `bigint` (agate's first type). `column_types` of the seed win. Pure Python:
the executor reads the CSV with the resulting schema instead of letting Spark infer one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping

# Plain decimal notation only: Spark must parse the same text as the chosen type.
_INTEGER = re.compile(r"[+-]?\d+\Z")
_NUMBER = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\Z")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z")
_NULLS = ("",)  # dbt also reads "null" as null; Spark's CSV reader has one null text, so not here


def _column_type(values: list[str]) -> str:
    present = [v.strip() for v in values if v.strip() not in _NULLS]
    if all(_INTEGER.match(v) for v in present):
        return "bigint"
    if all(_INTEGER.match(v) or _NUMBER.match(v) for v in present):
        return "double"
    if all(_DATE.match(v) for v in present):
        return "date"
    if all(_DATETIME.match(v) or _ISO_DATETIME.match(v) for v in present):
        return "timestamp"
    if all(v.lower() in ("true", "false") for v in present):
        return "boolean"
    return "string"


def dbt_seed_types(path: str, column_types: Mapping | None = None, delimiter: str = ",") -> list[tuple[str, str]]:
    """(column, Spark type) for every column of a seed CSV, in header order, as dbt-spark types them."""
    overrides = {str(k).lower(): str(v) for k, v in (column_types or {}).items()}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        columns: list[list[str]] = [[] for _ in header]
        for row in reader:
            for i, column in enumerate(columns):
                column.append(row[i] if i < len(row) else "")
    missing = set(overrides) - {h.lower() for h in header}
    if missing:
        raise ValueError(f"column_types names columns not in the CSV header: {', '.join(sorted(missing))}")
    return [(name, overrides.get(name.lower()) or _column_type(values)) for name, values in zip(header, columns, strict=True)]
