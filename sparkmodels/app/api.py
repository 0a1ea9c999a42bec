"""The Python API: load, ls, compile, run, seed, test, build, debug, clean. The CLI calls exactly these."""

from __future__ import annotations

import platform
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.app.project import Project, config_for, ensure_project, load_project
from sparkmodels.errors import SelectionError
from sparkmodels.execute.spark.session import SessionStart
from sparkmodels.plan.steps import Plan, build_plan
from sparkmodels.project.config import load_config
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
       resource_types: Sequence[str] = ("model", "seed", "source", "test"), target: str | None = None,
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


def compile(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
            target: str | None = None, vars=None, project: Project | None = None,
            state: str | Path | None = None, selector: str | None = None) -> CompileResult:
    """Write target/compiled/** and target/manifest.json for the selected models (no Spark)."""
    p = ensure_project(project_dir, target, vars, project=project)
    select, context, more = selection_context(p, select, state=state, selector=selector)
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=("model", "test"), context=context)
    compiled = p.compiled(sorted(sel.selected))
    write_compiled(p.config.target_dir, p.manifest, compiled)
    write_manifest(p.config.target_dir, p.manifest, p.compiled(p.manifest.nodes))
    return CompileResult(p, compiled, (*p.manifest.warnings, *more, *sel.warnings))


def plan_for(p: Project, select: Selection, exclude: Selection, resource_types: Sequence[str],
             indirect: str = "eager", context: dict | None = None, warnings: Sequence[str] = ()) -> Plan:
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types, indirect=indirect,
                       context=context)
    return build_plan(p.manifest, p.graph, sel.selected, compiler=p.compiler,
                      warnings=(*p.manifest.warnings, *warnings, *sel.warnings))


def execute(p: Project, plan: Plan, *, command: str, spark=None, reporter: Reporter | None = None,
            fail_fast: bool = False, args: Mapping | None = None, on_event=None, defer_to=None,
            full_refresh: bool = False, use_cache: bool = True, session: SessionStart | None = None,
            incremental: Mapping | None = None):
    """Run a plan on Spark, write artifacts, and return the RunResult.

    `reporter` prints (quiet when None); `on_event(kind, **data)` also receives every runner event.
    `defer_to` (a state.PreviousState) is read for upstream tables not built here; `full_refresh` /
    `use_cache=False` rebuild tables even when their fingerprint is unchanged. `session`: a
    SessionStart already booting the JVM (used when `spark` is None).
    """
    from sparkmodels.execute.cache import BuildCache
    from sparkmodels.execute.engine import Engine
    from sparkmodels.execute.runner import Runner

    reporter = reporter or Reporter(quiet=True)
    listeners = [reporter] if on_event is None else [reporter, on_event]

    def emit(kind, **data):
        for listener in listeners:
            listener(kind, **data)

    reporter.warnings(plan.warnings)
    counts = _count(p.manifest)
    reporter.line(f"Found {counts}")
    write_manifest(p.config.target_dir, p.manifest, p.compiled(p.manifest.nodes, full_refresh=full_refresh))
    write_compiled(p.config.target_dir, p.manifest, {s.unique_id: p.shown_sql(s.unique_id, full_refresh=full_refresh)
                                                      for s in plan.steps
                                                      if s.node.resource_type in ("model", "test")})
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
    incremental = dict(incremental or {})
    engine.full_refresh = full_refresh
    engine.event_time = (incremental.get("event_time_start"), incremental.get("event_time_end"))
    engine.microbatch_retry = incremental.get("microbatch_retry") or {}
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
        runner = Runner(engine, p.manifest, p.config, plan, threads=p.config.target.threads,
                        on_event=emit, fail_fast=fail_fast, materializations=p.materializations,
                        cache=BuildCache(engine, p.manifest, p.config, compiler=p.compiler,
                                         enabled=use_cache, force=full_refresh))
        result = runner.run()
    finally:
        reporter.stop()
        engine.stop()
    write_run_results(p.config.target_dir, result, plan, {"command": command, **dict(args or {})})
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
    def run_command(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
                    target: str | None = None, vars=None, threads: int | None = None,
                    fail_fast: bool = False, spark=None, reporter: Reporter | None = None,
                    project: Project | None = None, on_event=None, state: str | Path | None = None,
                    defer: bool = False, selector: str | None = None, full_refresh: bool = False,
                    no_cache: bool = False, only: Sequence[str] | None = None,
                    event_time_start: str | None = None, event_time_end: str | None = None,
                    microbatch_retry: Mapping | None = None):
        incremental = {"event_time_start": event_time_start, "event_time_end": event_time_end,
                       "microbatch_retry": microbatch_retry}
        session = None
        if spark is None:  # boot the JVM now, while the project loads and the plan is made
            config = project.config if project is not None else config_for(project_dir, target, vars, threads)
            session = SessionStart(config.target, f"sparkmodels {command}")
            project = project or load_project(config=config)
        try:
            return _run(project_dir, select=select, exclude=exclude, target=target, vars=vars, threads=threads,
                        fail_fast=fail_fast, spark=spark, reporter=reporter, project=project, on_event=on_event,
                        state=state, defer=defer, selector=selector, full_refresh=full_refresh,
                        no_cache=no_cache, only=only, session=session, incremental=incremental)
        except BaseException:
            if session is not None:
                session.discard()
            raise

    def _run(project_dir, *, select, exclude, target, vars, threads, fail_fast, spark, reporter, project,
             on_event, state, defer, selector, full_refresh, no_cache, only, session, incremental):
        from sparkmodels.select.state import load_state

        p = ensure_project(project_dir, target, vars, threads, project)
        previous = load_state(state) if state is not None else None
        if defer and previous is None:
            raise SelectionError("--defer needs --state <dir> (a previous run's target/ folder).")
        args = {"select": select, "exclude": exclude, "selector": selector, "target": p.config.target.name,
                "threads": threads, "vars": vars if isinstance(vars, str) else dict(vars or {}),
                "state": str(state) if state is not None else None, "defer": defer,
                "full_refresh": full_refresh, "no_cache": no_cache,
                "event_time_start": incremental["event_time_start"], "event_time_end": incremental["event_time_end"]}
        if only is not None:  # retry: exactly these nodes
            plan = build_plan(p.manifest, p.graph, frozenset(u for u in only if u in p.manifest.nodes),
                              compiler=p.compiler, warnings=p.manifest.warnings)
        else:
            select, context, more = selection_context(p, select, selector=selector, previous=previous)
            # build runs a relationships test only once both ends are built (dbt's "buildable")
            plan = plan_for(p, select, exclude, resource_types, "buildable" if command == "build" else "eager",
                            context=context, warnings=more)
        return execute(p, plan, command=command, spark=spark, reporter=reporter, fail_fast=fail_fast, args=args,
                       on_event=on_event, defer_to=previous if defer else None, full_refresh=full_refresh,
                       use_cache=not no_cache, session=session, incremental=incremental)

    run_command.__name__ = command
    run_command.__doc__ = f"`sparkmodels {command}`: run {', '.join(resource_types)} nodes on Spark."
    return run_command


run = _runner("run", ("model",))
seed = _runner("seed", ("seed",))
test = _runner("test", ("test",))
build = _runner("build", ("seed", "model", "test"))
COMMANDS = {"run": run, "seed": seed, "test": test, "build": build}


def retry(project_dir: str | Path = ".", *, spark=None, reporter: Reporter | None = None, threads: int | None = None,
          on_event=None):
    """`sparkmodels retry`: rerun the nodes that errored, failed or were skipped in the last invocation.

    Reads target/run_results.json; re-invokes its command (with its target, vars, state and cache
    options) restricted to those unique_ids. Returns None when there is nothing to retry.
    """
    from sparkmodels.select.state import load_state, retry_targets

    config = load_config(project_dir)
    if not (config.target_dir / "run_results.json").exists():
        raise SelectionError(f"nothing to retry: no run_results.json in {config.target_dir}.",
                             hint="Run `sparkmodels run` or `build` first.")
    previous = load_state(config.target_dir, require_manifest=False)
    if previous.results is None:
        raise SelectionError(f"nothing to retry: no run_results.json in {config.target_dir}.",
                             hint="Run `sparkmodels run` or `build` first.")
    args = dict(previous.args)
    command = str(args.get("command") or "")
    if command not in COMMANDS:
        raise SelectionError(f"cannot retry the '{command or '?'}' command recorded in run_results.json.")
    uids = retry_targets(previous)
    if not uids:
        return None
    # A microbatch model that failed some batches reruns only those (recorded in run_results.json).
    failed_batches = {uid: r["adapter_response"]["failed_batches"] for uid, r in (previous.results or {}).items()
                      if uid in uids and (r.get("adapter_response") or {}).get("failed_batches")}
    return COMMANDS[command](
        project_dir, target=args.get("target"), vars=args.get("vars") or None,
        threads=threads if threads is not None else args.get("threads"), spark=spark, reporter=reporter,
        on_event=on_event, state=args.get("state"), defer=bool(args.get("defer")),
        full_refresh=bool(args.get("full_refresh")), no_cache=bool(args.get("no_cache")), only=uids,
        **({"event_time_start": args.get("event_time_start"), "event_time_end": args.get("event_time_end"),
            "microbatch_retry": failed_batches} if command in ("run", "build") else {}),
    )


def clean(project_dir: str | Path = ".") -> list[Path]:
    """Delete target-path (and clean-targets from project.yml); never the warehouse."""
    config = load_config(project_dir)
    from sparkmodels.project.yamlio import load_yaml

    raw = load_yaml(config.root / config.config_file)
    extra = raw.get("clean-targets") or [] if isinstance(raw, Mapping) else []
    removed = []
    for rel in [config.target_path, *[str(x) for x in extra]]:
        path = (config.root / rel).resolve()
        if path == config.root or config.root not in path.parents:
            continue  # never delete the project itself or anything outside it
        if path.exists():
            shutil.rmtree(path)
            removed.append(path)
    return removed


def debug(project_dir: str | Path = ".", *, target: str | None = None, start_spark: bool = True) -> dict:
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
        config = load_config(project_dir, target=target)
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


def server_start(project_dir: str | Path = ".", *, target: str | None = None):
    """Start the warm Spark server of a target (server.py): (Server, False if it was already running)."""
    from sparkmodels.execute.spark import server
    from sparkmodels.execute.spark.launch import check_java, driver_java_options

    config = load_config(project_dir, target=target)
    check_java()
    return server.start(config.target, config.root, driver_java_options(config.target, cds="map"))


def server_stop(project_dir: str | Path = ".", *, target: str | None = None, every: bool = False) -> list:
    """Stop the server of a target (every=True: all servers of this user); returns those stopped."""
    from sparkmodels.execute.spark import server

    if every:
        found = server.servers()
    else:
        mine = server.find(load_config(project_dir, target=target).target)
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
             if n.name == name and n.resource_type in ("model", "seed") and p.compiler.kinds.of(n).holds_data]
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
        _write_json(catalog_path, cat)
    write_manifest(target_dir, p.manifest, compiled, column_lineage=lineage_data)
    data = site_data(p.manifest, compiled, catalog=cat, column_lineage=lineage_data,
                     run_results=run_results_for(target_dir))
    site = write_site(target_dir / "docs", data)
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
