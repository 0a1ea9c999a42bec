"""Data test execution: failure counts (shared scans per relation), statuses and store_failures.

not_null, unique and accepted_values tests of one relation are answered together: a single
global aggregate (one scan, no shuffle) counts nulls and rejected values of every tested column;
a unique test on an integral column is checked exactly with Spark's bitmaps (no shuffle of the
values, see unique_query), any other unique test adds a grouped UNION ALL branch. Every other
data test runs its own compiled SQL wrapped in count(*).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ExecutionError, SparkModelsError
from ..manifest import Manifest, Node
from ..plan import Plan, PlanStep, relation_name
from .generic import BATCHABLE, sql_literal, status_for

AUDIT_SCHEMA = "dbt_test__audit"


@dataclass(frozen=True)
class TestOutcome:
    """What one test found: pass|warn|fail, the failure count, a message and extras."""

    status: str
    failures: int
    message: str = ""
    extra: Mapping = field(default_factory=dict)


def is_batchable(node: Node, manifest: Manifest) -> bool:
    cfg = node.config
    target = manifest.nodes.get(cfg.get("attached_node") or "")
    return (cfg.get("test_type") == "data" and bool(cfg.get("builtin")) and cfg.get("test_name") in BATCHABLE
            and cfg.get("column_name") is not None and target is not None
            and not (target.resource_type == "model" and target.materialized == "ephemeral"))


INTEGRAL = ("tinyint", "smallint", "int", "bigint")  # bitmap_bit_position's input types
BITMAP_BITS = 32_768  # values per bitmap bucket (Spark's bitmap_* functions: 4 KiB per bucket)


def _test_parts(t: Node) -> tuple[str, str]:
    cfg = t.config
    where = cfg.get("where")
    return f"({cfg['column_name']})", (f"({where}) and " if where else "")


def batch_query(relation: str, tests: list[Node], integral: frozenset[int] = frozenset()) -> str:
    """One statement returning rows (__i, __n, __lo, __hi): counts per test index i.

    not_null and accepted_values share one global aggregate (one scan, no shuffle). For
    accepted_values __n counts rejected rows: 0 means pass, else `refine` counts the distinct
    rejected values as dbt does. A unique test on an integral column (index in `integral`) adds
    its non-null row count and value range to the same aggregate, for `unique_query`'s bitmap
    check; every other unique test is a grouped branch of the same UNION ALL.
    """
    counters, branches = [], []
    for i, t in enumerate(tests):
        col, cond = _test_parts(t)
        name = t.config["test_name"]
        if name == "not_null":
            counters.append(f"struct({i} as __i, count_if({cond}{col} is null) as __n, "
                            "cast(null as bigint) as __lo, cast(null as bigint) as __hi)")
        elif name == "unique" and i in integral:
            kept = f"case when {cond}true then {col} end"
            counters.append(f"struct({i} as __i, count_if({cond}{col} is not null) as __n, "
                            f"cast(min({kept}) as bigint) as __lo, cast(max({kept}) as bigint) as __hi)")
        elif name == "unique":
            branches.append(f"select {i} as __i, count(*) as __n, cast(null as bigint) as __lo, "
                            f"cast(null as bigint) as __hi from (\n    select {col} as k from {relation}\n"
                            f"    where {cond}{col} is not null group by {col} having count(*) > 1\n) u{i}")
        else:  # accepted_values: nulls are never rejected (as in dbt)
            kwargs = t.config.get("kwargs") or {}
            values = list(kwargs.get("values") or [])
            quote = kwargs.get("quote", True)
            bad = f" and not ({col} in ({', '.join(sql_literal(v, quote) for v in values)}))" if values else ""
            counters.append(f"struct({i} as __i, count_if({cond}{col} is not null{bad}) as __n, "
                            "cast(null as bigint) as __lo, cast(null as bigint) as __hi)")
    if counters:
        inner = ",\n        ".join(counters)
        branches.insert(0, f"select inline(array(\n        {inner}\n    ))\nfrom {relation}")
    return "\nunion all\n".join(branches)


def bitmap_worthwhile(rows: int, lo: int | None, hi: int | None) -> bool:
    """Whether exact bitmaps are cheaper than shuffling the values: the buckets the value range
    spans (4 KiB each) must not outweigh the rows themselves (a 16-byte shuffled row each)."""
    if lo is None or hi is None or rows <= 1:
        return False
    buckets = (hi - lo) // BITMAP_BITS + 2
    return buckets * 4096 <= rows * 16 + (1 << 20)


def unique_query(relation: str, tests: list[Node], rows: dict[int, int]) -> str:
    """Rows (__i, __n): for each unique test i on a dense integral column, its number of non-null
    rows (rows[i]) minus its number of distinct values, computed with Spark's exact bitmaps.

    Each bucket of 32,768 consecutive values becomes one 4 KiB bitmap, so the shuffle carries a
    few bitmaps per map task instead of every value: a unique column of 3M ids moves ~92 bitmaps.
    __n = 0 proves the column unique; otherwise dbt's own query gives the failure count.
    """
    branches = []
    for i, nonnull in rows.items():
        col, cond = _test_parts(tests[i])
        branches.append(f"select {i} as __i, {int(nonnull)} - coalesce(sum(bitmap_count(b)), 0) as __n from (\n"
                        f"    select bitmap_construct_agg(bitmap_bit_position({col})) as b from {relation}\n"
                        f"    where {cond}{col} is not null group by bitmap_bucket_number({col})\n) b{i}")
    return "\nunion all\n".join(branches)


def count_query(sql: str) -> str:
    """dbt's failure count: the number of rows the test query returns."""
    return f"select count(*) as failures from (\n{sql.rstrip().rstrip(';')}\n) dbt_internal_test"


class TestExecutor:
    """Runs the data tests of one plan; tests sharing a relation are computed together once."""

    def __init__(self, engine, manifest: Manifest, config, plan: Plan):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self._groups: dict[str, list[Node]] = {}
        for step in plan.steps:
            if step.node.resource_type == "test" and is_batchable(step.node, manifest):
                self._groups.setdefault(step.node.config["attached_node"], []).append(step.node)
        self._members = {t.unique_id for tests in self._groups.values() for t in tests}
        self._counts: dict[str, int | None] = {}
        self._locks = {key: threading.Lock() for key in self._groups}

    def run(self, step: PlanStep) -> TestOutcome:
        """Execute one test step (data or unit) and judge it by severity and thresholds."""
        node = step.node
        if node.config.get("test_type") == "unit":
            from .unit import run_unit_test

            return run_unit_test(self.engine, self.manifest, self.config, step)
        try:
            failures = self.failures(step)
            if node.config.get("limit") is not None:
                failures = min(failures, int(node.config["limit"]))
            status, message = status_for(failures, node.config)
            extra: dict = {}
            if node.config.get("store_failures"):
                path = self.store_failures(step)
                extra["failures_path"] = path
                message = f"{message}; failing rows in {path}" if message else f"failing rows in {path}"
        except SparkModelsError:
            raise
        except Exception as exc:  # noqa: BLE001 - Spark errors become located errors
            raise self._error(exc, step) from None
        return TestOutcome(status, failures, message, extra)

    def failures(self, step: PlanStep) -> int:
        node = step.node
        key = node.config.get("attached_node")
        if node.unique_id in self._members:
            with self._locks[key]:
                if node.unique_id not in self._counts:
                    self._run_batch(key)
                count = self._counts.get(node.unique_id)
            if count is not None:
                return count
        return self.count(step.compiled.sql)

    def _run_batch(self, key: str) -> None:
        tests = [t for t in self._groups[key] if t.unique_id not in self._counts]
        relation = relation_name(self.manifest.nodes[key])
        try:
            integral = self._integral_unique(relation, tests)
            found, ranges = {}, {}
            for r in self.engine.sql(batch_query(relation, tests, integral)).collect():
                found[int(r["__i"])] = int(r["__n"] or 0)
                ranges[int(r["__i"])] = (r["__lo"], r["__hi"])
            dense = {i: found[i] for i in integral if bitmap_worthwhile(found.get(i, 0), *ranges.get(i, (None, None)))}
            excess = {}
            if dense:
                excess = {int(r["__i"]): int(r["__n"] or 0)
                          for r in self.engine.sql(unique_query(relation, tests, dense)).collect()}
        except Exception:  # noqa: BLE001 - one bad test must not fail its neighbours: run each alone
            self._counts.update({t.unique_id: None for t in tests})
            return
        for i, t in enumerate(tests):
            if i in integral:
                # a proven-unique column has 0 failures; duplicates (or a range too sparse for
                # bitmaps) are counted by the test's own SQL, so the count is always dbt's
                proven = found.get(i, 0) <= 1 or excess.get(i) == 0
                self._counts[t.unique_id] = 0 if proven else None
                continue
            # accepted_values with rejected rows: dbt counts distinct values, so ask its own SQL
            refine = t.config["test_name"] == "accepted_values" and found.get(i, 0) > 0
            self._counts[t.unique_id] = None if refine else found.get(i, 0)

    def _integral_unique(self, relation: str, tests: list[Node]) -> frozenset[int]:
        """Indexes of unique tests whose column is integral (one analysis, no Spark job)."""
        idx = [i for i, t in enumerate(tests) if t.config["test_name"] == "unique"]
        if not idx:
            return frozenset()
        cols = ", ".join(f"{_test_parts(tests[i])[0]} as __u{i}" for i in idx)
        schema = self.engine.sql(f"select {cols} from {relation}").schema
        return frozenset(i for i, f in zip(idx, schema.fields, strict=True) if f.dataType.simpleString() in INTEGRAL)

    def count(self, sql: str) -> int:
        return int(self.engine.sql(count_query(sql)).collect()[0][0])

    def store_failures(self, step: PlanStep) -> str:
        """Write the failing rows as a Parquet table in <target schema>_dbt_test__audit."""
        from ..loader import schema_for

        node = step.node
        schema = schema_for(self.config, {"schema": node.config.get("schema") or AUDIT_SCHEMA})
        stats = self.engine.write_table(self.engine.sql(step.compiled.sql), node, schema)
        return stats["path"]

    def _error(self, exc: BaseException, step: PlanStep) -> SparkModelsError:
        from ..materializations.base import spark_error

        node = step.node
        names = {c.__name__ for c in type(exc).__mro__}
        if names & {"PySparkException", "Py4JJavaError", "Py4JError", "CapturedException"}:
            err = spark_error(exc, node, step.compiled)
        else:
            err = ExecutionError(f"{type(exc).__name__}: {exc}", node=node.name, path=node.path)
        if node.config.get("yaml_line"):
            err.line = node.config["yaml_line"]  # a generic test: point at its YAML entry
        return err
