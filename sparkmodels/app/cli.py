"""The command line: options -> one API call -> exit code. The only module that imports click."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from functools import wraps

import click

from sparkmodels.errors import CompilationError, ExecutionError, SparkModelsError
from sparkmodels.plan.options import RunOptions
from sparkmodels.version import __version__

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True)
class Common:
    """The options every command takes: where the project is, its target and vars, tracebacks or not."""

    project_dir: str
    target: str | None
    vars: str | None
    debug: bool


def _redacted(text: str, vars_: str | None) -> str:
    """text with secret env var values and the values of secret-named --vars masked."""
    from sparkmodels.report.redact import redact_text, secret_values

    cli_vars = None
    if vars_:
        from sparkmodels.project.config import parse_cli_vars

        try:
            cli_vars = parse_cli_vars(vars_)
        except SparkModelsError:
            cli_vars = None
    return redact_text(text, secret_values(vars=cli_vars))


def _show_spark_log(project_dir, target) -> None:
    """--debug: Spark's own output (Java stacks, worker tracebacks), kept off the console otherwise."""
    from sparkmodels.execute.spark.sparklog import log_file
    from sparkmodels.project.config import load_config

    try:
        path = log_file(load_config(project_dir, target=target).target_dir)
        text = path.read_text(encoding="utf-8", errors="replace")
    except (OSError, SparkModelsError):
        return
    click.echo(f"----- {path} -----\n{text}", err=True)


def _common(f):
    """--project-dir, --target, --vars and --debug on every command, handed to it as `common`.

    Also turns SparkModelsErrors into one paragraph and exit 2; tracebacks only with --debug.
    """

    @wraps(f)
    def wrapper(*args, project_dir, target, vars, debug, **kwargs):
        try:
            return f(*args, common=Common(project_dir, target, vars, debug), **kwargs)
        except SparkModelsError as exc:
            if debug:
                traceback.print_exc()
            click.secho(_redacted(str(exc), vars), fg="red", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.secho("Interrupted.", fg="yellow", err=True)
            sys.exit(EXIT_INTERRUPTED)

    wrapper = click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")(wrapper)
    wrapper = click.option("--vars", "vars", metavar="YAML",
                           help="Override project vars, e.g. '{start: 2020-01}'.")(wrapper)
    wrapper = click.option("--target", "-t", help="Target from project.yml/profiles.yml (default: local).")(wrapper)
    wrapper = click.option("--project-dir", default=".", show_default=True, type=click.Path(file_okay=False),
                           help="Folder holding project.yml.")(wrapper)
    wrapper = click.option("--profiles-dir", type=click.Path(file_okay=False), expose_value=False,
                           callback=_profiles_dir, help="Folder holding profiles.yml (as DBT_PROFILES_DIR).")(wrapper)
    return wrapper


def _profiles_dir(ctx, param, value):
    # dbt's --profiles-dir is the flag form of DBT_PROFILES_DIR, and one process runs one command.
    if value:
        import os

        os.environ["DBT_PROFILES_DIR"] = str(value)


def _selection(f):
    f = click.option("--state", type=click.Path(file_okay=False), metavar="DIR",
                     help="A previous run's target/ (manifest.json, run_results.json) for state:/result: "
                          "selectors and --defer.")(f)
    f = click.option("--selector", metavar="NAME", help="A named selector from selectors.yml.")(f)
    f = click.option("--exclude", multiple=True, help="Nodes to leave out (same syntax as --select).")(f)
    f = click.option("--select", "-s", "--models", "-m", multiple=True,
                     help="Nodes to include: names, +name, name+, tag:x, path:..., space separated.")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sparkmodels")
def cli():
    """sparkmodels: dbt-style SQL and Python models, materialised on Apache Spark."""


def _reporter():
    from sparkmodels.report.console import Reporter

    return Reporter()


def _exit(result) -> None:
    """The exit code of a run: 130 interrupted, 1 some node failed, 0 success."""
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if result.success else EXIT_FAILED)


def _failed(exc: SparkModelsError, common: Common) -> None:
    """A run-time failure outside a run (show's query, an operation's macro): its paragraph, exit 1."""
    if common.debug:
        traceback.print_exc()
        _show_spark_log(common.project_dir, common.target)
    click.secho(_redacted(str(exc), common.vars), fg="red", err=True)
    sys.exit(EXIT_FAILED)


def run_options(common: Common, params) -> RunOptions:
    """A run command's parsed options as one RunOptions (the CLI's only translation step)."""
    return RunOptions.from_cli({**params, "target": common.target, "vars": common.vars})


def _run_command(name: str, help_text: str):
    def command(common: Common, **params):
        from sparkmodels.app import api

        result = getattr(api, name)(common.project_dir, options=run_options(common, params), reporter=_reporter())
        if common.debug and not result.success:
            _show_spark_log(common.project_dir, common.target)
        _exit(result)

    command.__name__ = name
    command.__doc__ = help_text
    cmd = click.option("--fail-fast", "-x", is_flag=True, help="Stop at the first failure.")(command)
    cmd = click.option("--threads", type=int, help="Models to run at once (default: the target's).")(cmd)
    # every run command takes every RunOption (seed and test build no microbatch models)
    cmd = click.option("--event-time-end", help="Microbatch models: process batches before this time "
                       "(exclusive; e.g. 2020-07-01).")(cmd)
    cmd = click.option("--event-time-start", help="Microbatch models: process batches from this time "
                       "(e.g. 2020-06-01).")(cmd)
    cmd = click.option("--no-cache", is_flag=True, help="Rebuild tables even when their inputs are unchanged.")(cmd)
    cmd = click.option("--full-refresh", is_flag=True, help="Rebuild every selected table (ignores the cache).")(cmd)
    cmd = click.option("--defer", is_flag=True,
                       help="Read unbuilt upstream tables from the --state run's warehouse.")(cmd)
    cmd = _selection(cmd)
    cmd = _common(cmd)
    return cli.command(name)(cmd)


_run_command("run", "Build the selected models (views, tables) on Spark.")
_run_command("seed", "Load seeds/*.csv into Parquet tables.")
_run_command("test", "Run data tests and unit tests (exit 1 if an error-severity test fails).")
_run_command("build", "Load seeds, build models and snapshots and run their tests in one graph order.")
_run_command("snapshot", "Record changes of the selected snapshots (SCD type 2) as a new table version.")


@cli.command("retry")
@_common
@click.option("--threads", type=int, help="Models to run at once (default: the last invocation's).")
def retry_cmd(common: Common, threads):
    """Rerun what errored, failed or was skipped in the last run/build/seed/test (target/run_results.json).

    The last invocation's options are replayed; --target, --vars and --threads, when given, replace them.
    """
    from sparkmodels.app import api

    result = api.retry(common.project_dir, target=common.target, vars=common.vars, threads=threads,
                       reporter=_reporter())
    if result is None:
        click.echo("Nothing to retry: the last invocation succeeded.")
        sys.exit(EXIT_OK)
    _exit(result)


@cli.command("compile")
@_common
@_selection
def compile_cmd(common: Common, select, exclude, state=None, selector=None):
    """Render models to target/compiled/ and write target/manifest.json (no Spark, unless a selected
    model introspects the warehouse)."""
    from sparkmodels.app import api
    from sparkmodels.report.console import Reporter

    res = api.compile(common.project_dir, select=list(select) or None, exclude=list(exclude) or None,
                      target=common.target, vars=common.vars, state=state, selector=selector)
    rep = Reporter()
    rep.warnings(res.warnings)
    out = res.project.config.target_dir / "compiled"
    if res.runtime:
        rep.line(f"Started Spark to render {len(res.runtime)} model{'s' if len(res.runtime) != 1 else ''} that "
                 f"introspect the warehouse (run_query, adapter...): {', '.join(res.runtime)}")
    rep.line(f"Compiled {len(res.compiled)} node{'s' if len(res.compiled) != 1 else ''} into {out}")
    if len(res.compiled) == 1:
        click.echo(next(iter(res.compiled.values())))


@cli.command("ls")
@_common
@_selection
@click.option("--resource-type", "resource_types", multiple=True,
              type=click.Choice(["model", "seed", "snapshot", "source", "test", "all"]), help="Limit to these types.")
@click.option("--output", "-o", type=click.Choice(["name", "path", "json", "selector"]), default="selector",
              show_default=True)
def ls_cmd(common: Common, select, exclude, resource_types, output, state=None, selector=None):
    """List the selected nodes (no Spark)."""
    from sparkmodels.app import api

    types = ("model", "seed", "snapshot", "source", "test") if not resource_types or "all" in resource_types else resource_types
    nodes, warnings = api.ls(common.project_dir, select=list(select) or None, exclude=list(exclude) or None,
                             resource_types=types, target=common.target, vars=common.vars, state=state,
                             selector=selector)
    for w in warnings:
        click.secho(f"[WARNING]: {w}", fg="yellow", err=True)
    for node in nodes:
        if output == "name":
            click.echo(node.name)
        elif output == "path":
            click.echo(node.path)
        elif output == "json":
            click.echo(json.dumps({"name": node.name, "resource_type": node.resource_type,
                                   "unique_id": node.unique_id, "path": node.path,
                                   "config": {"materialized": node.materialized} if node.resource_type == "model" else {},
                                   "depends_on": list(node.depends_on)}))
        else:
            click.echo(".".join(node.fqn) if node.resource_type != "source" else f"source:{'.'.join(node.fqn)}")


@cli.command("show")
@_common
@_selection
@click.option("--inline", metavar="SQL", help="A query to preview instead of a model; ref(), source() and "
              "macros work as in a model.")
@click.option("--limit", type=int, default=5, show_default=True, help="Rows to show (-1: all).")
@click.option("--defer", is_flag=True, help="Read unbuilt upstream tables from the --state run's warehouse.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: one {\"node\", \"show\": [rows]} object per line, for scripts.")
def show_cmd(common: Common, inline, limit, output, **params):
    """Preview the first rows of a model (-s MODEL) or of an inline query (--inline 'select ...').

    Upstream views are built on the fly; tables are read from the warehouse as they are (never rebuilt).
    """
    from sparkmodels.app import api

    try:
        previews = api.show(common.project_dir, inline=inline, limit=limit, options=run_options(common, params))
    except ExecutionError as exc:  # the query (or an upstream view) failed: exit 1, as a failed node
        _failed(exc, common)
    for preview in previews:
        if output == "json":
            click.echo(json.dumps(preview.to_json(), default=str))
        else:
            click.echo(f"Previewing {'inline node' if inline is not None else f'node {preview.node!r}'}:")
            click.echo(preview.table())


@cli.command("run-operation")
@click.argument("macro")
@_common
@click.option("--args", "args", metavar="YAML", help="The macro's arguments as a YAML mapping, e.g. '{n: 3}'.")
def run_operation_cmd(common: Common, macro, args):
    """Call MACRO (a macro of the project, or package.macro) in a Spark session; prints what it logs.

    Exit 1 if the macro fails (its SQL, an exceptions.raise_compiler_error...), 2 for project errors.
    """
    from sparkmodels.app import api
    from sparkmodels.project.config import load_config

    load_config(common.project_dir, target=common.target)  # project errors (exit 2) before the macro
    try:
        api.run_operation(common.project_dir, macro, args=args, target=common.target, vars=common.vars,
                          log=lambda text, info: click.echo(_redacted(text, common.vars)) if info or common.debug
                          else None)
    except (ExecutionError, CompilationError) as exc:  # the macro failed: exit 1, as dbt
        _failed(exc, common)


@cli.command("debug")
@_common
def debug_cmd(common: Common):
    """Print versions (Python, pyspark, Java), the target, and whether Spark starts."""
    from sparkmodels.app import api

    info = api.debug(common.project_dir, target=common.target, vars=common.vars)  # already redacted
    for key, value in info.items():
        if key != "spark_ok":
            click.echo(f"  {key + ':':<22}{value}")
    ok = info.get("spark_ok", False)
    click.secho("All checks passed!" if ok else "Spark did not start (see above).", fg="green" if ok else "red")
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


@cli.command("serve-jdbc")
@_common
@click.option("--port", default=10000, show_default=True, type=int, help="Port of the JDBC/ODBC server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def serve_jdbc_cmd(common: Common, port, host):
    """Serve the target's metastore (catalog: hive) over JDBC/ODBC for BI tools, until Ctrl-C."""
    import threading

    from sparkmodels.app import api

    server = api.serve_jdbc(common.project_dir, target=common.target, vars=common.vars, host=host, port=port)
    click.echo(f"Serving the metastore's models at {server.url} (Ctrl-C to stop).")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    finally:
        server.spark.stop()


@cli.group("server")
def server_group():
    """A warm Spark server for a target: runs connect to it instead of starting a JVM each time."""


@server_group.command("start")
@_common
@click.option("--jdbc-port", type=int, default=None,
              help="Also serve the target's metastore (catalog: hive) over JDBC/ODBC on this port, from the same JVM.")
def server_start_cmd(common: Common, jdbc_port):
    """Start the server (a local Spark Connect server with the target's session) and return."""
    from sparkmodels.app import api

    server, started = api.server_start(common.project_dir, target=common.target, vars=common.vars,
                                       jdbc_port=jdbc_port)
    click.echo(f"{'Started' if started else 'Already running'}: {server.describe()}")
    click.echo("Runs of this target now use it. Stop it with `sparkmodels server stop`.")


@server_group.command("stop")
@_common
@click.option("--all", "every", is_flag=True, help="Stop every sparkmodels server of this user.")
def server_stop_cmd(common: Common, every):
    """Stop the target's server; later runs start their own JVM again."""
    from sparkmodels.app import api

    stopped = api.server_stop(common.project_dir, target=common.target, vars=common.vars, every=every)
    for server in stopped:
        click.echo(f"Stopped: {server.describe()}")
    if not stopped:
        click.echo("No server was running" + ("." if every else " for this target."))


@server_group.command("status")
@_common
def server_status_cmd(common: Common):
    """List the running servers (of every project and target of this user)."""
    from sparkmodels.execute.spark.server import servers

    running = servers()
    for server in running:
        click.echo(server.describe())
    if not running:
        click.echo("No sparkmodels server is running.")


@cli.command("table-path")
@click.argument("name")
@_common
def table_path_cmd(common: Common, name):
    """Print the folder holding a table's current data (for readers outside sparkmodels)."""
    from sparkmodels.app import api

    path = api.table_path(common.project_dir, name, target=common.target, vars=common.vars)
    if path is None:
        click.secho(f"'{name}' has not been built yet.", fg="red", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(path)


@cli.command("deps")
@_common
@click.option("--hub-url", help="The package hub (default: $DBT_PACKAGE_HUB_URL or https://hub.getdbt.com).")
@click.option("--upgrade", is_flag=True, help="Ignore package-lock.yml and resolve versions again.")
def deps_cmd(common: Common, hub_url, upgrade):
    """Install packages.yml's packages into dbt_packages/ and write package-lock.yml (no Spark)."""
    from sparkmodels.app import api

    entries = api.deps(common.project_dir, hub_url=hub_url, upgrade=upgrade)
    for entry in entries:
        source = entry.get("package") or entry.get("git") or entry.get("local")
        version = entry.get("version") or entry.get("revision") or ""
        click.echo(f"  installed {entry['name']} ({source}{' ' + str(version) if version else ''})")
    click.echo(f"Installed {len(entries)} package{'s' if len(entries) != 1 else ''}; wrote package-lock.yml")


@cli.command("clean")
@_common
def clean_cmd(common: Common):
    """Delete target/ (and clean-targets); the warehouse is left alone."""
    from sparkmodels.app import api

    for path in api.clean(common.project_dir, target=common.target, vars=common.vars):
        click.echo(f"  removed {path}")


@cli.group("docs")
def docs_group():
    """Generate and serve the project's documentation site (target/docs/)."""


@docs_group.command("generate")
@_common
@click.option("--no-catalog", is_flag=True, help="Build the site from the manifest alone (no Spark).")
@click.option("--stats", is_flag=True, help="Add row counts, size on disk and build times to the catalog.")
def docs_generate_cmd(common: Common, no_catalog, stats):
    """Write target/catalog.json (Spark schemas) and the static site target/docs/."""
    from sparkmodels.app import api

    res = api.docs_generate(common.project_dir, target=common.target, vars=common.vars, catalog=not no_catalog,
                            stats=stats)
    if res.catalog_path:
        errors = (res.catalog or {}).get("errors") or {}
        click.echo(f"Catalog written to {res.catalog_path}")
        for uid, message in errors.items():
            click.secho(f"[WARNING]: {uid}: {message}", fg="yellow", err=True)
    click.echo(f"Docs site written to {res.site} (open it in a browser, or `sparkmodels docs serve`)")


@docs_group.command("serve")
@_common
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
def docs_serve_cmd(common: Common, port, host):
    """Serve target/docs/ over HTTP until Ctrl-C."""
    from sparkmodels.app.project import config_for
    from sparkmodels.report.docs.serve import serve

    config = config_for(common.project_dir, common.target, common.vars, None)
    serve(config.target_dir / "docs", host=host, port=port,
          on_ready=lambda url: click.echo(f"Serving docs at {url} (Ctrl-C to stop)"))


@cli.command("lineage")
@_common
@click.argument("node")
@click.option("--upstream/--downstream", default=True, show_default=True, help="Direction to walk.")
@click.option("--depth", type=int, help="Levels to show (default: all).")
@click.option("--output", "-o", type=click.Choice(["tree", "json"]), default="tree", show_default=True)
def lineage_cmd(common: Common, node, upstream, depth, output):
    """Model or column lineage: NODE is model, model.column, source.table or source.table.column (no Spark)."""
    from sparkmodels.app import api

    data = api.lineage(common.project_dir, node, upstream=upstream, depth=depth, target=common.target,
                       vars=common.vars)
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    def label(item: dict) -> str:
        text = f"[bold]{escape(item.get('name') or item['node'])}[/bold]"
        if data["column"] is not None:
            text += f".{escape(item['column'])}"
        text += f" [dim]({escape(str(item.get('resource_type')))})[/dim]"
        if item.get("kind"):
            text += f" [cyan]{escape(item['kind'])}[/cyan]"
        return text

    def grow(branch, item: dict) -> None:
        for kid in item["children"]:
            grow(branch.add(label(kid)), kid)

    root = Tree(label(data["tree"]))
    grow(root, data["tree"])
    Console(soft_wrap=True).print(root)


def main() -> None:
    cli(prog_name="sparkmodels")


if __name__ == "__main__":
    main()
