"""The CLI end to end: exit codes, one-paragraph errors without tracebacks, debug, clean, Java checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sparkmodels.app.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_lists_commands():
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("run", "seed", "build", "compile", "ls", "debug", "clean", "show", "run-operation"):
        assert cmd in res.output


def test_run_ok_and_failure_exit_codes(make_project, spark):
    root = make_project({"models/a.sql": "select 1 as x", "models/b.sql": "select nope from {{ ref('a') }}"})
    res = invoke("run", "--project-dir", str(root), "-s", "a")
    assert res.exit_code == 0, res.output
    assert "1 of 1 OK created view a" in res.output
    assert "Done. PASS=1 WARN=0 ERROR=0 SKIP=0 TOTAL=1" in res.output
    res = invoke("run", "--project-dir", str(root))
    assert res.exit_code == 1
    assert "Completed with 1 error" in res.output
    assert "(models/b.sql:1)" in res.output
    assert "Traceback" not in res.output


def test_user_errors_are_one_paragraph_without_traceback(make_project):
    root = make_project({"models/a.sql": "select * from {{ ref('nope') }}", "models/nop.sql": "select 1"})
    res = CliRunner().invoke(cli, ["compile", "--project-dir", str(root)])
    assert res.exit_code == 2
    assert "Compilation error in a (models/a.sql:1): ref('nope') refers to a model or seed that does not exist." in res.output
    assert "Did you mean 'nop'?" in res.output
    assert "Traceback" not in res.output


def test_debug_flag_shows_traceback(make_project):
    root = make_project({"models/a.sql": "select {{ broken( }}"})
    proc = subprocess.run([sys.executable, "-m", "sparkmodels", "compile", "--project-dir", str(root), "--debug"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert "models/a.sql:1" in proc.stderr


def test_vars_option_reaches_models(make_project):
    root = make_project({"models/a.sql": "select {{ var('n') }} as n"})
    res = invoke("compile", "--project-dir", str(root), "--vars", "{n: 7}")
    assert res.exit_code == 0, res.output
    assert "select 7 as n" in (root / "target/compiled/demo/models/a.sql").read_text()


def test_clean_removes_target_but_not_warehouse(make_project):
    root = make_project({"models/a.sql": "select 1 as x"})
    invoke("compile", "--project-dir", str(root))
    (root / "warehouse").mkdir()
    res = invoke("clean", "--project-dir", str(root))
    assert res.exit_code == 0
    assert not (root / "target").exists() and (root / "warehouse").exists()


@pytest.mark.parametrize("entry, why", [
    ("warehouse", "is the warehouse or inside it"),
    ("warehouse/demo", "is the warehouse or inside it"),
    ("data", "holds the warehouse"),  # the target's warehouse is data/wh
    (".", "is the project itself"),
    ("../outside", "is outside the project"),
    ("notes.txt", "is a file; clean deletes folders only"),
])
def test_clean_refuses_the_warehouse_the_project_outside_and_files(make_project, tmp_path, entry, why):
    root = make_project({"models/a.sql": "select 1 as x", "notes.txt": "keep me",
                         "project.yml": f"name: demo\nversion: '1'\nclean-targets: [logs, '{entry}']\n"
                                        "targets:\n  dev:\n    warehouse: warehouse\n  other:\n    warehouse: data/wh\n"})
    for folder in ("target", "logs", "warehouse/demo", "data/wh", "../outside"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "keep").write_text("x")
    res = CliRunner().invoke(cli, ["clean", "--project-dir", str(root)])
    assert res.exit_code == 2, res.output
    assert f"(project.yml:3): clean-targets entry '{entry}' {why}" in res.output and "Nothing was deleted" in res.output
    assert "Traceback" not in res.output
    for folder in ("target", "logs", "warehouse/demo", "data/wh", "../outside"):
        assert (root / folder / "keep").exists(), folder  # refused before anything was deleted
    assert (root / "notes.txt").read_text() == "keep me"


def test_clean_does_not_follow_a_symlink(make_project, tmp_path):
    root = make_project({"project.yml": "name: demo\nversion: '1'\nclean-targets: [linked]\n"})
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep").write_text("x")
    (root / "inside").mkdir()
    (root / "linked").symlink_to(root / "inside")
    res = CliRunner().invoke(cli, ["clean", "--project-dir", str(root)])
    assert res.exit_code == 2 and "clean-targets entry 'linked' is a symlink" in res.output, res.output
    assert (root / "inside").is_dir() and (root / "linked").is_symlink()


def test_clean_removes_listed_folders(make_project):
    root = make_project({"project.yml": "name: demo\nversion: '1'\nclean-targets: [logs, missing]\n"})
    for folder in ("target", "logs"):
        (root / folder).mkdir()
    res = invoke("clean", "--project-dir", str(root))
    assert res.exit_code == 0, res.output
    assert not (root / "target").exists() and not (root / "logs").exists()


def test_debug_reports_versions_and_spark(make_project, spark):
    root = make_project({})
    res = invoke("debug", "--project-dir", str(root))
    assert res.exit_code == 0, res.output
    for key in ("python:", "pyspark:", "java:", "target:", "spark:"):
        assert key in res.output
    assert "All checks passed!" in res.output


def _fake_java(tmp_path, version_line):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


def test_old_java_gives_actionable_error(make_project, tmp_path):
    root = make_project({"models/a.sql": "select 1 as x"})
    env = {**os.environ, "JAVA_HOME": str(_fake_java(tmp_path, 'openjdk version "11.0.21" 2023-10-17'))}
    proc = subprocess.run([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert "Spark 4 needs Java 17 or newer" in proc.stderr and "is Java 11" in proc.stderr
    assert "Traceback" not in proc.stderr and "Java gateway process exited" not in proc.stderr


def test_missing_java_gives_actionable_error(make_project, tmp_path):
    root = make_project({"models/a.sql": "select 1 as x"})
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = os.path.dirname(sys.executable)  # python only, no java
    proc = subprocess.run([sys.executable, "-m", "sparkmodels", "run", "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert "Java is required" in proc.stderr and "Install Java 17" in proc.stderr


def test_pyspark_python_is_set_for_workers():
    code = ("import os; os.environ.pop('PYSPARK_PYTHON', None); from sparkmodels.execute.spark.launch import prepare_python_env;"
            "prepare_python_env(); import sys; print(os.environ['PYSPARK_PYTHON'] == sys.executable)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == "True"


def _leaf_commands(group, prefix=()):
    """Every command of the click group, subgroups walked (`server start`, `docs serve`, ...)."""
    import click

    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _leaf_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


COMMON = ("--project-dir", "--target", "--vars", "--debug")


def test_every_command_takes_the_common_options(tmp_path):
    commands = dict(_leaf_commands(cli))
    assert {("clean",), ("retry",), ("debug",), ("docs", "serve"), ("server", "status"), ("show",),
            ("run-operation",)} <= set(commands)
    for path, cmd in commands.items():
        res = invoke(*path, "--help")
        assert res.exit_code == 0, (path, res.output)
        for option in COMMON:
            assert option in res.output, f"`sparkmodels {' '.join(path)}` has no {option}"
        # and they parse, with the command's own required arguments filled in
        required = ["x" for p in cmd.params if p.required and not p.opts[0].startswith("-")]
        ctx = cmd.make_context(" ".join(path), [*required, "--project-dir", str(tmp_path), "--target", "dev",
                                                "--vars", "{n: 1}", "--debug"])
        assert (ctx.params["project_dir"], ctx.params["target"], ctx.params["vars"], ctx.params["debug"]) == \
            (str(tmp_path), "dev", "{n: 1}", True), path


def test_no_command_declares_an_option_twice():
    """A flag declared twice (click only warns) shadows one declaration: each flag is declared once."""
    for path, cmd in _leaf_commands(cli):
        flags = [opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)]
        dupes = sorted({f for f in flags if flags.count(f) > 1})
        assert not dupes, f"`sparkmodels {' '.join(path)}` declares {dupes} more than once"


def test_commands_that_lacked_common_options_now_use_them(make_project):
    root = make_project({"models/a.sql": "select 1 as x"})
    invoke("compile", "--project-dir", str(root))
    # clean --debug --vars: accepted; --target is honoured (an unknown one is a user error, not ignored)
    res = invoke("clean", "--project-dir", str(root), "--debug", "--vars", "{n: 1}")
    assert res.exit_code == 0 and not (root / "target").exists(), res.output
    res = CliRunner().invoke(cli, ["clean", "--project-dir", str(root), "--target", "nosuch"])
    assert res.exit_code == 2 and "target 'nosuch' (from --target) is not defined" in res.output
    res = CliRunner().invoke(cli, ["retry", "--project-dir", str(root), "--target", "nosuch"])
    assert res.exit_code == 2 and "target 'nosuch'" in res.output
    res = CliRunner().invoke(cli, ["docs", "serve", "--project-dir", str(root), "--vars", "{broken: [", "--debug"])
    assert res.exit_code == 2 and "invalid YAML" in res.output  # --vars is parsed before serving


def test_bad_option_combination_is_a_usage_error(make_project):
    res = CliRunner().invoke(cli, ["build", "--project-dir", str(make_project({})), "--defer"])
    assert res.exit_code == 2 and "Usage error: --defer needs --state" in res.output
    assert "Traceback" not in res.output


def test_compile_summary_counts_each_resource_type(make_project, spark):
    """`compile` says what it compiled per resource type, as dbt counts them (analyses, data tests)."""
    cols = "{% for c in adapter.get_columns_in_relation(ref('a')) %}{{ c.quoted }}{% endfor %}"
    root = make_project({
        "models/a.sql": "{{ config(materialized='table') }}\nselect 1 as x",
        "models/b.sql": "select x from {{ ref('a') }}",
        "models/c.sql": f"select {cols} from {{{{ ref('a') }}}}",  # introspects: rendered in a session
        "models/schema.yml": "version: 2\nmodels:\n  - name: b\n    columns:\n      - name: x\n"
                             "        tests: [not_null]\n",
        "snapshots/s.sql": "{% snapshot s %}\n{{ config(unique_key='x', strategy='check', check_cols='all') }}\n"
                           "select x from {{ ref('a') }}\n{% endsnapshot %}\n",
        "analyses/an.sql": f"select {cols} from {{{{ ref('a') }}}}",
        "analyses/an2.sql": "select 1 as y",
    })
    assert invoke("run", "--project-dir", str(root), "-s", "a").exit_code == 0
    res = invoke("compile", "--project-dir", str(root))
    assert res.exit_code == 0, res.output
    assert ("Started Spark to render 1 model, 1 analysis that introspect the warehouse (run_query, adapter...): "
            "an, c") in res.output
    assert "Compiled 3 models, 1 snapshot, 2 analyses, 1 data test into" in res.output
    res = invoke("compile", "--project-dir", str(root), "-s", "s")
    assert "Compiled 1 snapshot into" in res.output and "Started Spark" not in res.output
