"""Data test execution: failure counts (shared scans per relation), statuses and store_failures.

not_null, unique and accepted_values tests of one relation are answered together: a single
global aggregate (one scan, no shuffle) counts nulls, rejected values and the rows each unique
test sees; unique tests are then proven without shuffling their values where possible (see
unique.py). Every other data test, and any count these shortcuts cannot give exactly, runs its
own compiled SQL wrapped in count(*).
"""

from __future__ import annotations

import threading

from sparkmodels.errors import ExecutionError, SparkModelsError
from sparkmodels.execute.checks import unique
from sparkmodels.execute.checks.outcome import TestOutcome
from sparkmodels.execute.spark.errors import is_spark_error
from sparkmodels.plan.compiler import is_ephemeral, relation_name
from sparkmodels.plan.steps import Plan, PlanStep
from sparkmodels.project.generic_tests import BATCHABLE, sql_literal, status_for
from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Manifest, Node

AUDIT_SCHEMA = "dbt_test__audit"


def is_batchable(node: Node, manifest: Manifest, kinds: Kinds = BUILTIN) -> bool:
    spec = node.test
    if spec is None or spec.kind != "generic":
        return False
    target = manifest.nodes.get(spec.attached_node or "")
    return (spec.builtin and spec.name in BATCHABLE and spec.column_name is not None and target is not None
            and not is_ephemeral(target, kinds))


def _test_parts(t: Node) -> tuple[str, str]:
    where = t.config.get("where")
    return f"({t.test.column_name})", (f"({where}) and " if where else "")


def rejected_condition(t: Node) -> str:
    """SQL true for the rows an accepted_values test rejects (nulls never are, as in dbt)."""
    col, cond = _test_parts(t)
    kwargs = t.test.kwargs
    values = list(kwargs.get("values") or [])
    quote = kwargs.get("quote", True)
    bad = f" and not ({col} in ({', '.join(sql_literal(v, quote) for v in values)}))" if values else ""
    return f"{cond}{col} is not null{bad}"


def batch_query(relation: str, tests: list[Node], integral: frozenset[int] = frozenset()) -> str:
    """One global aggregate returning rows (__i, __n, __lo, __hi): counts per test index i.

    For not_null __n counts nulls; for accepted_values it counts rejected rows (0 means pass, else
    dbt's count of distinct rejected values is found as unique.py describes). For unique it counts
    the non-null rows the test sees, with the value range when the column is integral (index in
    `integral`), for the bitmap check. The row with __i = -1 counts the relation's rows. Every
    aggregate is fixed-width (counts, integer min/max), which keeps Spark's code-generated hash
    aggregate; a string min/max would not.
    """
    none = "cast(null as bigint) as __lo, cast(null as bigint) as __hi"
    counters = [f"struct(-1 as __i, count(*) as __n, {none})"]
    for i, t in enumerate(tests):
        col, cond = _test_parts(t)
        name = t.test.name
        if name == "not_null":
            counters.append(f"struct({i} as __i, count_if({cond}{col} is null) as __n, {none})")
        elif name == "unique" and i in integral:
            kept = f"case when {cond}true then {col} end"
            counters.append(f"struct({i} as __i, count_if({cond}{col} is not null) as __n, "
                            f"cast(min({kept}) as bigint) as __lo, cast(max({kept}) as bigint) as __hi)")
        elif name == "unique":
            counters.append(f"struct({i} as __i, count_if({cond}{col} is not null) as __n, {none})")
        else:
            counters.append(f"struct({i} as __i, count_if({rejected_condition(t)}) as __n, {none})")
    inner = ",\n        ".join(counters)
    return f"select inline(array(\n        {inner}\n    ))\nfrom {relation}"


def count_query(sql: str, fail_calc: str | None = None) -> str:
    """dbt's failure count: the test's `fail_calc` over the rows its query returns (default count(*))."""
    calc = fail_calc or "count(*)"
    return f"select coalesce({calc}, 0) as failures from (\n{sql.rstrip().rstrip(';')}\n) dbt_internal_test"


class TestExecutor:
    """Runs the data tests of one plan; tests sharing a relation are computed together once."""

    def __init__(self, engine, manifest: Manifest, config, plan: Plan):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self._groups: dict[str, list[Node]] = {}
        for step in plan.steps:
            if step.node.resource_type == "test" and is_batchable(step.node, manifest, engine.kinds):
                self._groups.setdefault(step.node.test.attached_node, []).append(step.node)
        self._members = {t.unique_id for tests in self._groups.values() for t in tests}
        self._counts: dict[str, int | None] = {}
        self._locks = {key: threading.Lock() for key in self._groups}

    def run(self, step: PlanStep) -> TestOutcome:
        """Execute one test step (data or unit) and judge it by severity and thresholds."""
        node = step.node
        if node.is_unit_test:
            from sparkmodels.execute.checks.unit import run_unit_test

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
        if node.unique_id in self._members:
            key = node.test.attached_node
            with self._locks[key]:
                if node.unique_id not in self._counts:
                    self._run_batch(key)
                count = self._counts.get(node.unique_id)
            if count is not None:
                return count
        return self.count(step.compiled.sql, node.config.get("fail_calc"))

    def _run_batch(self, key: str) -> None:
        tests = [t for t in self._groups[key] if t.unique_id not in self._counts]
        relation = relation_name(self.manifest.nodes[key])
        try:
            types = self._column_types(relation, tests)
            integral = frozenset(i for i, name in types.items() if name in unique.INTEGRAL
                                 and tests[i].test.name == "unique")
            found, ranges = {}, {}
            for r in self.engine.sql(batch_query(relation, tests, integral)).collect():
                found[int(r["__i"])] = int(r["__n"] or 0)
                ranges[int(r["__i"])] = (r["__lo"], r["__hi"])
            counted = self._collected_counts(relation, tests, types, found, ranges)
        except Exception:  # noqa: BLE001 - one bad test must not fail its neighbours: run each alone
            self._counts.update({t.unique_id: None for t in tests})
            return
        for i, t in enumerate(tests):
            name = t.test.name
            if name == "unique" and found.get(i, 0) > 1 or name == "accepted_values" and found.get(i, 0) > 0:
                # None (duplicates seen by a hash or a bitmap, or no shortcut applies) leaves the
                # count to the test's own SQL, so every count is dbt's
                self._counts[t.unique_id] = counted.get(i)
            else:
                self._counts[t.unique_id] = 0 if name == "unique" else found.get(i, 0)

    def _collected_counts(self, relation: str, tests: list[Node], types: dict[int, str],
                          found: dict[int, int], ranges: dict) -> dict[int, int | None]:
        """Counts the driver-side scan (small relations) or bitmaps can give: unique tests with more
        than one row, accepted_values tests that rejected rows (dbt counts distinct rejected values)."""
        pending = {i: name for i, name in types.items() if found.get(i, 0) > (
            1 if tests[i].test.name == "unique" else 0)}
        kinds = {i: unique.kind_of(n) if tests[i].test.name == "unique" else unique.raw_kind_of(n, found[i])
                 for i, n in pending.items()}
        picked = unique.pick_collected(kinds, found.get(-1, 0), self.config.target.unique_collect_max_rows)
        counted: dict[int, int | None] = {}
        if picked:
            columns = {}
            for i in picked:
                col, cond = _test_parts(tests[i])
                if kinds[i] == "raw":  # the rejected values themselves
                    columns[i] = f"case when {rejected_condition(tests[i])} then {col} end"
                else:
                    columns[i] = f"case when {cond}{col} is not null then {unique.collected_expr(pending[i], col)} end"
            table = self.engine.sql(unique.collect_query(relation, columns)).toArrow()
            counted.update(unique.collected_counts(table, {i: kinds[i] for i in picked}))
        dense = {i: found[i] for i, name in pending.items() if i not in counted and name in unique.INTEGRAL
                 and tests[i].test.name == "unique"
                 and unique.bitmap_worthwhile(found[i], *ranges.get(i, (None, None)))}
        if dense:
            parts = {i: _test_parts(tests[i]) for i in dense}
            for r in self.engine.sql(unique.unique_query(relation, parts, dense)).collect():
                counted[int(r["__i"])] = 0 if int(r["__n"] or 0) == 0 else None
        return counted

    def _column_types(self, relation: str, tests: list[Node]) -> dict[int, str]:
        """Spark type (simpleString) of each unique and accepted_values test's column (one analysis,
        no Spark job)."""
        idx = [i for i, t in enumerate(tests) if t.test.name in ("unique", "accepted_values")]
        if not idx:
            return {}
        cols = ", ".join(f"{_test_parts(tests[i])[0]} as __u{i}" for i in idx)
        schema = self.engine.sql(f"select {cols} from {relation}").schema
        return {i: f.dataType.simpleString() for i, f in zip(idx, schema.fields, strict=True)}

    def count(self, sql: str, fail_calc: str | None = None) -> int:
        return int(self.engine.sql(count_query(sql, fail_calc)).collect()[0][0])

    def store_failures(self, step: PlanStep) -> str:
        """Write the failing rows as a Parquet table in <target schema>_dbt_test__audit."""
        from sparkmodels.project.config import schema_for

        node = step.node
        schema = schema_for(self.config, {"schema": node.config.get("schema") or AUDIT_SCHEMA})
        stats = self.engine.writer.write(self.engine.sql(step.compiled.sql), node, schema)
        return stats["path"]

    def _error(self, exc: BaseException, step: PlanStep) -> SparkModelsError:
        from sparkmodels.execute.materializations.base import spark_error

        node = step.node
        if is_spark_error(exc):
            err = spark_error(exc, node, step.compiled)
        else:
            err = ExecutionError(f"{type(exc).__name__}: {exc}", node=node.name, path=node.path)
        if node.test is not None and node.test.yaml_line:
            err.line = node.test.yaml_line  # a generic test: point at its YAML entry
        return err
