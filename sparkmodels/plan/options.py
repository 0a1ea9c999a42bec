"""RunOptions: how one run/seed/test/build is asked for, as one frozen value from the CLI to the runner.

The same value is recorded in run_results.json `args` (to_dict) and read back by `sparkmodels retry`
(from_dict), so a retry replays exactly what was asked for, fail-fast included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sparkmodels.errors import UsageError, did_you_mean
from sparkmodels.project.frozen import freeze, thaw

# CLI parameters that are not run options: where the project is, and how errors are shown.
_CLI_ONLY = frozenset({"project_dir", "debug"})


def _names(value: Sequence[str] | str | None, option: str) -> tuple[str, ...] | None:
    """None, one selector string or a sequence of them -> a tuple (None when empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{option} takes a string or a list of strings, not {value!r}.")
    return tuple(value) or None


@dataclass(frozen=True)
class RunOptions:
    """What to run and how: the options of `run`, `seed`, `test` and `build`.

    select/exclude: selector strings (space = union, comma = intersection); selector: a name from
    selectors.yml; state: a previous run's target/ folder; defer: read unbuilt upstream tables from
    the state's warehouse; target: the target name (None: the project's default); vars: YAML text
    or a mapping overriding project vars; threads: models at once (None: the target's); fail_fast:
    stop at the first failure; full_refresh/no_cache: rebuild tables whose inputs are unchanged;
    only: exactly these unique_ids (what `retry` reruns), instead of a selection.
    """

    select: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    selector: str | None = None
    state: str | None = None
    defer: bool = False
    target: str | None = None
    vars: str | Mapping[str, Any] | None = None
    threads: int | None = None
    fail_fast: bool = False
    full_refresh: bool = False
    no_cache: bool = False
    only: tuple[str, ...] | None = None
    # microbatch models: the batches to run (--event-time-start/--event-time-end), and on retry
    # the failed batches per unique_id ([[start, end], ...], from run_results.json)
    event_time_start: str | None = None
    event_time_end: str | None = None
    microbatch_retry: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Normalised once here, so every stage (and run_results.json) sees one shape.
        set_ = object.__setattr__
        set_(self, "select", _names(self.select, "select"))
        set_(self, "exclude", _names(self.exclude, "exclude"))
        set_(self, "only", _names(self.only, "only"))
        if isinstance(self.state, Path):
            set_(self, "state", str(self.state))
        if self.vars is not None and not isinstance(self.vars, str):
            if not isinstance(self.vars, Mapping):
                raise UsageError(f"vars takes YAML text or a mapping, not {self.vars!r}.")
            set_(self, "vars", freeze(dict(self.vars)) or None)
        if self.microbatch_retry is not None:
            set_(self, "microbatch_retry", freeze(dict(self.microbatch_retry)) or None)
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)):
            raise UsageError(f"threads takes a whole number, not {self.threads!r}.")
        for flag in ("defer", "fail_fast", "full_refresh", "no_cache"):
            set_(self, flag, bool(getattr(self, flag)))
        if self.defer and self.state is None:
            raise UsageError("--defer needs --state <dir> (a previous run's target/ folder).")

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def replace(self, **changes) -> RunOptions:
        """A copy with some options changed; an unknown option name is a UsageError."""
        unknown = [k for k in changes if k not in self.names()]
        if unknown:
            raise UsageError(f"unknown run option '{unknown[0]}'." + did_you_mean(unknown[0], self.names()),
                             hint=f"Run options: {', '.join(self.names())}.")
        return dataclasses.replace(self, **changes) if changes else self

    @classmethod
    def from_cli(cls, params: Mapping[str, Any]) -> RunOptions:
        """From a click command's parsed parameters (empty multiple options are None)."""
        return cls().replace(**{k: v for k, v in params.items() if k not in _CLI_ONLY})

    # -- run_results.json ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (lists, dicts), as recorded in run_results.json `args`."""
        return {f.name: thaw(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        """Read back to_dict's output; other keys of `args` (`command`, newer options) are ignored."""
        return cls(**{k: data[k] for k in cls.names() if k in data and data[k] is not None})
