"""The Python API: load, ls, compile, run, seed, test, build, debug, clean. The CLI calls exactly these."""

from __future__ import annotations

import dataclasses
import inspect
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sparkmodels.app.project import Project, config_for, ensure_project, load_project
from sparkmodels.errors import SelectionError, UsageError
from sparkmodels.execute.spark.session import SessionStart
from sparkmodels.plan.options import RunOptions
from sparkmodels.plan.steps import Plan, build_plan
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.report.artifacts import write_compiled, write_manifest, write_run_results
from sparkmodels.report.console import Reporter
from sparkmodels.select.selector import select as select_nodes

Selection = Sequence[str] | str | None


def selection_context(p: Project, select: Selection, *, state: str | Path | None = None,
                      selector: str | None = None, previous=None) -> tuple[Selection, dict, tuple[str, ...]]:
    """--state and --selector as selector-method context: (select, context, warnings)."""
    from sparkmodels.select.selectors_yaml import load_selectors, resolve_selector, selector_matcher
    from sparkmodels.select.state import load_state, selector_context

    if previous is None and state is not None:
        previous = load_state(state)
    context = selector_context(p.manifest, previous)
    selectors = load_selectors(p.config.root)
    warnings: tuple[str, ...] = ()
    if selector is None and not select and selectors.default:
        selector = selectors.default  # dbt: a selector marked `default: true` applies without --select
    if selector is not None:
        if select:
            raise SelectionError("use either --select or --selector, not both.")
        _, warnings = resolve_selector(selectors, selector, p.manifest, p.graph, context)
        context["selector"] = selector_matcher(selectors, p.manifest, p.graph, context)
        select = [f"selector:{selector}"]
    elif selectors.definitions:
        context["selector"] = selector_matcher(selectors, p.manifest, p.graph, context)
    return select, context, warnings


def ls(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
       resource_types: Sequence[str] = ("model", "seed", "snapshot", "source", "test"), target: str | None = None,
       vars=None, project: Project | None = None, state: str | Path | None = None,
       selector: str | None = None) -> tuple[list[Node], tuple[str, ...]]:
    """Selected nodes in graph order, and selection warnings."""
    p = ensure_project(project_dir, target, vars, project=project)
    select, context, more = selection_context(p, select, state=state, selector=selector)
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types, context=context)
    order = [uid for uid in p.graph.topo_order() if uid in sel.selected]
    return [p.manifest.nodes[uid] for uid in order], (*p.manifest.warnings, *more, *sel.warnings)


@dataclass(frozen=True)
class CompileResult:
    project: Project
    compiled: Mapping[str, str]
    warnings: tuple[str, ...]
    runtime: tuple[str, ...] = ()  # models rendered in a Spark session (they introspect the warehouse)


def compile(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
            target: str | None = None, vars=None, project: Project | None = None,
            state: str | Path | None = None, selector: str | None = None, spark=None) -> CompileResult:
    """Write target/compiled/** and target/manifest.json for the selected models. No Spark, unless a
    selected model needs run-time rendering (it introspects: run_query, adapter..., as dbt's compile
    connects to the warehouse); those are rendered in a session (`spark`, else one started)."""
    p = ensure_project(project_dir, target, vars, project=project)
    select, context, more = selection_context(p, select, state=state, selector=selector)
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=("model", "snapshot", "test", "analysis"),
                       context=context)
    compiled = p.compiled(sorted(sel.selected))
    runtime = tuple(sorted(uid for uid in sel.selected if p.manifest.nodes[uid].runtime_render
                           and p.manifest.nodes[uid].resource_type == "model"))
    if runtime:
        from sparkmodels.execute.runtime.compile import compile_at_run_time

        compiled.update(compile_at_run_time(p.manifest, p.config, p.compiler, runtime, spark=spark))
    write_compiled(p.config.target_dir, p.manifest, compiled, secrets=p.secrets)
    write_manifest(p.config.target_dir, p.manifest, {**p.compiled(p.manifest.nodes), **compiled}, secrets=p.secrets)
    return CompileResult(p, compiled, (*p.manifest.warnings, *more, *sel.warnings),
                         tuple(p.manifest.nodes[u].name for u in runtime))


def plan_for(p: Project, select: Selection, exclude: Selection, resource_types: Sequence[str],
             indirect: str = "eager", context: dict | None = None, warnings: Sequence[str] = ()) -> Plan:
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types, indirect=indirect,
                       context=context)
    return build_plan(p.manifest, p.graph, sel.selected, compiler=p.compiler,
                      warnings=(*p.manifest.warnings, *warnings, *sel.warnings))


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
    write_manifest(p.config.target_dir, p.manifest, p.compiled(p.manifest.nodes, full_refresh=options.full_refresh),
                   secrets=secrets)
    write_compiled(p.config.target_dir, p.manifest, {s.unique_id: p.shown_sql(s.unique_id, full_refresh=options.full_refresh)
                                                      for s in plan.steps
                                                      if s.node.resource_type in ("model", "snapshot", "test")},
                   secrets=secrets)
    if not plan.steps:
        reporter.warn("nothing to do: the selection matched no nodes to run.")
    owned = False
    if spark is None and session is not None:
        spark, owned = session.result()
    engine = Engine(p.config.target, spark, project_root=p.config.root, app_name=f"sparkmodels {command}",
                    owns_session=owned, kinds=p.materializations.kinds)
    if defer_to is not None:
        engine.defer = _defer_location(defer_to, p)
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
    # the target as resolved (the project's default when none was named), so retry replays the same one
    recorded = options.replace(target=p.config.target.name)
    write_run_results(p.config.target_dir, result, plan, {"command": command, **recorded.to_dict()},
                      secrets=secrets)
    reporter.finish(result)
    return result


def _defer_location(previous, p: Project):
    from sparkmodels.execute.storage import open_warehouse

    if not previous.warehouse:
        raise SelectionError(f"--defer: the manifest in '{previous.path}' does not record its warehouse.",
                             hint="Re-run the production job with this version of sparkmodels to refresh it.")
    warehouse = open_warehouse(previous.warehouse, previous.warehouse_storage, target=f"--state {previous.path}")
    return warehouse, previous.schema or p.config.target.schema


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


def deps(project_dir: str | Path = ".", *, hub_url: str | None = None, upgrade: bool = False) -> list[dict]:
    """Install the project's packages (packages.yml / dependencies.yml); returns package-lock.yml's entries."""
    from sparkmodels.project.config import find_project_file
    from sparkmodels.project.packages import install
    from sparkmodels.project.yamlio import load_yaml

    root = Path(project_dir).resolve()
    data = load_yaml(find_project_file(root), "dbt_project.yml") or {}
    return install(root, str(data.get("packages-install-path") or "dbt_packages"), hub_url=hub_url, upgrade=upgrade)


def clean(project_dir: str | Path = ".", *, target: str | None = None, vars=None) -> list[Path]:
    """Delete target-path (and clean-targets from project.yml); never the warehouse (see app/clean.py)."""
    from sparkmodels.app.clean import clean as clean_project

    return clean_project(project_dir, config_for(project_dir, target, vars, None))


def debug(project_dir: str | Path = ".", *, target: str | None = None, vars=None, start_spark: bool = True) -> dict:
    """Versions, the target, and whether Spark starts; never raises for environment problems."""
    from sparkmodels.execute.spark.launch import java_version

    info: dict = {"python": platform.python_version()}
    try:
        import pyspark

        info["pyspark"] = pyspark.__version__
    except ImportError:
        info["pyspark"] = "not installed"
    major, where = java_version()
    info["java"] = f"{major} ({where})" if major else f"missing: {where}"
    try:
        config = config_for(project_dir, target, vars, None)
        info["project"] = f"{config.name} ({config.root / config.config_file})"
        info["target"] = config.target.describe()
    except Exception as exc:  # noqa: BLE001 - debug reports, it does not fail
        info["project"] = f"error: {exc}"
        return info
    if start_spark:
        from sparkmodels.execute.engine import Engine

        try:
            engine = Engine(config.target, project_root=config.root, app_name="sparkmodels debug")
            try:
                info["spark"] = f"{'connected' if engine.is_connect else 'started'}, Spark {engine.version()}"
                info["spark_ok"] = True
                for key, value in engine.cluster_info().items():
                    info[key] = value
            finally:
                engine.stop()
        except Exception as exc:  # noqa: BLE001
            info["spark"] = f"failed: {exc}"
            info["spark_ok"] = False
    from sparkmodels.report.redact import redact

    return redact(info)


def server_start(project_dir: str | Path = ".", *, target: str | None = None, vars=None,
                 jdbc_port: int | None = None):
    """Start the warm Spark server of a target (server.py): (Server, False if it was already running).
    jdbc_port: the same JVM also serves the target's metastore over JDBC (catalog: hive)."""
    from sparkmodels.execute.spark import server
    from sparkmodels.execute.spark.launch import check_java, driver_java_options

    config = config_for(project_dir, target, vars, None)
    check_java()
    return server.start(config.target, config.root, driver_java_options(config.target, cds="map"),
                        jdbc_port=jdbc_port)


def server_stop(project_dir: str | Path = ".", *, target: str | None = None, vars=None,
                every: bool = False) -> list:
    """Stop the server of a target (every=True: all servers of this user); returns those stopped."""
    from sparkmodels.execute.spark import server

    if every:
        found = server.servers()
    else:
        mine = server.find(config_for(project_dir, target, vars, None).target)
        found = [mine] if mine is not None else []
    for s in found:
        server.stop(s)
    return found


def table_path(project_dir: str | Path = ".", name: str = "", *, target: str | None = None, vars=None,
               spark=None, project: Project | None = None) -> str | None:
    """Where a table's current data is for readers outside sparkmodels, or None if it was never built:
    the stable `<schema>/<model>` link of a local warehouse (no Spark), or, with Hadoop storage, the
    version folder its newest pointer names (starts/attaches Spark: the FileSystem is reached via the JVM)."""
    from sparkmodels.execute.storage import open_warehouse
    from sparkmodels.project.config import schema_for

    p = ensure_project(project_dir, target, vars, project=project)
    nodes = [n for n in p.manifest.nodes.values()
             if n.name == name and n.resource_type in ("model", "seed", "snapshot") and p.compiler.kinds.of(n).holds_data]
    if not nodes:
        raise SelectionError(f"no table or seed named '{name}' in the project (views and ephemerals hold no data).")
    node, t = nodes[0], p.config.target
    schema = schema_for(p.config, node.config)
    storage = open_warehouse(t.warehouse, t.warehouse_storage, remote=t.remote, target=t.name)
    if storage.kind == "local":
        loc = storage.table(schema, node.name)
        return str(loc.link) if loc.current() is not None else None
    from sparkmodels.execute.engine import Engine

    engine = Engine(t, spark, project_root=p.config.root, app_name="sparkmodels table-path",
                    kinds=p.compiler.kinds)
    try:
        current = engine.location(node, schema).current()
        return None if current is None else str(current)
    finally:
        engine.stop()


# -- docs and lineage ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DocsResult:
    project: Project
    site: Path  # target/docs/index.html
    catalog_path: Path | None
    catalog: Mapping | None
    column_lineage: Mapping[str, Mapping]


def docs_generate(project_dir: str | Path = ".", *, target: str | None = None, vars=None, catalog: bool = True,
                  stats: bool = False, spark=None, project: Project | None = None) -> DocsResult:
    """Write target/catalog.json (Spark schemas; skipped with catalog=False), manifest.json and target/docs/."""
    from sparkmodels.report.artifacts import _write_json
    from sparkmodels.report.docs.site import run_results_for, site_data, write_site
    from sparkmodels.report.lineage.columns import project_column_lineage
    from sparkmodels.report.redact import redact

    p = ensure_project(project_dir, target, vars, project=project)
    compiled = p.compiled(p.manifest.nodes)
    cat, py_lineage, known = None, {}, None
    if catalog:
        from sparkmodels.report.docs.catalog import build_catalog, known_columns

        cat, py_lineage = build_catalog(p, spark=spark, stats=stats)
        known = known_columns(cat)
    by_model = project_column_lineage(p.manifest, compiled, known_columns=known, python_lineage=py_lineage,
                                     order=p.graph.topo_order(), kinds=p.compiler.kinds)
    lineage_data = {uid: ml.to_dict() for uid, ml in by_model.items()}
    target_dir = p.config.target_dir
    catalog_path = None
    if cat is not None:
        cat = {**cat, "column_lineage": lineage_data}
        catalog_path = target_dir / "catalog.json"
        _write_json(catalog_path, cat, p.secrets)
    write_manifest(target_dir, p.manifest, compiled, column_lineage=lineage_data, secrets=p.secrets)
    data = site_data(p.manifest, compiled, catalog=cat, column_lineage=lineage_data,
                     run_results=run_results_for(target_dir))
    site = write_site(target_dir / "docs", redact(data, p.secrets))  # data.js: the compiled SQL, vars...
    return DocsResult(p, site, catalog_path, cat, lineage_data)


def lineage(project_dir: str | Path = ".", node: str = "", *, upstream: bool = True, depth: int | None = None,
            target: str | None = None, vars=None, project: Project | None = None) -> dict:
    """Model- or column-level lineage of `model[.column]` as a tree dict (no Spark).

    Column edges come from the compiled SQL; target/catalog.json, when present, adds Spark's schemas
    and the lineage of Python models.
    """
    from sparkmodels.report.lineage.tree import lineage_tree

    return lineage_tree(ensure_project(project_dir, target, vars, project=project), node, upstream=upstream,
                        depth=depth)


# -- show ----------------------------------------------------------------------------------------
def show(project_dir: str | Path = ".", *, inline: str | None = None, limit: int | None = 5,
         options: RunOptions | None = None, spark=None, project: Project | None = None, **keywords):
    """`sparkmodels show`: the first `limit` rows (None or a negative number: all) of the selected
    models, or of an `inline` query (Jinja with ref()/source() and macros), as app.show.Preview values.

    `options` (and its fields as keywords) give select/exclude/selector, target, vars and
    state/defer (unbuilt tables read from the state's warehouse). Upstream views are built in the
    session on the fly; stored tables are read as they are, never rebuilt (app/show.py).
    """
    from sparkmodels.app.show import SHOWABLE, Previewer
    from sparkmodels.execute.engine import Engine
    from sparkmodels.plan.compiler import Compiler
    from sparkmodels.project.loader import inline_node
    from sparkmodels.select.state import load_state

    options = (options or RunOptions()).replace(**keywords)
    if (inline is None) == (not (options.select or options.selector)):
        raise UsageError("show takes either --select MODEL or --inline 'select ...' (one of them).")
    limit = None if limit is None or limit < 0 else int(limit)
    p = ensure_project(project_dir, options.target, options.vars, project=project)
    previous = load_state(options.state) if options.state is not None else None
    if inline is not None:
        node = inline_node(p.config, p.manifest, inline)
        manifest = Manifest(p.manifest.project_name, MappingProxyType({**p.manifest.nodes, node.unique_id: node}),
                            p.manifest.macros, p.manifest.metadata, p.manifest.warnings)
        compiler = Compiler(manifest, p.compiler.kinds)
        todo = [(node, compiler.compile(node.unique_id))]
    else:
        select, context, _ = selection_context(p, options.select, selector=options.selector, previous=previous)
        sel = select_nodes(p.manifest, p.graph, select, options.exclude, resource_types=SHOWABLE, context=context)
        if not sel.selected:
            raise SelectionError(f"show: the selection {' '.join(options.select or (options.selector or '',))!r} "
                                 "matches no model, seed, snapshot or analysis." + "".join(f" {w}" for w in sel.warnings))
        manifest, compiler = p.manifest, p.compiler
        order = [uid for uid in p.graph.topo_order() if uid in sel.selected]
        todo = []
        for uid in order:
            shown = p.shown_sql(uid)  # an incremental model: the branch its table's state implies
            compiled = compiler.compile(uid)
            if shown != compiled.sql:
                compiled = compiled.incremental or compiled
            todo.append((manifest.nodes[uid], compiled))
    target = p.config.target
    engine = Engine(target, spark, project_root=p.config.root, app_name="sparkmodels show", kinds=compiler.kinds)
    if options.defer and previous is not None:
        engine.defer = _defer_location(previous, p)
    try:
        from sparkmodels.execute.python.models import register_udfs

        register_udfs(engine, p.config)  # SQL may call the project's UDFs by name
        previewer = Previewer(engine, manifest, p.config, compiler)
        return tuple(previewer.preview(node, compiled, limit) for node, compiled in todo)
    finally:
        engine.stop()


# -- run-operation -------------------------------------------------------------------------------
def run_operation(project_dir: str | Path = ".", macro: str = "", *, args: Mapping | str | None = None,
                  target: str | None = None, vars=None, spark=None, project: Project | None = None,
                  log=None):
    """`sparkmodels run-operation`: call a macro (`name` or `package.name`) with `args` (a mapping or
    YAML text) as keywords, in a session with the run-time context (run_query...); returns an
    execute.operations.OperationResult. `log(text, info)` receives the macro's log() lines as they come."""
    from sparkmodels.execute.engine import Engine
    from sparkmodels.execute.operations import run_operation as call_macro
    from sparkmodels.project.yamlio import parse_yaml

    if isinstance(args, str):
        args = parse_yaml(args, "--args") if args.strip() else {}
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise UsageError("--args must be a YAML mapping of the macro's arguments, e.g. --args '{n: 3}'.")
    p = ensure_project(project_dir, target, vars, project=project)
    engine = Engine(p.config.target, spark, project_root=p.config.root, app_name="sparkmodels run-operation",
                    kinds=p.compiler.kinds)
    try:
        from sparkmodels.execute.python.models import register_udfs

        register_udfs(engine, p.config)
        return call_macro(engine, p.manifest, p.config, p.compiler.kinds, macro, dict(args), log=log)
    finally:
        engine.stop()


def serve_jdbc(project_dir: str | Path = ".", *, target: str | None = None, vars=None, host: str = "127.0.0.1",
               port: int = 10000):
    """`sparkmodels serve-jdbc`: Spark's Thrift JDBC/ODBC server over the target's metastore
    (`catalog: hive`); returns the running execute.spark.thrift.JdbcServer (stop: server.spark.stop())."""
    from sparkmodels.execute.spark.thrift import start_jdbc_server

    config = config_for(project_dir, target, vars, None)
    return start_jdbc_server(config.target, host=host, port=port)
