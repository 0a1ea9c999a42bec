"""Execution: runs a Plan's steps on the Engine in dependency order, N at a time, emitting events."""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from sparkmodels.errors import ExecutionError, SparkModelsError
from sparkmodels.execute.checks.batch import TestExecutor
from sparkmodels.execute.materializations import Registry, StepContext, default_registry
from sparkmodels.execute.materializations.base import spark_error
from sparkmodels.execute.spark.errors import is_spark_error
from sparkmodels.plan.compiler import relation_name, upstream
from sparkmodels.plan.steps import Plan, PlanStep
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.manifest import Manifest, Node

Event = Callable[..., None]


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one step, as run_results.json records it."""

    unique_id: str
    name: str
    resource_type: str
    materialized: str
    status: str  # success | error | skipped
    message: str = ""
    rows: int | None = None
    started_at: str | None = None
    completed_at: str | None = None
    execution_time: float = 0.0
    error: SparkModelsError | None = None
    reason: str | None = None
    extra: Mapping = field(default_factory=dict)
    failures: int | None = None  # tests: rows the test query returned
    # the SQL the step ran (a run-time render's, an incremental model's branch taken); None: not known
    compiled_code: str | None = None


@dataclass(frozen=True)
class RunResult:
    """All step results of an invocation plus overall timing."""

    results: tuple[NodeResult, ...]
    elapsed: float
    interrupted: bool = False
    hook_errors: tuple[SparkModelsError, ...] = ()  # a failed on-run-start/on-run-end hook (hooks.py)

    @property
    def success(self) -> bool:
        return (not self.interrupted and not self.hook_errors
                and all(r.status in ("success", "pass", "warn") for r in self.results))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


class Runner:
    """Executes one plan. Failed steps skip their descendants; independent steps keep running."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, plan: Plan, *,
                 threads: int = 1, on_event: Event | None = None, fail_fast: bool = False,
                 cache=None, materializations: Registry | None = None, hooks=None):
        self.engine = engine
        self.hooks = hooks  # execute.hooks.HookRunner: nodes' pre_hook/post_hook (None: not run)
        self.materializations = materializations or default_registry()  # this run's strategies
        self.manifest = manifest
        self.config = config
        self.plan = plan
        self.threads = max(1, threads)
        self.emit = on_event or (lambda *a, **k: None)
        self.fail_fast = fail_fast
        self._running: dict[str, PlanStep] = {}
        self._lock = threading.Lock()
        self.tests = TestExecutor(engine, manifest, config, plan)
        self.cache = cache  # cache.BuildCache: reuse a table whose fingerprint is unchanged
        self._runtime = None  # runtime.models.ModelRenderer, made for the first model rendered at run time
        catalog = getattr(engine, "catalog", None)
        if catalog is not None and catalog.enabled:  # views' SQL names catalog relations: their schemas
            from sparkmodels.plan.compiler import identifier, source_view_name

            names = {identifier(n): (schema_for(config, n.config), identifier(n)) for n in manifest.nodes.values()
                     if n.resource_type in ("model", "seed", "snapshot")}
            for s in (n for n in manifest.nodes.values() if n.resource_type == "source"):
                ext = s.external or {}
                if ext.get("location") and not ext.get("options"):  # files, read as Spark's format.`path`
                    loc = str(ext["location"])
                    if "://" not in loc and not loc.startswith(("/", "file:")):
                        loc = str(config.root / loc)
                    names[source_view_name(s)] = (str(ext.get("format", "parquet")), loc)
            catalog.set_schemas(names)

    def _runtime_compiled(self, step: PlanStep) -> PlanStep:
        """A model that introspects (Node.runtime_render) rendered again now, its inputs queryable."""
        from sparkmodels.execute.runtime.models import ModelRenderer

        with self._lock:
            if self._runtime is None:
                self._runtime = ModelRenderer(self.engine, self.manifest, self.config, selected=self.plan.selected)
        if not self._runtime.needs(step.node):
            return step
        return replace(step, compiled=self._runtime.compiled(step.node, schema_for(self.config, step.node.config)))

    @staticmethod
    def _ran_sql(step: PlanStep, materialization, ctx: StepContext) -> str | None:
        """The SQL a model step runs, asked before it runs (target/compiled/ and run_results.json show
        it): an incremental model's is_incremental() branch as the warehouse decides it. None: Python."""
        if step.node.language != "sql":
            return None
        branch = step.compiled.incremental
        decide = getattr(materialization, "is_incremental", None)
        if branch is not None and decide is not None and decide(ctx):
            return branch.sql
        return step.compiled.sql

    # -- one step ------------------------------------------------------------------------------
    def _sql_dataframe(self, step: PlanStep) -> Callable[[], object]:
        if step.node.language == "python":
            from sparkmodels.execute.python.models import python_model_dataframe

            return lambda: python_model_dataframe(self.engine, self.manifest, self.config, step)
        return lambda: self.engine.sql(step.compiled.sql)

    def _upstream_relations(self, node: Node) -> tuple[Node, ...]:
        """Direct upstream nodes, looking through ephemeral models."""
        return upstream(node, self.manifest.nodes, self.materializations.kinds).relations

    def execute_test(self, step: PlanStep, index: int) -> NodeResult:
        """A test step: pass/warn/fail by its failure count (not through the materialization registry)."""
        node = step.node
        started, t0 = _now(), time.perf_counter()
        self.emit("start", step=step, index=index, total=len(self.plan))
        failures, extra, error, ran = None, {}, None, None
        try:
            if not node.is_unit_test:  # unit tests read mocked inputs only
                for dep in self._upstream_relations(node):
                    self.engine.ensure_relation(dep, schema_for(self.config, dep.config))
                if node.runtime_render:
                    step = self._runtime_compiled(step)
                    ran = step.compiled.sql
            with self.engine.job_scope(self._group(step), f"sparkmodels: test {node.name}", node.name) as scope:
                outcome = self.tests.run(step)
            status, message, failures, extra = outcome.status, outcome.message, outcome.failures, outcome.extra
            extra = {**dict(extra), "spark_metrics": scope.values}
        except SparkModelsError as exc:
            exc.located(node=node.name, path=node.path)
            status, message, error = "error", exc.message, exc
        return NodeResult(
            unique_id=step.unique_id, name=node.name, resource_type="test", materialized=step.materialized,
            status=status, message=message, started_at=started, completed_at=_now(),
            execution_time=time.perf_counter() - t0, error=error, reason=step.reason, extra=dict(extra),
            failures=failures, compiled_code=ran,
        )

    def execute_step(self, step: PlanStep, index: int) -> NodeResult:
        node = step.node
        if node.resource_type == "test":
            return self.execute_test(step, index)
        started, t0 = _now(), time.perf_counter()
        self.emit("start", step=step, index=index, total=len(self.plan))
        scope = None  # the step's Spark metrics, once its job scope was entered
        ran = None  # the SQL it runs, once known
        try:
            code = None
            if node.runtime_render:  # rendered before the cache decides: its fingerprint is of the SQL it runs
                for dep in self._upstream_relations(node):
                    self.engine.ensure_relation(dep, schema_for(self.config, dep.config))
                step = self._runtime_compiled(step)
                ran = step.compiled.sql  # also what target/compiled/ shows when the table is unchanged
                branch = step.compiled.incremental
                code = step.compiled.sql + (f"\n{branch.sql}" if branch is not None else "")
            decision = (self.cache.prepare(node, schema_for(self.config, node.config), code=code)
                        if self.cache else None)
            hit = decision.hit if decision is not None else None
            catalog = getattr(self.engine, "catalog", None)
            if hit is not None and catalog is not None and not catalog.has(node, schema_for(self.config, node.config)):
                hit = None  # unchanged, but the metastore does not name it yet: build (and register) it
            if hit is not None and not (self.hooks is not None and self.hooks.has(node)):  # unchanged: downstream models register the stored version as they read it
                return NodeResult(
                    unique_id=step.unique_id, name=node.name, resource_type=node.resource_type,
                    materialized=step.materialized, status="success", message="unchanged", rows=hit.rows,
                    started_at=started, completed_at=_now(), execution_time=time.perf_counter() - t0,
                    reason=step.reason, extra={"cached": True, "version": hit.version.name}, compiled_code=ran,
                )
            materialization = self.materializations.get(step.materialized, node)
            lazy_inputs = getattr(materialization, "lazy_inputs", None)  # optional (base.py)
            lazy = bool(lazy_inputs is not None and lazy_inputs(node, step.compiled))
            for dep in self._upstream_relations(node):
                self.engine.ensure_relation(dep, schema_for(self.config, dep.config), lazy=lazy)
            ctx = StepContext(node, step.compiled, schema_for(self.config, node.config), self.engine,
                              self._sql_dataframe(step),
                              fingerprint=decision.fingerprint if decision is not None else None,
                              full_refresh=bool(self.cache and self.cache.force))
            ran = self._ran_sql(step, materialization, ctx)
            with self.engine.job_scope(self._group(step), f"sparkmodels: {node.resource_type} {node.name}",
                                       node.name) as scope:
                try:
                    if self.hooks is not None:
                        self.hooks.node(node, "pre_hook", ctx.schema)
                    outcome = materialization.execute(ctx)
                    if self.hooks is not None:  # after the new version is published, as dbt
                        self.hooks.node(node, "post_hook", ctx.schema)
                    if self._runtime is not None:  # its columns may have changed: introspect them again
                        self._runtime.context.forget(relation_name(node, self.engine.kinds))
                except SparkModelsError:
                    raise
                except Exception as exc:  # noqa: BLE001 - translated below
                    if is_spark_error(exc):
                        from sparkmodels.execute.python.models import (
                            python_worker_error,  # UDF/map_batches failures
                        )

                        err = (python_worker_error(exc, node, self.config.root)
                               or spark_error(exc, node, step.compiled, root=self.config.root))
                        raise self._logged(err, exc) from None
                    if isinstance(exc, OSError):  # writing the warehouse: a full disk, a read-only folder
                        from sparkmodels.execute.spark.failures import os_error

                        known = os_error(exc)
                        if known is not None:
                            raise self._logged(ExecutionError(known[0], node=node.name, path=node.path,
                                                              hint=known[1]), exc) from None
                    raise ExecutionError(f"{type(exc).__name__}: {exc}", node=node.name, path=node.path) from exc
            status, message, rows, error, extra = "success", outcome.message, outcome.rows, None, outcome.extra
            extra = {**dict(extra), "spark_metrics": scope.values}
        except SparkModelsError as exc:
            exc.located(node=node.name, path=node.path)
            status, message, rows, error, extra = "error", exc.message, None, exc, dict(getattr(exc, "extra", {}))
            if scope is not None and scope.values:  # what the failed attempt cost
                extra["spark_metrics"] = scope.values
        return NodeResult(
            unique_id=step.unique_id, name=node.name, resource_type=node.resource_type,
            materialized=step.materialized, status=status, message=message, rows=rows,
            started_at=started, completed_at=_now(), execution_time=time.perf_counter() - t0,
            error=error, reason=step.reason, extra=dict(extra), compiled_code=ran,
        )

    def _logged(self, err: SparkModelsError, exc: BaseException) -> SparkModelsError:
        """Keep the Spark failure's full text in target/sparkmodels.log; the paragraph names the file."""
        from sparkmodels.execute.spark import sparklog
        from sparkmodels.project.secrets import secret_values

        path = sparklog.log_file(self.config.target_dir)
        if sparklog.record(path, err.node or "a step", exc, secret_values(vars=self.config.vars)):
            where = f"(Spark's full output: {sparklog.relative(path, self.config.root)})"
            err.hint = f"{err.hint} {where}" if err.hint else where
        return err

    def _group(self, step: PlanStep) -> str:
        return f"sparkmodels-{step.node.name}"

    # -- the whole plan ------------------------------------------------------------------------
    def skip_all(self, why: str) -> RunResult:
        """Every step skipped (a failed on-run-start hook), with a skip event each."""
        results = []
        for s in self.plan.steps:
            results.append(NodeResult(s.unique_id, s.node.name, s.node.resource_type, s.materialized,
                                      "skipped", message=why))
            self.emit("skip", step=s, result=results[-1])
        return RunResult(tuple(results), 0.0)

    def run(self) -> RunResult:
        t0 = time.perf_counter()
        steps = {s.unique_id: s for s in self.plan.steps}
        order = [s.unique_id for s in self.plan.steps]
        waiting_on = {uid: set(steps[uid].depends_on) & set(steps) for uid in order}
        children: dict[str, list[str]] = {uid: [] for uid in order}
        for uid, deps in waiting_on.items():
            for dep in deps:
                children[dep].append(uid)
        results: dict[str, NodeResult] = {}
        futures: dict[Future, str] = {}
        counter = 0
        interrupted = False
        stop = False

        def skip_descendants(uid: str, why: str) -> None:
            stack = list(children[uid])
            while stack:
                kid = stack.pop()
                if kid in results:
                    continue
                ks = steps[kid]
                results[kid] = NodeResult(kid, ks.node.name, ks.node.resource_type, ks.materialized,
                                          "skipped", message=why)
                self.emit("skip", step=ks, result=results[kid])
                stack.extend(children[kid])

        pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="sparkmodels")
        try:
            while len(results) < len(order):
                if not stop:
                    for uid in order:
                        if len(futures) >= self.threads:
                            break
                        if uid in results or uid in futures.values() or waiting_on[uid]:
                            continue
                        counter += 1
                        with self._lock:
                            self._running[uid] = steps[uid]
                        futures[pool.submit(self.execute_step, steps[uid], counter)] = uid
                if not futures:
                    for uid in order:  # fail-fast: everything not started is skipped
                        if uid not in results:
                            s = steps[uid]
                            results[uid] = NodeResult(uid, s.node.name, s.node.resource_type,
                                                      s.materialized, "skipped", message="skipped (fail-fast)")
                            self.emit("skip", step=s, result=results[uid])
                    break
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    uid = futures.pop(fut)
                    with self._lock:
                        self._running.pop(uid, None)
                    result = fut.result()
                    results[uid] = result
                    self.emit("done", step=steps[uid], result=result)
                    if result.status in ("error", "fail"):
                        skip_descendants(uid, f"skipped because {result.name} failed")
                        if self.fail_fast:
                            stop = True
                    for kid in children[uid]:
                        waiting_on[kid].discard(uid)
        except KeyboardInterrupt:
            interrupted = True
            with self._lock:
                running = list(self._running.values())
            self.engine.cancel(self._group(s) for s in running)
            self.emit("interrupt", steps=running)
            for fut, uid in list(futures.items()):
                try:
                    results[uid] = fut.result(timeout=60)
                except BaseException:  # noqa: BLE001
                    s = steps[uid]
                    results[uid] = NodeResult(uid, s.node.name, s.node.resource_type, s.materialized,
                                              "error", message="cancelled")
            for uid in order:
                if uid not in results:
                    s = steps[uid]
                    results[uid] = NodeResult(uid, s.node.name, s.node.resource_type, s.materialized,
                                              "skipped", message="cancelled (Ctrl-C)")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        ordered = tuple(results[uid] for uid in order if uid in results)
        return RunResult(ordered, time.perf_counter() - t0, interrupted)
