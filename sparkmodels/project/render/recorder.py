"""One render's state: the context functions a template calls (ref, source, config, var, env_var, log...) and what they record.

Rendering at load records every ref()/source() call with its line and returns a Relation whose
text is a placeholder; `resolve()` later swaps the placeholders for relation names (plan/compiler.py).
With a run-time backend (`runtime`, execute/runtime/) ref()/source() are the session's relations and
run_query/statement/adapter calls are answered by it; without one, by dbt's parse-time stand-ins
(introspect.ParseTime), which mark the render as needing run time.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from sparkmodels.errors import CompilationError, did_you_mean
from sparkmodels.project.manifest import RefCall
from sparkmodels.project.render.introspect import ParseTime, Relation
from sparkmodels.project.secrets import is_secret_name

PH_OPEN, PH_CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{PH_OPEN}(\\d+){PH_CLOSE}")
MISSING = object()


class MacroReturn(Exception):
    """dbt's `{{ return(value) }}`: unwinds a macro (or a template) with its value."""

    def __init__(self, value):
        self.value = value


@dataclass
class RenderResult:
    """What rendering one template found: output, calls, config, vars used."""

    text: str
    line_map: tuple[int, ...]
    calls: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    vars_used: set = field(default_factory=set)
    env_vars_used: set = field(default_factory=set)
    macros_used: set = field(default_factory=set)
    logs: list = field(default_factory=list)
    runtime: bool = False  # needs rendering again at run time (introspection, `execute`)


class Recorder:
    """Per-render state behind the context functions.

    `renderer` is the Renderer rendering (jinja.py): its `vars` and `allow_secret_env` are read
    when var()/env_var() are called, so a loader switching vars between packages is seen."""

    def __init__(self, renderer, node_name: str, filename: str, template, runtime=None) -> None:
        self.renderer = renderer
        self.runtime = runtime  # the run-time backend (execute/runtime/), None while loading
        self.parse = ParseTime(self.mark)
        self.node_name = node_name
        self.filename = filename
        self.template = template
        self.static_line: int | None = None  # the tag being evaluated without Jinja (static_render)
        self.result = RenderResult(text="", line_map=())

    def caller_line(self) -> int | None:
        if self.template is None:
            return self.static_line  # rendered without Jinja: no template frame to find
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.filename and self.template is not None:
                return self.template.get_corresponding_lineno(frame.f_lineno)
            frame = frame.f_back
        return self.static_line

    def mark(self) -> None:
        self.result.runtime = True

    def _placeholder(self, kind: str, args: tuple) -> Relation:
        self.result.calls.append(RefCall(kind, tuple(str(a) for a in args), self.caller_line()))
        if self.runtime is not None:  # run time: the relation itself, queryable in the session
            return self.runtime.relation(kind, tuple(str(a) for a in args))
        text = f"{PH_OPEN}{len(self.result.calls) - 1}{PH_CLOSE}"
        if kind == "source":
            return Relation(str(args[1]), str(args[0]), text=text)
        return Relation(str(args[-1]), None, text=text)

    def backend(self, name: str):
        """A run-time call: the backend's at run time, else dbt's parse-time stand-in."""
        if self.runtime is not None:
            return getattr(self.runtime, name)
        return getattr(self.parse, name)

    def ref(self, *args, **kwargs):
        if kwargs.get("version") is not None or kwargs.get("v") is not None:
            args = (*args,)  # versions are accepted and ignored: one version per model
        if not 1 <= len(args) <= 2:
            raise CompilationError("ref() takes a model name, or a package and a model name.")
        return self._placeholder("ref", args)  # ref('pkg', 'm') names the package (dbt's two-argument ref)

    def source(self, source_name, table_name):
        return self._placeholder("source", (source_name, table_name))

    def config(self, *args, **kwargs):
        if args and isinstance(args[0], Mapping):
            kwargs = {**args[0], **kwargs}
        self.result.config.update(kwargs)
        return ""

    def var(self, name, default=MISSING):
        self.result.vars_used.add(name)
        variables = self.renderer.vars
        if name in variables:
            return variables[name]
        if default is MISSING:
            raise CompilationError(
                f"required var '{name}' is not set." + did_you_mean(name, variables),
                hint="Set it under vars: in project.yml or with --vars.",
            )
        return default

    def env_var(self, name, default=MISSING):
        if not self.renderer.allow_secret_env and is_secret_name(name):
            # dbt refuses its DBT_ENV_SECRET_* vars outside profiles for the same reason.
            raise CompilationError(
                f"environment variable '{name}' has a secret-looking name (it contains SECRET, TOKEN, "
                "PASSWORD, KEY or CREDENTIAL), and model SQL is written in plain text to target/compiled/ "
                "and the artifacts.",
                hint="Use secrets only in targets (project.yml `targets:` or profiles.yml), where they are "
                     "redacted, or rename the variable if it holds no secret.",
            )
        self.result.env_vars_used.add(name)
        if name in os.environ:
            return os.environ[name]
        if default is MISSING:
            raise CompilationError(f"environment variable '{name}' is not set and has no default.")
        return default

    def log(self, msg, info=False):
        self.result.logs.append(str(msg))
        return ""

    def warn(self, msg):
        self.result.logs.append(f"Warning: {msg}")
        return ""

    @staticmethod
    def do_return(value):
        raise MacroReturn(value)

    @staticmethod
    def raise_compiler_error(msg):
        raise CompilationError(str(msg))


class ConfigCallable:
    """`config(...)` in a model, plus dbt's `config.get(key, default)`."""

    def __init__(self, rec: Recorder):
        self._rec = rec

    def __call__(self, *args, **kwargs):
        return self._rec.config(*args, **kwargs)

    def get(self, key, default=None):
        return self._rec.result.config.get(key, default)


def resolve(text: str, relations: list[str]) -> str:
    """Replace ref()/source() placeholders with their relation names."""
    if PH_OPEN not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: relations[int(m.group(1))], text)
