"""The command line: options -> one API call -> exit code. The only module that imports click."""

from __future__ import annotations

import json
import sys
import traceback
from functools import wraps

import click

from . import __version__
from .errors import SparkModelsError

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common(f):
    """--project-dir, --target, --vars and --debug on every command."""
    f = click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")(f)
    f = click.option("--vars", "vars_", metavar="YAML", help="Override project vars, e.g. '{start: 2020-01}'.")(f)
    f = click.option("--target", "-t", help="Target from project.yml/profiles.yml (default: local).")(f)
    f = click.option("--project-dir", default=".", show_default=True, type=click.Path(file_okay=False),
                     help="Folder holding project.yml.")(f)
    return f


def _selection(f):
    f = click.option("--exclude", multiple=True, help="Nodes to leave out (same syntax as --select).")(f)
    f = click.option("--select", "-s", "--models", "-m", multiple=True,
                     help="Nodes to include: names, +name, name+, tag:x, path:..., space separated.")(f)
    return f


def _handled(f):
    """Turn SparkModelsErrors into one paragraph and exit 2; tracebacks only with --debug."""

    @wraps(f)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return f(*args, **kwargs)
        except SparkModelsError as exc:
            if debug:
                traceback.print_exc()
            click.secho(str(exc), fg="red", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.secho("Interrupted.", fg="yellow", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sparkmodels")
def cli():
    """sparkmodels: dbt-style SQL and Python models, materialised on Apache Spark."""


def _reporter():
    from .reporting import Reporter

    return Reporter()


def _run_command(name: str, help_text: str, fail_fast_option: bool = False):
    def command(project_dir, target, vars_, debug, select, exclude, threads, fail_fast=False):
        from . import api

        result = getattr(api, name)(project_dir, select=list(select) or None, exclude=list(exclude) or None,
                                    target=target, vars=vars_, threads=threads, fail_fast=fail_fast,
                                    reporter=_reporter())
        if result.interrupted:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(EXIT_OK if result.success else EXIT_FAILED)

    command.__name__ = name
    command.__doc__ = help_text
    cmd = _handled(command)
    if fail_fast_option:
        cmd = click.option("--fail-fast", "-x", is_flag=True, help="Stop at the first failure.")(cmd)
    cmd = click.option("--threads", type=int, help="Models to run at once (default: the target's).")(cmd)
    cmd = _selection(cmd)
    cmd = _common(cmd)
    return cli.command(name)(cmd)


_run_command("run", "Build the selected models (views, tables) on Spark.", True)
_run_command("seed", "Load seeds/*.csv into Parquet tables.", True)
_run_command("build", "Load seeds and build models in one graph order.", True)


@cli.command("compile")
@_common
@_selection
@_handled
def compile_cmd(project_dir, target, vars_, debug, select, exclude):
    """Render models to target/compiled/ and write target/manifest.json (no Spark)."""
    from . import api
    from .reporting import Reporter

    res = api.compile(project_dir, select=list(select) or None, exclude=list(exclude) or None,
                      target=target, vars=vars_)
    rep = Reporter()
    rep.warnings(res.warnings)
    out = res.project.config.target_dir / "compiled"
    rep.line(f"Compiled {len(res.compiled)} node{'s' if len(res.compiled) != 1 else ''} into {out}")
    if len(res.compiled) == 1:
        click.echo(next(iter(res.compiled.values())))


@cli.command("ls")
@_common
@_selection
@click.option("--resource-type", "resource_types", multiple=True,
              type=click.Choice(["model", "seed", "source", "test", "all"]), help="Limit to these types.")
@click.option("--output", "-o", type=click.Choice(["name", "path", "json", "selector"]), default="selector",
              show_default=True)
@_handled
def ls_cmd(project_dir, target, vars_, debug, select, exclude, resource_types, output):
    """List the selected nodes (no Spark)."""
    from . import api

    types = ("model", "seed", "source", "test") if not resource_types or "all" in resource_types else resource_types
    nodes, warnings = api.ls(project_dir, select=list(select) or None, exclude=list(exclude) or None,
                             resource_types=types, target=target, vars=vars_)
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


@cli.command("debug")
@click.option("--project-dir", default=".", show_default=True, type=click.Path(file_okay=False))
@click.option("--target", "-t")
@_handled
def debug_cmd(project_dir, target, debug=False):
    """Print versions (Python, pyspark, Java), the target, and whether Spark starts."""
    from . import api

    info = api.debug(project_dir, target=target)
    for key, value in info.items():
        if key != "spark_ok":
            click.echo(f"  {key + ':':<22}{value}")
    ok = info.get("spark_ok", False)
    click.secho("All checks passed!" if ok else "Spark did not start (see above).", fg="green" if ok else "red")
    sys.exit(EXIT_OK if ok else EXIT_FAILED)


@cli.command("clean")
@click.option("--project-dir", default=".", show_default=True, type=click.Path(file_okay=False))
@_handled
def clean_cmd(project_dir, debug=False):
    """Delete target/ (and clean-targets); the warehouse is left alone."""
    from . import api

    for path in api.clean(project_dir):
        click.echo(f"  removed {path}")


def main() -> None:
    cli(prog_name="sparkmodels")


if __name__ == "__main__":
    main()
