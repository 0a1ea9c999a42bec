"""One-shot commands in a Spark session without a plan: `run-operation` (a macro with the run-time context) and `table-path`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sparkmodels.app.project import Project, ensure_project
from sparkmodels.errors import SelectionError, UsageError


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
