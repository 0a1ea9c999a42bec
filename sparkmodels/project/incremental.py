"""Incremental models at load time: config validation, both `is_incremental()` branches, batch windows.

Everything here runs without Spark. A model's SQL is rendered once with `is_incremental()` false
and, when that could change the text, once more with it true; the node keeps both (the second as
`rendered_incremental`) and the union of their ref()/source() calls, so the graph is right for either
branch and the run chooses the branch from the warehouse's state (execute/materializations/incremental.py).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping

from sparkmodels.errors import ProjectError

STRATEGIES = ("append", "insert_overwrite", "merge", "delete+insert", "microbatch")
ON_SCHEMA_CHANGE = ("ignore", "fail", "append_new_columns", "sync_all_columns")
BATCH_SIZES = ("hour", "day", "month", "year")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def columns_of(value) -> tuple[str, ...]:
    """A config that names one column or several ('a', 'a, b', ['a', 'b']) as a tuple."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def strategy_of(config: Mapping) -> str:
    """The incremental strategy a model asks for (dbt's default on Spark: append)."""
    return str(config.get("incremental_strategy") or "append")


def shift_placeholders(text: str, offset: int) -> str:
    """Renumber a render's ref()/source() placeholders so its calls can follow another render's."""
    if not offset:
        return text
    return _PLACEHOLDER.sub(lambda m: f"\ue000{int(m.group(1)) + offset}\ue001", text)


def _line_of(raw_code: str, key: str) -> int | None:
    """The line of a config key in the model file (the best place to point at), if it is there."""
    m = re.search(rf"\b{re.escape(key)}\b", raw_code)
    return raw_code.count("\n", 0, m.start()) + 1 if m else None


def parse_timestamp(value, *, what: str) -> _dt.datetime:
    """A batch boundary ('2020-06-01', '2020-06-01 13:00', a date or datetime) as a naive datetime."""
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    text = str(value).strip().replace("T", " ").rstrip("Z")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H", "%Y-%m-%d", "%Y-%m"):
        try:
            return _dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"{what} '{value}' is not a date or timestamp (e.g. 2020-06-01 or 2020-06-01 13:00)")


def validate(node_name: str, path: str, raw_code: str, config: Mapping, *, output_columns=None,
             patch_path: str | None = None) -> None:
    """Raise a located ProjectError for an incremental config that cannot work (before Spark starts).

    output_columns: the model's output column names when they are known statically (None: unknown,
    e.g. `select *`), used to check `partition_by` of insert_overwrite and microbatch.
    """

    def fail(message: str, key: str, hint: str | None = None):
        line = _line_of(raw_code, key)
        where = path if line is not None or not patch_path else patch_path
        raise ProjectError(message, node=node_name, path=where, line=line, hint=hint)

    strategy = strategy_of(config)
    if strategy not in STRATEGIES:
        fail(f"unknown incremental_strategy '{strategy}'; known: {', '.join(STRATEGIES)}.", "incremental_strategy")
    osc = str(config.get("on_schema_change") or "ignore")
    if osc not in ON_SCHEMA_CHANGE:
        fail(f"unknown on_schema_change '{osc}'; known: {', '.join(ON_SCHEMA_CHANGE)}.", "on_schema_change")
    if strategy in ("merge", "delete+insert") and not columns_of(config.get("unique_key")):
        fail(f"incremental_strategy '{strategy}' needs a unique_key (one column or a list).",
             "incremental_strategy", hint="Add e.g. unique_key='id' to the model's config.")
    if config.get("merge_update_columns") and config.get("merge_exclude_columns"):
        fail("merge_update_columns and merge_exclude_columns cannot both be set.", "merge_update_columns")
    preds = config.get("incremental_predicates")
    if preds is not None and not isinstance(preds, (str, list, tuple)):
        fail("incremental_predicates must be a SQL predicate or a list of them.", "incremental_predicates")
    if strategy == "microbatch":
        missing = [k for k in ("event_time", "batch_size", "begin") if not config.get(k)]
        if missing:
            fail(f"incremental_strategy 'microbatch' needs {', '.join(missing)}.", "microbatch",
                 hint="e.g. config(event_time='pickup_datetime', batch_size='month', begin='2020-01-01').")
        if str(config["batch_size"]) not in BATCH_SIZES:
            fail(f"batch_size '{config['batch_size']}' is not one of {', '.join(BATCH_SIZES)}.", "batch_size")
        try:
            parse_timestamp(config["begin"], what="begin")
        except ValueError as exc:
            fail(f"{exc}.", "begin")
        lookback = config.get("lookback", 1)
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
            fail(f"lookback must be a whole number of batches >= 0, not {lookback!r}.", "lookback")
    if output_columns is not None and strategy in ("insert_overwrite", "microbatch"):
        known = {c.lower() for c in output_columns}
        for col in columns_of(config.get("partition_by")):
            if col.lower() not in known:
                fail(f"partition_by column '{col}' of incremental_strategy '{strategy}' is not in the model's "
                     f"output (columns: {', '.join(output_columns)}).", "partition_by")
    if strategy == "microbatch" and output_columns is not None:
        if str(config["event_time"]).lower() not in {c.lower() for c in output_columns}:
            fail(f"event_time column '{config['event_time']}' is not in the model's output "
                 f"(columns: {', '.join(output_columns)}).", "event_time")


def static_output_columns(rendered: str) -> tuple[str, ...] | None:
    """The output column names of a rendered SELECT, when sqlglot can tell without any schema.

    None when unknowable here: a `*`, an unnamed expression, or SQL sqlglot cannot parse (Spark will
    be the judge then). Placeholders for refs are turned into plain table names first.
    """
    try:
        import sqlglot
        from sqlglot import exp
    except ImportError:  # pragma: no cover - sqlglot is a dependency
        return None
    text = _PLACEHOLDER.sub(lambda m: f"__sm_rel_{m.group(1)}", rendered)
    try:
        tree = sqlglot.parse_one(text, read="spark")
    except Exception:  # noqa: BLE001 - any parse problem: let Spark judge at run time
        return None
    while isinstance(tree, exp.Union):  # a union's columns are its first branch's
        tree = tree.this
    if not isinstance(tree, exp.Select):
        return None
    names = []
    for projection in tree.expressions:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                and isinstance(projection.this, exp.Star)):
            return None
        name = projection.alias_or_name
        if not name:
            return None
        names.append(name)
    return tuple(names)
