"""The render: a project's one Jinja Environment and the dbt context each template is rendered with.

Each template is rendered once at load. The context is assembled here per render: the functions of
one render (recorder.py: ref, source, config, var...; ref()/source() give placeholders that
`resolve()` swaps for relation names), dbt's globals (dbt_context.py) and the project's macros
(macros.py, modules made once over a shared context). Templates whose only Jinja is literal calls
skip Jinja (static.py); errors are located by located.py. This keeps dependency discovery free of
Spark and avoids rendering a template twice. A template that reads `execute` or calls
run_query/statement/adapter introspection (introspect.py) is marked `RenderResult.runtime`, and is
rendered again when it runs with a run-time backend (`render(runtime=...)`,
sparkmodels/execute/runtime/) answering those calls in the run's session.
"""

from __future__ import annotations

import datetime as _dt
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jinja2

from sparkmodels.errors import CompilationError
from sparkmodels.project.render import dbt_context
from sparkmodels.project.render import static as static_render
from sparkmodels.project.render.introspect import ExecuteFlag, Relation
from sparkmodels.project.render.lines import (
    _MARK_OPEN,
    _TAG,  # noqa: F401 - tests split templates with render._TAG
    add_line_markers,
    split_tags,
    strip_line_markers,
)
from sparkmodels.project.render.located import render_template, syntax_error
from sparkmodels.project.render.macros import MacroFiles
from sparkmodels.project.render.namespace import INTERNAL, PackageMacros, dispatch_orders
from sparkmodels.project.render.recorder import (
    MISSING,
    ConfigCallable,
    Recorder,
    RenderResult,
    resolve,
)

__all__ = ["Relation", "Renderer", "RenderResult", "add_line_markers", "render_string", "resolve",
           "strip_line_markers"]


class _State:
    """The render in progress, shared by a Renderer and its copies: cached macro modules reach it here."""

    def __init__(self, rec: Recorder | None = None):
        self.rec = rec


# Context functions a static plan may call directly (static_render); macros are the other kind.
_STATIC_CALLS = ("ref", "source", "config", "var", "env_var")
_TEMPLATE_CACHE = 512


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
        self.macros = MacroFiles()
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
            raise syntax_error(exc, filename) from None
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
            raise syntax_error(exc, filename) from None
        package = package or self.root_package
        lenient = package not in (self.root_package, INTERNAL)
        template = self._compile(tree, filename, env=self.package_env if lenient else None)
        names = self.macros.add(filename, tree, template, package)
        self._shared_by = {}  # a new or changed macro file: modules are made again
        return names

    def _per_render(self, rec: Recorder, this: Relation | None) -> dict:
        return {
            "ref": rec.ref, "source": rec.source, "config": ConfigCallable(rec), "var": rec.var,
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
        """Make every macro module over ctx (macros see ref/var and each other) and put the names a
        node of `package` sees into ctx (macros.MacroFiles.install); returns the plain functions."""
        return self.macros.install(ctx, state, package, self.root_package, self.dispatch_orders)

    def has_macro(self, name: str, package: str | None = None) -> bool:
        """Whether a macro exists: in that package, or (no package) in any."""
        return self.macros.has(name, package)

    @property
    def macro_names(self) -> dict[str, str]:
        """macro name -> the file defining it (the first package's)."""
        return self.macros.names

    @property
    def macro_packages(self) -> dict[str, str]:
        """macro file -> its package."""
        return self.macros.packages

    def _context(self, rec: Recorder, this: Relation | None, extra: Mapping | None, package: str) -> dict:
        """A fresh context with fresh macro modules (used when a macro file has top-level code)."""
        ctx: dict[str, Any] = {**self._per_render(rec, this), **self._constant(), **(extra or {})}
        ctx["context"] = ctx  # dbt's `context`: the render's own context, context['var'], context.get(...)
        self._add_macros(ctx, _State(rec), package)
        return ctx

    def _enter(self, rec: Recorder, this: Relation | None, extra: Mapping | None,
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
            saved.append((key, shared.get(key, MISSING)))
            shared[key] = value
        return shared, own, saved

    def _leave(self, saved: list) -> None:
        shared = self._shared
        for key, value in reversed(saved):
            if value is MISSING:
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
        rec = Recorder(self, node_name, filename, None, runtime)
        saved: list = []
        own = None
        package = package or self.root_package
        try:
            if self.macros.top_level_code:
                ctx = self._context(rec, this, extra, package)
            else:
                ctx, own, saved = self._enter(rec, this, extra, package)
                # Marker characters typed into a model would be read as markers by Jinja's path.
                steps = static_render.plan(split_tags(source)) if _MARK_OPEN not in source else None
                if steps is not None:
                    if self._run_static(steps, ctx, own, rec):
                        return rec.result
                    # A static call failed: start again with Jinja, whose error messages users know.
                    rec = Recorder(self, node_name, filename, None, runtime)
                    ctx.update(self._per_render(rec, this))
                    for key, value in (extra or {}).items():
                        ctx[key] = value
                    self._state.rec = rec
            return self._render_jinja(add_line_markers(source), rec, ctx, filename, node_name)
        finally:
            if own is not None:
                self._leave(saved)

    def _run_static(self, steps: list, ctx: dict, own: dict, rec: Recorder) -> bool:
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

    def _render_jinja(self, marked: str, rec: Recorder, ctx: dict, filename: str, node_name: str) -> RenderResult:
        try:
            template = self._compile(marked, filename, key=(marked, filename))
        except CompilationError as exc:
            raise exc.located(node=node_name) from None
        rec.template = template
        output = render_template(template, ctx, filename=filename, node_name=node_name,
                                 macro_files=self.macros.names.values())
        rec.result.text, rec.result.line_map = strip_line_markers(output)
        return rec.result


def render_string(text: str, *, path: str, line: int | None = None, vars: Mapping | None = None) -> str:
    """Render a small string (targets, YAML values) with env_var() and var() only."""
    renderer = Renderer(vars=vars or {}, target={}, allow_secret_env=True)
    try:
        return renderer.render(text, filename=path, node_name=path).text
    except CompilationError as exc:
        # The line inside the small string means nothing to the user; the YAML line does.
        exc.node, exc.line = None, line or exc.line
        raise
