"""Commands that run a plan on Spark: run, seed, test, build, snapshot and retry, with the artifacts of a run.

`execute` is the one path: manifest.json and target/compiled/ written first, the session started (or
attached), on-run-start hooks, the Runner, on-run-end hooks, then target/compiled/ again where the
SQL that ran differs (a run-time render, the is_incremental() branch taken) and run_results.json.
Each command boots the JVM in the background while the project loads and the plan is made.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path

from sparkmodels.app.project import Project, config_for, ensure_project, load_project
from sparkmodels.app.selection import defer_location, plan_for, selection_context
from sparkmodels.errors import SelectionError
from sparkmodels.execute.spark.session import SessionStart
from sparkmodels.plan.options import RunOptions
from sparkmodels.plan.steps import Plan, build_plan
from sparkmodels.project.manifest import Manifest
from sparkmodels.report.artifacts import write_compiled, write_manifest, write_run_results
from sparkmodels.report.console import Reporter


def execute(p: Project, plan: Plan, *, command: str, options: RunOptions = RunOptions(), spark=None,
            reporter: Reporter | None = None, on_event=None, defer_to=None, session: SessionStart | None = None):
    """Run a plan on Spark, write artifacts, and return the RunResult.

    `options` gives fail_fast, full_refresh and no_cache (rebuild tables even when their fingerprint
    is unchanged) and is recorded in run_results.json `args`. `reporter` prints (quiet when None);
    `on_event(kind, **data)` also receives every runner event. `defer_to` (a state.PreviousState) is
    read for upstream tables not built here. `session`: a SessionStart already booting the JVM (used
    when `spark` is None).
    """
    from sparkmodels.execute.cache import BuildCache
    from sparkmodels.execute.engine import Engine
    from sparkmodels.execute.hooks import HookRunner
    from sparkmodels.execute.runner import Runner

    reporter = reporter or Reporter(quiet=True)
    secrets = p.secrets
    reporter.secrets = secrets  # console lines and error paragraphs mask secret vars too
    listeners = [reporter] if on_event is None else [reporter, on_event]

    def emit(kind, **data):
        for listener in listeners:
            listener(kind, **data)

    reporter.warnings(plan.warnings)
    counts = _count(p.manifest)
    reporter.line(f"Found {counts}")
    compiled = p.compiled(p.manifest.nodes, full_refresh=options.full_refresh)
    write_manifest(p.config.target_dir, p.manifest, compiled, secrets=secrets)
    shown = {s.unique_id: p.shown_sql(s.unique_id, full_refresh=options.full_refresh) for s in plan.steps
             if s.node.resource_type in ("model", "snapshot", "test")}
    write_compiled(p.config.target_dir, p.manifest, shown, secrets=secrets)
    if not plan.steps:
        reporter.warn("nothing to do: the selection matched no nodes to run.")
    owned = False
    if spark is None and session is not None:
        spark, owned = session.result()
    engine = Engine(p.config.target, spark, project_root=p.config.root, app_name=f"sparkmodels {command}",
                    owns_session=owned, kinds=p.materializations.kinds)
    if defer_to is not None:
        engine.defer = defer_location(defer_to, p)
    # incremental models: --full-refresh, the microbatch window and a retry's failed batches
    engine.full_refresh = options.full_refresh
    engine.event_time = (options.event_time_start, options.event_time_end)
    engine.microbatch_retry = options.microbatch_retry or {}
    try:
        if plan.steps:
            from sparkmodels.execute.python.models import register_udfs

            register_udfs(engine, p.config)  # before any model runs, so SQL can call them by name
        url = engine.ui_url()
        if url and spark is None:
            reporter.line(f"Spark UI: {url}")
        reporter.begin(len(plan), f"Running {len(plan)} node{'s' if len(plan) != 1 else ''} with "
                       f"{p.config.target.threads} thread{'s' if p.config.target.threads != 1 else ''} "
                       f"on target '{p.config.target.name}' (Spark {engine.version()}"
                       f"{', via sparkmodels server' if engine.via_server else ''})")
        hooks = HookRunner(engine, p.manifest, p.config, p.compiler.kinds, emit=emit,
                           log=lambda text, info: reporter.line(text) if info else None)
        # --fail-fast, else dbt_project.yml's `flags: {fail_fast: true}`
        fail_fast = options.fail_fast or bool(p.config.flags.get("fail_fast"))
        runner = Runner(engine, p.manifest, p.config, plan, threads=p.config.target.threads, fail_fast=fail_fast,
                        on_event=emit, materializations=p.materializations,
                        cache=BuildCache(engine, p.manifest, p.config, compiler=p.compiler,
                                         enabled=not options.no_cache, force=options.full_refresh),
                        hooks=hooks)
        # on-run-start before the first node (a failure skips them all); on-run-end after the last,
        # even when nodes failed, with their results (dbt's order)
        failed = hooks.run("on-run-start")
        result = runner.skip_all("skipped because an on-run-start hook failed") if failed else runner.run()
        if not result.interrupted:
            failed = (*failed, *hooks.run("on-run-end", results=result.results))
        if failed:
            result = dataclasses.replace(result, hook_errors=tuple(failed))
    finally:
        reporter.stop()
        engine.stop()
        from sparkmodels.execute.spark.sparklog import log_file, redact_after_run

        redact_after_run(log_file(p.config.target_dir), secrets)
    # target/compiled/ (and manifest.json) again where the SQL that ran differs from the load's: a run-time render, the
    # is_incremental() branch the warehouse chose (dbt writes the SQL it ran)
    ran = {r.unique_id: r.compiled_code for r in result.results
           if r.compiled_code is not None and r.unique_id in shown and r.compiled_code != shown[r.unique_id]}
    if ran:
        write_compiled(p.config.target_dir, p.manifest, ran, secrets=secrets)
        write_manifest(p.config.target_dir, p.manifest, {**compiled, **ran}, secrets=secrets)  # its compiled_code too
    # the target as resolved (the project's default when none was named), so retry replays the same one
    recorded = options.replace(target=p.config.target.name)
    # the invocation_id the run's templates saw (the load's, in manifest.json too): one per invocation
    write_run_results(p.config.target_dir, result, plan, {"command": command, **recorded.to_dict()},
                      secrets=secrets, invocation_id=p.manifest.metadata.get("invocation_id"))
    reporter.finish(result)
    return result


def _count(manifest: Manifest) -> str:
    kinds = {}
    for n in manifest.nodes.values():
        kinds[n.resource_type] = kinds.get(n.resource_type, 0) + 1
    return ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in sorted(kinds.items())) or "nothing"


def _runner(command: str, resource_types: Sequence[str]):
    def run_command(project_dir: str | Path = ".", *, options: RunOptions | None = None, spark=None,
                    reporter: Reporter | None = None, project: Project | None = None, on_event=None,
                    **keywords):
        options = (options or RunOptions()).replace(**keywords)  # keywords override `options`
        session = None
        if spark is None:  # boot the JVM now, while the project loads and the plan is made
            config = (project.config if project is not None
                      else config_for(project_dir, options.target, options.vars, options.threads))
            from sparkmodels.execute.spark.sparklog import log_file

            # the JVM's own output (Java stacks, worker tracebacks) goes to target/sparkmodels.log
            session = SessionStart(config.target, f"sparkmodels {command}", log_file=log_file(config.target_dir))
            project = project or load_project(config=config)
        try:
            return _run(project_dir, options, spark=spark, reporter=reporter, project=project,
                        on_event=on_event, session=session)
        except BaseException:
            if session is not None:
                session.discard()
            raise

    def _run(project_dir, options: RunOptions, *, spark, reporter, project, on_event, session):
        from sparkmodels.select.state import load_state

        p = ensure_project(project_dir, options.target, options.vars, options.threads, project)
        previous = load_state(options.state) if options.state is not None else None
        if options.only is not None:  # retry: exactly these nodes
            plan = build_plan(p.manifest, p.graph, frozenset(u for u in options.only if u in p.manifest.nodes),
                              compiler=p.compiler, warnings=p.manifest.warnings)
        else:
            select, context, more = selection_context(p, options.select, selector=options.selector,
                                                      previous=previous)
            # build runs a relationships test only once both ends are built (dbt's "buildable")
            plan = plan_for(p, select, options.exclude, resource_types,
                            "buildable" if command == "build" else "eager", context=context, warnings=more)
        return execute(p, plan, command=command, options=options, spark=spark, reporter=reporter,
                       on_event=on_event, defer_to=previous if options.defer else None, session=session)

    run_command.__name__ = command
    run_command.__doc__ = (f"`sparkmodels {command}`: run {', '.join(resource_types)} nodes on Spark.\n\n"
                           "Options are a RunOptions (`options=`) and/or its fields as keywords "
                           f"({', '.join(RunOptions.names())}); `spark=` an existing SparkSession, "
                           "`reporter=` a console Reporter (quiet when None), `on_event(kind, **data)` "
                           "every runner event.")
    # help() and IDEs show the option keywords, not **keywords
    run_command.__signature__ = _signature(run_command)
    return run_command


def _signature(fn) -> inspect.Signature:
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    defaults = RunOptions()
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=getattr(defaults, name))
               for name in RunOptions.names()]
    return sig.replace(parameters=params)


run = _runner("run", ("model",))
seed = _runner("seed", ("seed",))
test = _runner("test", ("test",))
build = _runner("build", ("seed", "model", "snapshot", "test"))
snapshot = _runner("snapshot", ("snapshot",))
COMMANDS = {"run": run, "seed": seed, "test": test, "build": build, "snapshot": snapshot}


def retry(project_dir: str | Path = ".", *, target: str | None = None, vars=None, threads: int | None = None,
          spark=None, reporter: Reporter | None = None, on_event=None):
    """`sparkmodels retry`: rerun the nodes that errored, failed or were skipped in the last invocation.

    Reads target/run_results.json and replays its command with its recorded RunOptions (selection,
    target, vars, state, threads, fail-fast, cache options) restricted to those unique_ids; `target`,
    `vars` and `threads` given here override the recorded ones. Returns None when there is nothing
    to retry.
    """
    from sparkmodels.select.state import load_state, retry_targets

    config = config_for(project_dir, target, vars, threads)
    if not (config.target_dir / "run_results.json").exists():
        raise SelectionError(f"nothing to retry: no run_results.json in {config.target_dir}.",
                             hint="Run `sparkmodels run` or `build` first.")
    previous = load_state(config.target_dir, require_manifest=False)
    if previous.results is None:
        raise SelectionError(f"nothing to retry: no run_results.json in {config.target_dir}.",
                             hint="Run `sparkmodels run` or `build` first.")
    command = str(previous.args.get("command") or "")
    if command not in COMMANDS:
        raise SelectionError(f"cannot retry the '{command or '?'}' command recorded in run_results.json.")
    uids = retry_targets(previous)
    if not uids:
        return None
    given = {"target": target, "vars": vars, "threads": threads}
    # A microbatch model that failed some batches reruns only those (recorded in run_results.json).
    failed = {uid: r["adapter_response"]["failed_batches"] for uid, r in (previous.results or {}).items()
              if uid in uids and (r.get("adapter_response") or {}).get("failed_batches")}
    options = RunOptions.from_dict(previous.args).replace(
        only=uids, microbatch_retry=failed or None, **{k: v for k, v in given.items() if v is not None})
    return COMMANDS[command](project_dir, options=options, spark=spark, reporter=reporter, on_event=on_event)
