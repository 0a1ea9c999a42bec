"""The Python API: load, ls, compile, run, seed, test, build, debug, clean. The CLI calls exactly these."""

from __future__ import annotations

import platform
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .artifacts import write_compiled, write_manifest, write_run_results
from .config import ProjectConfig, load_config, parse_cli_vars
from .graph import Graph
from .loader import load_manifest
from .manifest import Manifest, Node
from .plan import Compiler, Plan, build_plan
from .reporting import Reporter
from .selector import select as select_nodes

Selection = Sequence[str] | str | None


@dataclass(frozen=True)
class Project:
    """A loaded project: config, manifest, graph and the compiler over them."""

    config: ProjectConfig
    manifest: Manifest
    graph: Graph
    compiler: Compiler

    def compiled(self, uids) -> dict[str, str]:
        return {uid: self.compiler.compile(uid).sql for uid in uids
                if self.manifest.nodes[uid].resource_type in ("model", "test")}


def load_project(project_dir: str | Path = ".", *, target: str | None = None,
                 vars: Mapping | str | None = None, threads: int | None = None) -> Project:
    """Load a project folder into config, manifest and graph (no Spark)."""
    cli_vars = parse_cli_vars(vars) if isinstance(vars, str) else dict(vars or {})
    config = load_config(project_dir, target=target, cli_vars=cli_vars, threads=threads)
    manifest = load_manifest(config)
    return Project(config, manifest, Graph(manifest), Compiler(manifest))


def _project(project_dir, target, vars, threads=None, project: Project | None = None) -> Project:
    return project or load_project(project_dir, target=target, vars=vars, threads=threads)


def ls(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
       resource_types: Sequence[str] = ("model", "seed", "source", "test"), target: str | None = None,
       vars=None, project: Project | None = None) -> tuple[list[Node], tuple[str, ...]]:
    """Selected nodes in graph order, and selection warnings."""
    p = _project(project_dir, target, vars, project=project)
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types)
    order = [uid for uid in p.graph.topo_order() if uid in sel.selected]
    return [p.manifest.nodes[uid] for uid in order], (*p.manifest.warnings, *sel.warnings)


@dataclass(frozen=True)
class CompileResult:
    project: Project
    compiled: Mapping[str, str]
    warnings: tuple[str, ...]


def compile(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
            target: str | None = None, vars=None, project: Project | None = None) -> CompileResult:
    """Write target/compiled/** and target/manifest.json for the selected models (no Spark)."""
    p = _project(project_dir, target, vars, project=project)
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=("model", "test"))
    compiled = p.compiled(sorted(sel.selected))
    write_compiled(p.config.target_dir, p.manifest, compiled)
    write_manifest(p.config.target_dir, p.manifest, p.compiled(p.manifest.nodes))
    return CompileResult(p, compiled, (*p.manifest.warnings, *sel.warnings))


def plan_for(p: Project, select: Selection, exclude: Selection, resource_types: Sequence[str],
             indirect: str = "eager") -> Plan:
    sel = select_nodes(p.manifest, p.graph, select, exclude, resource_types=resource_types, indirect=indirect)
    return build_plan(p.manifest, p.graph, sel.selected, compiler=p.compiler,
                      warnings=(*p.manifest.warnings, *sel.warnings))


def execute(p: Project, plan: Plan, *, command: str, spark=None, reporter: Reporter | None = None,
            fail_fast: bool = False, args: Mapping | None = None, on_event=None):
    """Run a plan on Spark, write artifacts, and return the RunResult.

    `reporter` prints (quiet when None); `on_event(kind, **data)` also receives every runner event.
    """
    from .engine import Engine
    from .runner import Runner

    reporter = reporter or Reporter(quiet=True)
    listeners = [reporter] if on_event is None else [reporter, on_event]

    def emit(kind, **data):
        for listener in listeners:
            listener(kind, **data)

    reporter.warnings(plan.warnings)
    counts = _count(p.manifest)
    reporter.line(f"Found {counts}")
    write_manifest(p.config.target_dir, p.manifest, p.compiled(p.manifest.nodes))
    write_compiled(p.config.target_dir, p.manifest, {s.unique_id: s.compiled.sql for s in plan.steps
                                                      if s.node.resource_type in ("model", "test")})
    if not plan.steps:
        reporter.warn("nothing to do: the selection matched no nodes to run.")
    engine = Engine(p.config.target, spark, project_root=p.config.root, app_name=f"sparkmodels {command}")
    try:
        if plan.steps:
            from .pymodels import register_udfs

            register_udfs(engine, p.config)  # before any model runs, so SQL can call them by name
        url = engine.ui_url()
        if url and spark is None:
            reporter.line(f"Spark UI: {url}")
        reporter.begin(len(plan), f"Running {len(plan)} node{'s' if len(plan) != 1 else ''} with "
                       f"{p.config.target.threads} thread{'s' if p.config.target.threads != 1 else ''} "
                       f"on target '{p.config.target.name}' (Spark {engine.version()})")
        runner = Runner(engine, p.manifest, p.config, plan, threads=p.config.target.threads,
                        on_event=emit, fail_fast=fail_fast)
        result = runner.run()
    finally:
        reporter.stop()
        engine.stop()
    write_run_results(p.config.target_dir, result, plan, {"command": command, **dict(args or {})})
    reporter.finish(result)
    return result


def _count(manifest: Manifest) -> str:
    kinds = {}
    for n in manifest.nodes.values():
        kinds[n.resource_type] = kinds.get(n.resource_type, 0) + 1
    return ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in sorted(kinds.items())) or "nothing"


def _runner(command: str, resource_types: Sequence[str]):
    def run_command(project_dir: str | Path = ".", *, select: Selection = None, exclude: Selection = None,
                    target: str | None = None, vars=None, threads: int | None = None,
                    fail_fast: bool = False, spark=None, reporter: Reporter | None = None,
                    project: Project | None = None, on_event=None):
        p = _project(project_dir, target, vars, threads, project)
        # build runs a relationships test only once both ends are built (dbt's "buildable")
        plan = plan_for(p, select, exclude, resource_types, "buildable" if command == "build" else "eager")
        args = {"select": select, "exclude": exclude, "target": p.config.target.name, "threads": threads,
                "vars": vars if isinstance(vars, str) else dict(vars or {})}
        return execute(p, plan, command=command, spark=spark, reporter=reporter, fail_fast=fail_fast, args=args,
                       on_event=on_event)

    run_command.__name__ = command
    run_command.__doc__ = f"`sparkmodels {command}`: run {', '.join(resource_types)} nodes on Spark."
    return run_command


run = _runner("run", ("model",))
seed = _runner("seed", ("seed",))
test = _runner("test", ("test",))
build = _runner("build", ("seed", "model", "test"))


def clean(project_dir: str | Path = ".") -> list[Path]:
    """Delete target-path (and clean-targets from project.yml); never the warehouse."""
    config = load_config(project_dir)
    from .yamlio import load_yaml

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
    from .engine import java_version

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
        from .engine import Engine

        try:
            engine = Engine(config.target, project_root=config.root, app_name="sparkmodels debug")
            try:
                info["spark"] = f"started, Spark {engine.version()}"
                info["spark_ok"] = True
                if not engine.is_connect:
                    sc = engine.spark.sparkContext
                    info["master"] = sc.master
                    info["default_parallelism"] = sc.defaultParallelism
            finally:
                engine.stop()
        except Exception as exc:  # noqa: BLE001
            info["spark"] = f"failed: {exc}"
            info["spark_ok"] = False
    return info
