"""Jinja rendering: the one Environment of a project, macros, and the dbt context (ref, source, config...).

Each template is rendered once at load. ref()/source() return Relation objects whose text is a
placeholder, recorded with their line; `resolve()` later swaps the placeholders for relation names.
This keeps dependency discovery free of Spark and avoids rendering a template twice. A template
that reads `execute` or calls run_query/statement/adapter introspection (introspect.py) is marked
`RenderResult.runtime`, and is rendered again when it runs with a run-time backend
(`render(runtime=...)`, sparkmodels/execute/runtime/) answering those calls in the run's session.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2.environment import TemplateModule

from sparkmodels.errors import CompilationError, SparkModelsError, did_you_mean
from sparkmodels.project.manifest import RefCall
from sparkmodels.project.render import dbt_context
from sparkmodels.project.render import static as static_render
from sparkmodels.project.render.introspect import ExecuteFlag, ParseTime, Relation
from sparkmodels.project.render.lines import (
    _MARK_CLOSE,
    _MARK_OPEN,
    _TAG,  # noqa: F401 - tests split templates with render._TAG
    add_line_markers,
    split_tags,
    strip_line_markers,
)
from sparkmodels.project.render.namespace import INTERNAL, Adapter, PackageMacros, Resolver, dispatch_orders
from sparkmodels.project.secrets import is_secret_name

_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")
_MISSING = object()


class _MacroReturn(Exception):
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


class _Recorder:
    """Per-render state behind the context functions."""

    def __init__(self, renderer: Renderer, node_name: str, filename: str, template, runtime=None) -> None:
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
        text = f"{_PH_OPEN}{len(self.result.calls) - 1}{_PH_CLOSE}"
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

    def var(self, name, default=_MISSING):
        self.result.vars_used.add(name)
        variables = self.renderer.vars
        if name in variables:
            return variables[name]
        if default is _MISSING:
            raise CompilationError(
                f"required var '{name}' is not set." + did_you_mean(name, variables),
                hint="Set it under vars: in project.yml or with --vars.",
            )
        return default

    def env_var(self, name, default=_MISSING):
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
        if default is _MISSING:
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
        raise _MacroReturn(value)

    @staticmethod
    def raise_compiler_error(msg):
        raise CompilationError(str(msg))


class _State:
    """The render in progress, shared by a Renderer and its copies: cached macro modules reach it here."""

    def __init__(self, rec: _Recorder | None = None):
        self.rec = rec


# Context functions a static plan may call directly (static_render); macros are the other kind.
_STATIC_CALLS = ("ref", "source", "config", "var", "env_var")
_TEMPLATE_CACHE = 512


_MARKER_CHAR = re.compile(f"unexpected char '(?:{_MARK_OPEN}|{_MARK_CLOSE}|{_PH_OPEN}|{_PH_CLOSE}|"
                          r"\\ue00[0-3])' at \d+")
_INTERNAL = re.compile("[\ue000-\ue003]|\\\\ue00[0-3]")


def _jinja_message(message: str | None) -> str:
    """Jinja's message without the invisible line markers add_line_markers put in the source: Jinja
    meets one where a tag left open runs into the next line."""
    message = _MARKER_CHAR.sub("unexpected end of line inside a tag (is a `{{`, `{%`, bracket or quote "
                               "left unclosed?)", message or "invalid syntax")
    return _INTERNAL.sub("", message).rstrip(".")


def _syntax_error(exc, filename: str) -> CompilationError:
    """A Jinja syntax error as a located CompilationError."""
    return CompilationError(f"Jinja syntax error: {_jinja_message(exc.message)}.", path=exc.filename or filename,
                            line=exc.lineno)


class Renderer:
    """Owns the project's one Jinja Environment and its compiled macro templates.

    Macro modules are made once over one shared context whose per-render entries (ref, var, this,
    extra...) are swapped in by each render, so renders run one at a time (loading is sequential).
    """

    def __init__(self, *, vars: Mapping[str, Any], target: Mapping[str, Any], macro_sources=(),
                 dispatch=(), invocation_id: str | None = None, allow_secret_env: bool = False,
                 flags: Mapping[str, Any] | None = None):
        self.vars = vars
        self.allow_secret_env = allow_secret_env  # True only for targets/profiles (render_string)
        self.target = target
        self.run_started_at = _dt.datetime.now(_dt.timezone.utc)
        self.root_package = str(target.get("project_name") or "")
        self.dispatch_orders = dispatch_orders(dispatch)  # the project's `dispatch:` config
        self._dbt_globals = dbt_context.constants(invocation_id)
        # one per load: manifest.json and run_results.json record it (Manifest.metadata)
        self.invocation_id: str = self._dbt_globals["invocation_id"]
        if flags:  # dbt_project.yml `flags:`
            self._dbt_globals["flags"] = dbt_context.flags(project=flags)
        self.env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
            keep_trailing_newline=True,
            autoescape=False,
        )
        # Installed packages are written for dbt, where an undefined name renders as '' (dbt_utils
        # sets variables only in some branches); the project's own Jinja stays strict.
        self.package_env = self.env.overlay(undefined=jinja2.Undefined)
        self.macro_templates: list = []  # (template, package), in registration order
        self.macro_paths: dict[str, str] = {}
        self.macro_names: dict[str, str] = {}  # macro name -> file (first package defining it)
        self.macro_packages: dict[str, str] = {}  # macro file -> package
        self._names_by_package: dict[str, set[str]] = {}
        # (source, filename) -> Template, least recently used first. Schema tests of one kind in one
        # YAML file share their text, so each is compiled once; the filename is part of the key
        # because tracebacks and error locations come from it.
        self._templates: OrderedDict = OrderedDict()
        self._state = _State()
        # package of the node -> (the context its macro modules see, its flat macro functions);
        # emptied when a macro file is added, built again on the next render.
        self._shared_by: dict[str, tuple[dict, dict]] = {}
        self._shared: dict | None = None  # the one of the render in progress
        self._macro_fns: dict[str, Callable] = {}
        self._top_level_code = False  # a macro file runs code outside macros: rebuild modules per render
        for name, text in macro_sources:
            self.add_macro_file(name, text)

    def _compile(self, source: str | jinja2.nodes.Template, filename: str, *, key=None, env=None):
        """A Template from source text or a parsed tree; with a key, memoised (LRU)."""
        if key is not None and key in self._templates:
            self._templates.move_to_end(key)
            return self._templates[key]
        env = env or self.env
        try:
            code = env.compile(source, name=filename, filename=filename)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc, filename) from None
        template = env.template_class.from_code(env, code, env.make_globals(None))
        if key is not None:
            self._templates[key] = template
            if len(self._templates) > _TEMPLATE_CACHE:
                self._templates.popitem(last=False)
        return template

    def add_macro_file(self, filename: str, text: str, package: str | None = None) -> list[str]:
        """Compile a macro file of a package (default: the root project) once; returns its macro names.

        Register the root project's files first, then each installed package's, then the internal
        `dbt` package's (namespace.INTERNAL); resolution order is dbt's whatever the order.
        """
        try:
            tree = self.env.parse(text, name=filename, filename=filename)
        except jinja2.TemplateSyntaxError as exc:
            raise _syntax_error(exc, filename) from None
        package = package or self.root_package
        lenient = package not in (self.root_package, INTERNAL)
        template = self._compile(tree, filename, env=self.package_env if lenient else None)
        names = [n.name for n in tree.find_all(jinja2.nodes.Macro)]
        self._names_by_package.setdefault(package, set()).update(names)
        for n in names:
            self.macro_names.setdefault(n, filename)
        self.macro_packages[filename] = package
        self.macro_templates.append((template, package))
        # Code outside macros (a top-level {% set %}, {% do %}...) runs when the module is made,
        # and may depend on the render (var(), this); such files get fresh modules every render.
        self._top_level_code = self._top_level_code or not all(
            isinstance(n, jinja2.nodes.Macro)
            or (isinstance(n, jinja2.nodes.Output) and all(isinstance(c, jinja2.nodes.TemplateData) for c in n.nodes))
            for n in tree.body)
        self._shared_by = {}  # a new or changed macro file: modules are made again
        return names

    def _per_render(self, rec: _Recorder, this: Relation | None) -> dict:
        return {
            "ref": rec.ref, "source": rec.source, "config": _ConfigCallable(rec), "var": rec.var,
            "env_var": rec.env_var, "log": rec.log, "return": rec.do_return,
            "exceptions": {"raise_compiler_error": rec.raise_compiler_error, "warn": rec.warn},
            "this": this,
            # dbt's `{% if execute %}` guards: false while loading (and the render needs run time)
            "execute": True if rec.runtime is not None else ExecuteFlag(rec.mark),
            "run_query": rec.backend("run_query"), "statement": rec.backend("statement"),
            "load_result": rec.backend("load_result"), "load_relation": rec.backend("load_relation"),
        }

    def _constant(self) -> dict:
        return {
            "is_incremental": lambda: False, "target": self.target,
            "should_store_failures": lambda: False,  # decided per test at run time (store_failures)
            "run_started_at": self.run_started_at,
            "project_name": self.target.get("project_name"),
            **self.env.globals,  # range, dict, namespace...: macro modules made over this dict need them
            **self._dbt_globals,
        }

    def _add_macros(self, ctx: dict, state: _State, package: str) -> dict:
        """Make every macro module over ctx (shared=True: macros see ref/var and each other), then
        put the names a node of `package` sees into ctx in dbt's order (namespace.Resolver).
        Context values (ref, config, this...) win over macros of the same name."""
        by_package: dict[str, dict[str, Callable]] = {}
        for template, pkg in self.macro_templates:
            macros = by_package.setdefault(pkg, {})
            for name, macro in self._module_macros(template, ctx).items():
                macros[name] = _wrap_macro(macro, name, state)
        resolver = Resolver(self.root_package, package, by_package, self.dispatch_orders)
        fns = {}
        protected = set(ctx)
        for name, value in resolver.flat.items():
            if name not in protected:
                ctx[name] = value
                if not isinstance(value, PackageMacros):
                    fns[name] = value
        ctx.setdefault("adapter", Adapter(resolver, state))
        return fns

    def has_macro(self, name: str, package: str | None = None) -> bool:
        """Whether a macro exists: in that package, or (no package) in any."""
        if package is None:
            return name in self.macro_names
        return name in self._names_by_package.get(package, ())

    def _module_macros(self, template, ctx: dict) -> dict:
        """Make a macro file's module over ctx; its macros by name, also `_private` ones, which a
        TemplateModule does not export (dbt_utils._is_relation): they are in the module's context."""
        context = template.new_context(ctx, shared=True)
        TemplateModule(template, context)
        return {name: m for name, m in context.vars.items() if isinstance(m, jinja2.runtime.Macro)}

    def _context(self, rec: _Recorder, this: Relation | None, extra: Mapping | None, package: str) -> dict:
        """A fresh context with fresh macro modules (used when a macro file has top-level code)."""
        ctx: dict[str, Any] = {**self._per_render(rec, this), **self._constant(), **(extra or {})}
        ctx["context"] = ctx  # dbt's `context`: the render's own context, context['var'], context.get(...)
        self._add_macros(ctx, _State(rec), package)
        return ctx

    def _enter(self, rec: _Recorder, this: Relation | None, extra: Mapping | None,
               package: str) -> tuple[dict, dict, list]:
        """Point the shared context (macro modules made once) at this render; returns what to undo."""
        if package not in self._shared_by:
            shared = {**self._per_render(rec, this), **self._constant()}
            # dbt's `context`: the render's own context (this dict, so it holds each render's entries)
            shared["context"] = shared
            self._shared_by[package] = (shared, self._add_macros(shared, self._state, package))
        shared, self._macro_fns = self._shared_by[package]
        self._shared = shared
        own = self._per_render(rec, this)
        shared.update(own)
        self._state.rec = rec
        saved = []
        for key, value in (extra or {}).items():
            saved.append((key, shared.get(key, _MISSING)))
            shared[key] = value
        return shared, own, saved

    def _leave(self, saved: list) -> None:
        shared = self._shared
        for key, value in reversed(saved):
            if value is _MISSING:
                shared.pop(key, None)
            else:
                shared[key] = value
        self._state.rec = None

    def render(
        self,
        source: str,
        *,
        filename: str,
        node_name: str,
        this: Relation | None = None,
        extra: Mapping | None = None,
        package: str | None = None,
        runtime=None,
    ) -> RenderResult:
        """Render a model/test template of a package (default: the root project) once:
        placeholders for refs, markers mapped to lines. With a run-time backend (`runtime`, or
        `extra['__sm_runtime']`): ref()/source() are real relations, `execute` is true and
        run_query/statement/adapter introspection run in its session."""
        if extra and "__sm_runtime" in extra:
            extra = dict(extra)
            runtime = extra.pop("__sm_runtime")
        rec = _Recorder(self, node_name, filename, None, runtime)
        saved: list = []
        own = None
        package = package or self.root_package
        try:
            if self._top_level_code:
                ctx = self._context(rec, this, extra, package)
            else:
                ctx, own, saved = self._enter(rec, this, extra, package)
                # Marker characters typed into a model would be read as markers by Jinja's path.
                steps = static_render.plan(split_tags(source)) if _MARK_OPEN not in source else None
                if steps is not None:
                    if self._run_static(steps, ctx, own, rec):
                        return rec.result
                    # A static call failed: start again with Jinja, whose error messages users know.
                    rec = _Recorder(self, node_name, filename, None, runtime)
                    ctx.update(self._per_render(rec, this))
                    for key, value in (extra or {}).items():
                        ctx[key] = value
                    self._state.rec = rec
            return self._render_jinja(add_line_markers(source), rec, ctx, filename, node_name)
        finally:
            if own is not None:
                self._leave(saved)

    def _run_static(self, steps: list, ctx: dict, own: dict, rec: _Recorder) -> bool:
        """Evaluate a static plan into rec.result; False if Jinja must render the template."""

        def allowed(name: str, fn) -> bool:  # the plain function Jinja would call, not a shadowing extra
            if "." in name:  # dbt.x / a package's macro: a namespace of ours, not an extra
                return isinstance(ctx.get(name.partition(".")[0]), PackageMacros)
            return fn is own.get(name) and name in _STATIC_CALLS or fn is self._macro_fns.get(name)

        done = static_render.run(steps, ctx, allowed, rec)
        if done is None or _MARK_OPEN in done[0]:  # a value with marker characters: Jinja's path reads them
            return False
        rec.result.text, rec.result.line_map = done
        return True

    def _render_jinja(self, marked: str, rec: _Recorder, ctx: dict, filename: str, node_name: str) -> RenderResult:
        try:
            template = self._compile(marked, filename, key=(marked, filename))
        except CompilationError as exc:
            raise exc.located(node=node_name) from None
        rec.template = template
        try:
            output = template.render(ctx)
        except _MacroReturn as ret:
            output = str(ret.value)
        except CompilationError as exc:
            raise exc.located(node=node_name, path=filename, line=_template_line(exc, filename)) from None
        except SparkModelsError as exc:  # a run-time call's own error (run_query's SQL): at the calling line
            path, line = _template_frame(exc, filename, self.macro_names.values())
            if exc.path is None:
                exc.path, exc.line = path, line
                called = _template_line(exc, filename)
                if path != filename and called:  # in a macro: say where the model called it
                    exc.hint = " ".join(x for x in (exc.hint, f"Called from {filename}:{called}.") if x)
            raise exc.located(node=node_name) from None
        except jinja2.TemplateSyntaxError as exc:
            raise CompilationError(f"Jinja syntax error: {_jinja_message(exc.message)}.", node=node_name,
                                   path=exc.filename or filename, line=exc.lineno) from None
        except Exception as exc:  # noqa: BLE001 - any error in user Jinja becomes a located error
            path, line = _template_frame(exc, filename, self.macro_names.values())
            raise CompilationError(_describe(exc), node=node_name, path=path, line=line) from None
        rec.result.text, rec.result.line_map = strip_line_markers(output)
        return rec.result


class _ConfigCallable:
    """`config(...)` in a model, plus dbt's `config.get(key, default)`."""

    def __init__(self, rec: _Recorder):
        self._rec = rec

    def __call__(self, *args, **kwargs):
        return self._rec.config(*args, **kwargs)

    def get(self, key, default=None):
        return self._rec.result.config.get(key, default)


def _wrap_macro(macro, name: str, state: _State) -> Callable:
    def call(*args, **kwargs):
        state.rec.result.macros_used.add(name)
        try:
            return macro(*args, **kwargs)
        except _MacroReturn as ret:
            return ret.value

    call.__name__ = name
    return call


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"{exc.message}." if exc.message else "undefined variable."
    return f"{type(exc).__name__}: {exc}"


def _template_frame(exc: BaseException, filename: str, macro_files) -> tuple[str, int | None]:
    """Innermost traceback frame that belongs to a template (Jinja rewrites them to source lines)."""
    known = {filename, *macro_files}
    found = (filename, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in known:
            found = (frame.filename, frame.lineno)
    return found


def _template_line(exc: BaseException, filename: str) -> int | None:
    return _template_frame(exc, filename, ())[1]


def resolve(text: str, relations: list[str]) -> str:
    """Replace ref()/source() placeholders with their relation names."""
    if _PH_OPEN not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: relations[int(m.group(1))], text)


def render_string(text: str, *, path: str, line: int | None = None, vars: Mapping | None = None) -> str:
    """Render a small string (targets, YAML values) with env_var() and var() only."""
    renderer = Renderer(vars=vars or {}, target={}, allow_secret_env=True)
    try:
        return renderer.render(text, filename=path, node_name=path).text
    except CompilationError as exc:
        # The line inside the small string means nothing to the user; the YAML line does.
        exc.node, exc.line = None, line or exc.line
        raise
