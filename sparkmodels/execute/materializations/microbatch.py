"""Microbatch (dbt 1.9's shape): a model built batch by batch over time windows of its event_time.

The run's window is `--event-time-start`/`--event-time-end` when given; otherwise from `begin` on
the first build (or a full refresh), and the current batch plus `lookback` earlier ones on later runs.
Each batch runs the model's SQL with every ref()/source() whose config names an `event_time`
filtered to the batch's window (the compiler marks those relations, see plan/compiler.py), keeps
the model's rows inside the window, and publishes one new version replacing exactly the table's rows
of that window: the files holding such rows are rewritten (Parquet min/max statistics spare reading
the rest), every other file is shared with the previous version. A failed batch leaves the table as
the previous batch published it; the other batches still run, each failure gets its own line, and
`sparkmodels retry` reruns only the failed batches.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sparkmodels.errors import ExecutionError, SparkModelsError
from sparkmodels.execute import one_partition
from sparkmodels.execute.cache import recorded_schema
from sparkmodels.execute.materializations.base import MaterializationResult, StepContext, spark_error
from sparkmodels.execute.materializations.strategies import q
from sparkmodels.execute.materializations.versions import (
    data_files,
    files_in_window,
    newest_in_files,
    read_files,
    relative_file,
    share,
    window_files,
    write_version,
)
from sparkmodels.plan.compiler import batch_sql
from sparkmodels.project.incremental import columns_of, parse_timestamp

FMT = "%Y-%m-%d %H:%M:%S"


def floor(ts: _dt.datetime, size: str) -> _dt.datetime:
    if size == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    if size == "day":
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if size == "month":
        return ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return ts.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def step(ts: _dt.datetime, size: str, n: int = 1) -> _dt.datetime:
    if size == "hour":
        return ts + _dt.timedelta(hours=n)
    if size == "day":
        return ts + _dt.timedelta(days=n)
    if size == "month":
        months = ts.year * 12 + ts.month - 1 + n
        return ts.replace(year=months // 12, month=months % 12 + 1)
    return ts.replace(year=ts.year + n)


def batches(start: _dt.datetime, end: _dt.datetime, size: str) -> list[tuple[_dt.datetime, _dt.datetime]]:
    """Consecutive [start, end) windows of one batch_size covering [start, end)."""
    out, cur = [], floor(start, size)
    while cur < end:
        nxt = step(cur, size)
        out.append((cur, nxt))
        cur = nxt
    return out


def run_window(ctx: StepContext, incremental: bool, now: _dt.datetime | None = None):
    """[start, end) of this run: the options', else begin.. on a full build, else the lookback."""
    config = ctx.node.config
    size = str(config["batch_size"])
    options = getattr(ctx.engine, "event_time", None) or (None, None)
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    start = parse_timestamp(options[0], what="--event-time-start") if options[0] else None
    end = parse_timestamp(options[1], what="--event-time-end") if options[1] else None
    if end is None:
        end = step(floor(now, size), size)  # through the current (incomplete) batch
        newest = _newest_event(ctx)
        if newest is not None:  # batches after the newest event of the inputs and the table are empty
            end = min(end, step(floor(newest, size), size))
    if start is None:
        if incremental:
            start = step(floor(now, size), size, -int(config.get("lookback", 1)))
        else:
            start = parse_timestamp(config["begin"], what="begin")
    return start, end


_INPUT = re.compile("\\(select \\* from (.+?) where \ue004(.*?)\ue005\\)")


def _newest_event(ctx: StepContext) -> _dt.datetime | None:
    """The latest event_time among the event_time inputs and the table, or None when no input has
    an event_time (then every batch up to now runs). Inputs and a table stored as local Parquet with
    statistics answer from their footers on the driver; the others with one aggregate each (a scan
    of the column over all of history, which the footers spare)."""
    inputs = _INPUT.findall(ctx.compiled.batch or "")
    if not inputs:
        return None
    engine = ctx.engine
    timezone = engine.spark.conf.get("spark.sql.session.timeZone")
    found: list[_dt.datetime] = []
    parts = []
    for relation, column in dict.fromkeys(inputs):
        known = engine.relations.files_of(relation.strip("`").replace("``", "`"))
        decided, newest = (newest_in_files(known[0], column.strip("`").replace("``", "`"), timezone)
                           if known is not None else (False, None))
        if decided:
            found += [newest] if newest is not None else []
        else:
            parts.append(f"select max({column}) as t from {relation}")
    current = engine.location(ctx.node, ctx.schema).current()
    if current is not None:
        decided, newest = newest_in_files(current, str(ctx.node.config["event_time"]), timezone)
        if decided:
            found += [newest] if newest is not None else []
        else:
            engine.read_version(current).createOrReplaceTempView(f"__sm_newest_{ctx.node.name}")
            parts.append(f"select max({q(str(ctx.node.config['event_time']))}) as t "
                         f"from `__sm_newest_{ctx.node.name}`")
    if parts:
        value = engine.sql(f"select max(t) from ({' union all '.join(parts)})").collect()[0][0]
        if isinstance(value, _dt.datetime):
            found.append(value.replace(tzinfo=None))
        elif value is not None:
            found.append(_dt.datetime(value.year, value.month, value.day))
    return max(found) if found else None


def _literal(ts: _dt.datetime) -> str:
    return f"timestamp'{ts.strftime(FMT)}'"


def in_window(column: str, window) -> str:
    return f"({column} >= {_literal(window[0])} and {column} < {_literal(window[1])})"


def references_this(node) -> bool:
    """Whether the model's code uses `this` (dbt 1.9 then runs its batches one at a time)."""
    if node.language == "python":
        return "ctx.this" in (node.raw_code or "")
    return any(re.search(r"\bthis\b", block) for block in _JINJA.findall(node.raw_code or ""))


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def concurrent_batches(ctx: StepContext) -> bool:
    """dbt 1.9's rule: `concurrent_batches` when set, else concurrent unless the model uses `this`;
    only with more than one thread."""
    if int(getattr(ctx.engine.target, "threads", 1) or 1) < 2:
        return False
    configured = ctx.node.config.get("concurrent_batches")
    if configured is not None:
        return configured is True or str(configured).lower() == "true"
    return not references_this(ctx.node)


class _Stale(Exception):
    """A batch's rewritten files were rewritten by another batch meanwhile: run it again on the new base."""


class _Publishes:
    """The batches of one run publish one at a time, each on the newest version (see _run_batch)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ours: set[str] = set()  # versions this run's batches published


def run_microbatch(ctx: StepContext, incremental: bool) -> MaterializationResult:
    node, engine = ctx.node, ctx.engine
    config = node.config
    size = str(config["batch_size"])
    event_time = q(str(config["event_time"]))
    retry = (getattr(engine, "microbatch_retry", None) or {}).get(node.unique_id)
    if retry:
        windows = [(parse_timestamp(a, what="batch"), parse_timestamp(b, what="batch")) for a, b in retry]
    else:
        windows = batches(*run_window(ctx, incremental), size)
    partition_by = columns_of(config.get("partition_by"))
    replace = [not incremental and not retry]  # a full build: the first batch replaces the table
    publishes = _Publishes()

    def one(k: int, window) -> dict:
        record = {"start": window[0].strftime(FMT), "end": window[1].strftime(FMT), "started_at": _now()}
        t0 = time.perf_counter()
        try:
            for _attempt in range(len(windows) + 1):
                try:
                    written = _run_batch(ctx, window, event_time, partition_by, replace[0], publishes, k)
                    break
                except _Stale:
                    continue  # another batch rewrote a file this one rewrote: again, on the new base
            else:
                raise ExecutionError("the batch's files kept changing under it (other batches); run again.",
                                     node=node.name, path=node.path)
            replace[0] = False
            record.update(status="success", rows=written.get("rows"), version=written.get("version"))
        except SparkModelsError as exc:
            record.update(status="error", message=exc.message)
        except Exception as exc:  # noqa: BLE001 - a Spark failure of one batch; the others still run
            err = spark_error(exc, node, ctx.compiled) if type(exc).__name__ in (
                "ParseException", "AnalysisException") else None
            record.update(status="error", message=err.message if err else f"{type(exc).__name__}: {exc}"[:600])
        record.update(completed_at=_now(), execution_time=round(time.perf_counter() - t0, 3))
        return record

    results: list[dict] = []
    # As in dbt 1.9: the first batch runs alone (on a full build: until one has replaced the table),
    # then the middle batches, concurrently on `threads` when concurrent_batches allows, then the last.
    i = 0
    while i < len(windows) - 1 and (i == 0 or replace[0]):
        results.append(one(i, windows[i]))
        i += 1
    middle = list(enumerate(windows))[i:-1]
    if len(middle) > 1 and concurrent_batches(ctx):
        group, pool, description = engine.jobs.scope_of()

        def part(item) -> dict:
            k, window = item
            with engine.jobs.part_scope(group, f"batch{k}", pool, description):
                return one(k, window)

        workers = min(int(engine.target.threads), len(middle))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sm-{node.name}") as ex:
            results.extend(ex.map(part, middle))
    else:
        results.extend(one(k, w) for k, w in middle)
    if i < len(windows):
        results.append(one(len(windows) - 1, windows[-1]))
    rows = sum(r.get("rows") or 0 for r in results)
    failed = [r for r in results if r["status"] == "error"]
    extra = {"batches": results, "batch_size": size}
    if failed:
        lines = "\n".join(f"  batch {r['start']} .. {r['end']}: ERROR {r['message']}" for r in failed)
        exc = ExecutionError(
            f"{len(failed)} of {len(results)} batches failed (the others were published; "
            f"`sparkmodels retry` reruns only the failed ones):\n{lines}", node=node.name, path=node.path)
        exc.extra = {**extra, "failed_batches": [[r["start"], r["end"]] for r in failed]}
        raise exc
    return MaterializationResult(f"microbatch ({len(results)} {size} batch{'es' if len(results) != 1 else ''})"
                                 " into incremental table", rows=rows, extra=extra)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


_FILTERED = re.compile(r"\(select \* from (`[^`]+`) where \((`(?:[^`]|``)+`) >= ")


def _pruned_inputs(ctx: StepContext, sql: str, window, key: int = 0) -> str:
    """The batch's SQL reading, for each event_time input stored as local Parquet, only the files
    whose footers' min/max may hold a row of the window (a view over just those files): Spark would
    otherwise open every file of every partition to skip its row groups. Inputs whose files cannot
    be decided (no statistics, Hadoop storage, not Parquet) keep their filter over all files."""
    engine = ctx.engine
    timezone = None
    views: dict[str, str] = {}
    for relation, column in dict.fromkeys(_FILTERED.findall(sql)):
        known = engine.relations.files_of(relation.strip("`").replace("``", "`"))
        if known is None:
            continue
        folder, schema = known
        timezone = timezone or engine.spark.conf.get("spark.sql.session.timeZone")
        files = files_in_window(folder, column.strip("`").replace("``", "`"), window, timezone)
        if files is None:
            continue
        name = f"__sm_batch_{ctx.node.name}_{key}_{len(views)}"  # per batch: batches may run at once
        df = (one_partition.in_folder(read_files(engine.spark, folder, schema, files), schema, files) if files
              else engine.spark.createDataFrame([], schema))
        df.createOrReplaceTempView(name)
        views[relation] = name
    if not views:
        return sql
    return _FILTERED.sub(lambda m: m.group(0).replace(m.group(1), q(views[m.group(1)]), 1)
                         if m.group(1) in views else m.group(0), sql)


def _run_batch(ctx: StepContext, window, event_time: str, partition_by, replace: bool,
               publishes: _Publishes, key: int = 0) -> dict:
    """One batch: its rows, published as one version replacing the table's rows of the window.

    Concurrent batches write at once but publish one at a time (publishes.lock, taken once Spark
    wrote the batch). A batch whose base is no longer current because another batch of this run
    published since is rebased before its publish: its window is disjoint from the others', so its
    new version is its own files plus every file of the newest version except those it rewrote, which
    is exact as long as those are still there (else _Stale: the batch runs again on the newest). A base
    moved by another run is not rebased: the publish fails with the compare-and-swap message.
    """
    node, engine = ctx.node, ctx.engine
    predicate = in_window(event_time, window)
    sql = _pruned_inputs(ctx, batch_sql(ctx.compiled, lambda column: in_window(column, window)), window, key)
    try:
        src = engine.sql(f"select * from (\n{sql}\n) where {predicate}")
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ in ("ParseException", "AnalysisException"):
            raise spark_error(exc, node, ctx.compiled) from None
        raise
    loc = engine.location(node, ctx.schema)
    old = loc.current()
    locked: list[bool] = []  # whether this batch holds publishes.lock (taken in before_publish)
    counts = {"shared_files": 0}

    def rebase(files: set[str]):
        def before_publish(version):
            publishes.lock.acquire()
            locked.append(True)
            now = loc.current()
            base = old
            if now is not None and (old is None or now.name != old.name) and now.name in publishes.ours:
                base = now  # another batch of this run published since: share from its version
            if base is None:
                return None
            base_files = data_files(loc, base)
            if not files <= set(base_files):
                raise _Stale
            counts["shared_files"] = share(loc, base, version, [f for f in base_files if f not in files])
            return base
        return before_publish

    try:
        if old is None or replace:
            stats = write_version(engine, ctx, src, partition_by=partition_by,
                                  before_publish=None if replace else rebase(set()))
        else:
            stats = _write_window(engine, ctx, src, old, predicate, window, partition_by, rebase)
        publishes.ours.add(stats["version"])
        return {**stats, **counts}
    finally:
        if locked:
            publishes.lock.release()


def _write_window(engine, ctx, src, old, predicate: str, window, partition_by, rebase) -> dict:
    """The window's new rows plus the rows outside the window of the files that hold rows inside it,
    written as a version sharing every other file of the base."""
    from pyspark.sql import functions as F

    node = ctx.node
    dest_schema = recorded_schema(old) or engine.read_version(old).schema  # recorded: no file listing
    columns = [f.name for f in dest_schema.fields]
    have = src.columns
    if have != columns and set(have) == set(columns):  # the base's column order (a select costs analysis)
        src = src.select(*[q(c) for c in columns])

    def outside():  # rows of a rewritten file that stay (nulls too); built only when a file is rewritten
        return ~F.coalesce(F.expr(predicate), F.lit(False))

    timezone = engine.spark.conf.get("spark.sql.session.timeZone")
    found = window_files(old, str(node.config["event_time"]), window, timezone)
    if found is not None:
        # The footers' min/max said which files may hold rows of the window: no Spark job to find
        # them; those wholly inside it are dropped unread (none of their rows stays).
        files = set(found)
        partly = [rel for rel, inside in found.items() if not inside]
        kept = read_files(engine.spark, old, dest_schema, partly).where(outside()) if partly else None
    else:
        tagged = engine.read_version(old).withColumn("__sm_file", F.input_file_name())
        # Row groups outside the window are skipped by their min/max statistics: reading stays small.
        uris = [r[0] for r in tagged.where(predicate).select("__sm_file").distinct().collect()]
        files = {relative_file(u, old) or u for u in uris}
        kept = tagged.where(F.col("__sm_file").isin(uris) & outside()).drop("__sm_file") if uris else None
    out = src.unionByName(kept) if kept is not None else src
    return write_version(engine, ctx, out, partition_by=partition_by, before_publish=rebase(files))
