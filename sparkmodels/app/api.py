"""The Python API: every command the CLI calls, by name (load, ls, compile, run, seed, test, build, show, docs...).

The small commands are here (ls, compile, deps, clean, debug, the servers); the others live with
what they do and are re-exported: running.py (run, seed, test, build, snapshot, retry), show.py,
docs.py (docs generate, lineage), operations.py (run-operation, table-path), selection.py.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.app.docs import DocsResult, docs_generate, lineage
from sparkmodels.app.operations import run_operation, table_path
from sparkmodels.app.project import Project, config_for, ensure_project, load_project
from sparkmodels.app.running import COMMANDS, build, execute, retry, run, seed, snapshot, test
from sparkmodels.app.selection import Selection, plan_for, selection_context
from sparkmodels.app.show import show
from sparkmodels.project.manifest import Node
from sparkmodels.report.artifacts import write_compiled, write_manifest
from sparkmodels.select.selector import select as select_nodes

__all__ = ["COMMANDS", "CompileResult", "DocsResult", "Project", "Selection", "build", "clean", "compile", "debug",
           "deps", "docs_generate", "execute", "lineage", "load_project", "ls", "plan_for", "retry", "run",
           "run_operation", "seed", "selection_context", "serve_jdbc", "server_start", "server_stop", "show",
           "snapshot", "table_path", "test"]


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
                           and p.manifest.nodes[uid].resource_type in ("model", "snapshot", "analysis")))
    if runtime:
        from sparkmodels.execute.runtime.compile import compile_at_run_time

        compiled.update(compile_at_run_time(p.manifest, p.config, p.compiler, runtime, spark=spark))
    write_compiled(p.config.target_dir, p.manifest, compiled, secrets=p.secrets)
    write_manifest(p.config.target_dir, p.manifest, {**p.compiled(p.manifest.nodes), **compiled}, secrets=p.secrets)
    return CompileResult(p, compiled, (*p.manifest.warnings, *more, *sel.warnings),
                         tuple(p.manifest.nodes[u].name for u in runtime))


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


def serve_jdbc(project_dir: str | Path = ".", *, target: str | None = None, vars=None, host: str = "127.0.0.1",
               port: int = 10000):
    """`sparkmodels serve-jdbc`: Spark's Thrift JDBC/ODBC server over the target's metastore
    (`catalog: hive`); returns the running execute.spark.thrift.JdbcServer (stop: server.spark.stop())."""
    from sparkmodels.execute.spark.thrift import start_jdbc_server

    config = config_for(project_dir, target, vars, None)
    return start_jdbc_server(config.target, host=host, port=port)
