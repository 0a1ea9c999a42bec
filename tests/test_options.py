"""RunOptions (plan/options.py): one frozen value from the CLI to the runner, round-tripped via run_results.json."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import pytest

import sparkmodels
from sparkmodels.app.cli import Common, cli, run_options
from sparkmodels.errors import UsageError
from sparkmodels.plan.options import RunOptions

RUN_COMMANDS = ("run", "seed", "test", "build")


def test_round_trip_through_json_keeps_every_option():
    opts = RunOptions(select="+a b", exclude=["d"], selector=None, state=Path("prod/target"), defer=True,
                      target="dev", vars={"start": "2020-01", "zones": [1, 2]}, threads=3, fail_fast=True,
                      full_refresh=True, no_cache=True, only=["model.demo.b", "model.demo.c"])
    recorded = json.loads(json.dumps({"command": "build", **opts.to_dict()}))
    assert recorded["select"] == ["+a b"] and recorded["state"] == "prod/target"
    assert recorded["vars"] == {"start": "2020-01", "zones": [1, 2]}
    back = RunOptions.from_dict(recorded)  # `command` is not an option and is ignored
    assert back == opts
    assert back.to_dict() == opts.to_dict()


def test_defaults_round_trip_and_old_args_read_back():
    assert RunOptions.from_dict(RunOptions().to_dict()) == RunOptions()
    # run_results.json written before RunOptions: vars {} and nulls mean "not given"; unknown keys ignored
    old = {"command": "run", "select": None, "exclude": ["d"], "selector": None, "target": "local",
           "threads": None, "vars": {}, "state": None, "defer": False, "full_refresh": False,
           "no_cache": False, "from_a_newer_version": 1}
    assert RunOptions.from_dict(old) == RunOptions(exclude=("d",), target="local")


def test_frozen_and_normalised():
    opts = RunOptions(select=["a"], vars={"n": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.threads = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        opts.vars["n"] = 2  # type: ignore[index]
    assert opts.select == ("a",)
    assert RunOptions(select=[], exclude=(), vars={}) == RunOptions()  # empty = not given
    assert RunOptions(vars="{n: 1}").vars == "{n: 1}"  # YAML text is parsed where the project loads


def test_replace_and_bad_options_are_usage_errors():
    opts = RunOptions(select="a")
    assert opts.replace(threads=2) == RunOptions(select=("a",), threads=2)
    assert opts.replace() is opts
    with pytest.raises(UsageError, match=r"unknown run option 'thread'\. Did you mean 'threads'\?"):
        opts.replace(thread=2)
    with pytest.raises(UsageError, match="--defer needs --state"):
        RunOptions(defer=True)
    with pytest.raises(UsageError, match="threads takes a whole number"):
        RunOptions(threads="2")
    with pytest.raises(UsageError, match="select takes a string or a list of strings"):
        RunOptions(select=[1])


def test_from_cli_args():
    cmd = cli.commands["build"]
    ctx = cmd.make_context("build", ["--project-dir", "p", "-t", "dev", "--vars", "{n: 1}", "--debug",
                                     "-s", "+a", "-s", "b", "--exclude", "c", "--threads", "2", "-x",
                                     "--no-cache", "--state", "prod", "--defer"])
    common = Common(ctx.params.pop("project_dir"), ctx.params.pop("target"), ctx.params.pop("vars"),
                    ctx.params.pop("debug"))
    assert run_options(common, ctx.params) == RunOptions(
        select=("+a", "b"), exclude=("c",), target="dev", vars="{n: 1}", threads=2, fail_fast=True,
        no_cache=True, state="prod", defer=True)
    bare = cli.commands["run"].make_context("run", [])
    assert RunOptions.from_cli(bare.params) == RunOptions()  # empty multiple options are None


@pytest.mark.parametrize("name", RUN_COMMANDS)
def test_cli_flags_and_run_options_are_the_same_set(name):
    """A new RunOptions field needs a flag (and a new flag a field); `only` and `microbatch_retry`
    are retry's alone."""
    flags = {p.name for p in cli.commands[name].params} - {"project_dir", "debug", "profiles_dir"}
    assert flags == set(RunOptions.names()) - {"only", "microbatch_retry"}


@pytest.mark.parametrize("name", RUN_COMMANDS)
def test_api_signature_lists_the_options(name):
    fn = getattr(sparkmodels, name)
    params = inspect.signature(fn).parameters
    assert {"options", "spark", "reporter", "project", "on_event", *RunOptions.names()} <= set(params)
    assert params["fail_fast"].default is False and params["threads"].default is None


def test_api_rejects_an_unknown_keyword_before_loading_anything(tmp_path):
    with pytest.raises(UsageError, match="Did you mean 'fail_fast'"):
        sparkmodels.run(tmp_path / "no-such-project", failfast=True)
