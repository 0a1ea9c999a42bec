"""Running hooks: a node's pre_hook/post_hook around its build, a run's on-run-start/on-run-end.

A hook (project/hooks.py: its SQL and where it was configured) is rendered when it runs, in the run's
session, by `HookRunner.render` — the one place that builds a hook's Jinja context (`this`, `results`,
`schemas`, run_query, execute) — then its statements run one at a time (Spark takes one per call).
As in dbt: pre_hooks run once the node's inputs are queryable and before it is built; post_hooks
after it is published, so `{{ this }}` reads the new version; on-run-start runs before the first
node, on-run-end after the last one, even when nodes failed, with their `results`. A failing hook
fails its node (on-run-*: the run) with an error at the file and line that configured it. A node with
hooks is never skipped by the build cache: dbt runs its hooks on every run.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sparkmodels.errors import ExecutionError, SparkModelsError
from sparkmodels.execute.runtime import RunContext
from sparkmodels.plan.compiler import identifier
from sparkmodels.project import hooks as configured
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.project.render.jinja import Relation

# One statement ends at a ';' outside quotes, backquotes and comments.
_STATEMENT_PARTS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|--[^\n]*|/\*.*?\*/|;", re.S)


def statements(sql: str) -> list[str]:
    """A hook's SQL split into statements (Spark runs one per call); empty ones dropped."""
    out, start = [], 0
    for m in _STATEMENT_PARTS.finditer(sql):
        if m.group() == ";":
            out.append(sql[start:m.start()])
            start = m.end()
    out.append(sql[start:])
    return [s.strip() for s in out if _has_code(s)]


def _has_code(text: str) -> bool:
    return bool(re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.S).strip())


class Result:
    """One node's outcome as on-run-end's `results` shows it (dbt's RunResult: node, status, message...)."""

    def __init__(self, result, node: Node | None):
        self.node = node.to_dict() if node is not None else {"unique_id": result.unique_id, "name": result.name}
        self.unique_id = result.unique_id
        self.status = result.status
        self.message = result.message
        self.execution_time = result.execution_time
        self.failures = result.failures
        self.adapter_response = {"rows_affected": result.rows} if result.rows is not None else {}
        self.thread_id = "main"
        self.timing: list = []


class HookRunner:
    """Renders and runs the hooks of one run, in its engine's session (renders one at a time)."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, kinds: Kinds, *,
                 emit: Callable[..., None] | None = None, log: Callable[[str, bool], None] | None = None):
        self.engine = engine
        self.manifest = manifest
        self.config = config
        self.kinds = kinds
        self.emit = emit or (lambda *a, **k: None)
        self.log = log  # hooks' log(msg, info) lines (None: dropped)
        self._renderer = None
        self._lock = threading.Lock()  # the project's Renderer renders one template at a time

    # -- rendering: the one place a hook's Jinja context is made ---------------------------------
    def render(self, hook: configured.Hook, *, node_name: str, package: str | None = None,
               this: Relation | None = None, extra: Mapping | None = None) -> str:
        """A hook's SQL rendered at run time: ref()/source() are the session's relations, run_query
        runs in the run's session (execute/runtime/)."""
        from sparkmodels.project.loader import project_renderer

        context = RunContext(self.engine, self.manifest, self.config, self.kinds, log=self.log)
        path = hook.path or "<hook>"
        with self._lock:
            if self._renderer is None:
                self._renderer = project_renderer(self.config)
            try:
                return self._renderer.render(str(hook), filename=path, node_name=node_name, this=this,
                                             extra={**context.extra(), **(extra or {})}, package=package).text
            except SparkModelsError as exc:
                raise _hook_located(exc, hook, node_name) from None

    # -- a node's pre_hook / post_hook -------------------------------------------------------------
    def has(self, node: Node) -> bool:
        return configured.has_hooks(node.config)

    def node(self, node: Node, which: str, schema: str) -> None:
        """Run a node's pre_hook or post_hook list; the first failure is raised, located at its config."""
        found = configured.node_hooks(node.config, which)
        if not found:
            return
        this = Relation(identifier(node), schema)
        if any("this" in h for h in found) and self.kinds.of(node).holds_data \
                and self.engine.stored_version(node, schema) is not None:
            self.engine.ensure_relation(node, schema)  # `{{ this }}` is queryable: its current version
        for index, hook in enumerate(found, start=1):
            label = f"{which} {index} of {len(found)}" if len(found) > 1 else which
            sql = self.render(hook, node_name=node.name, package=node.package, this=this,
                              extra={"model": node.to_dict()})
            self._execute(sql, hook, node.name, label)

    # -- on-run-start / on-run-end ---------------------------------------------------------------
    def run(self, which: str, results: Sequence = ()) -> tuple[SparkModelsError, ...]:
        """Run the project's (then its packages') on-run-start or on-run-end hooks; returns the errors
        (each located), after emitting a `hook` event per hook. A failure stops the remaining ones."""
        todo = [(project, hook) for project in (self.config, *self.config.packages)
                for hook in project.run_hooks.get(which, ())]
        if not todo:
            return ()
        wrapped = [Result(r, self.manifest.nodes.get(r.unique_id)) for r in results]
        schemas = sorted({schema_for(self.config, self.manifest.nodes[r.unique_id].config) for r in results
                          if r.unique_id in self.manifest.nodes and r.resource_type != "test"})
        extra = {"results": wrapped, "schemas": schemas,
                 "database_schemas": [("spark_catalog", s) for s in schemas]}
        self.emit("hooks", which=which, total=len(todo))
        counts: dict[str, int] = {}
        for index, (project, hook) in enumerate(todo, start=1):
            number = counts[project.name] = counts.get(project.name, -1) + 1
            name = f"{project.name}.{which}.{number}"
            t0 = time.perf_counter()
            try:
                sql = self.render(hook, node_name=name, package=project.name, extra=extra)
                self._execute(sql, hook, name, which)
            except SparkModelsError as exc:
                self.emit("hook", which=which, index=index, total=len(todo), name=name,
                          seconds=time.perf_counter() - t0, error=exc)
                return (exc,)
            self.emit("hook", which=which, index=index, total=len(todo), name=name,
                      seconds=time.perf_counter() - t0, error=None)
        return ()

    # -- running a rendered hook -------------------------------------------------------------------
    def _execute(self, sql: str, hook: configured.Hook, node_name: str, label: str) -> None:
        for statement in statements(sql):
            try:
                self.engine.sql(statement)  # commands run when called; Spark's errors surface here
            except Exception as exc:  # noqa: BLE001 - Spark's error, located at the hook's config
                from sparkmodels.execute.spark.errors import is_spark_error
                from sparkmodels.execute.spark.failures import plain_message

                if not is_spark_error(exc):
                    raise
                raise ExecutionError(f"{label} failed: {plain_message(str(exc))}", node=node_name,
                                     path=hook.path, line=hook.line,
                                     hint=f"The hook ran: {_short(statement)}") from None


def _hook_located(exc: SparkModelsError, hook: configured.Hook, node_name: str) -> SparkModelsError:
    """A render error of a hook at the file and line of its config (the hook's own line n is n-1 below)."""
    exc.node = exc.node or node_name
    if exc.path in (None, hook.path, "<hook>"):
        inner = exc.line
        exc.path = hook.path
        exc.line = hook.line + inner - 1 if hook.line and inner else hook.line
    return exc


def _short(sql: str, limit: int = 200) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."

