"""A project's macro files, compiled once: which package defines which macro, and the macro functions a render sees.

Files are registered root project first, then each installed package's, then the internal `dbt`
package's (namespace.INTERNAL); the names a node sees are resolved in dbt's order whatever the
registration order (namespace.Resolver). A macro module is made over a context dict (shared=True),
so its macros see that dict's ref/var/this and each other.
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2
from jinja2.environment import TemplateModule

from sparkmodels.project.render.namespace import Adapter, PackageMacros, Resolver
from sparkmodels.project.render.recorder import MacroReturn


class MacroFiles:
    """The compiled macro files of a project and its packages, in registration order."""

    def __init__(self) -> None:
        self.templates: list = []  # (template, package), in registration order
        self.names: dict[str, str] = {}  # macro name -> file (first package defining it)
        self.packages: dict[str, str] = {}  # macro file -> package
        self._by_package: dict[str, set[str]] = {}
        # A file runs code outside macros (a top-level {% set %}, {% do %}...) when its module is
        # made, which may depend on the render (var(), this): modules are then made every render.
        self.top_level_code = False

    def add(self, filename: str, tree: jinja2.nodes.Template, template, package: str) -> list[str]:
        """Register a parsed (tree) and compiled (template) macro file of a package; its macro names."""
        names = [n.name for n in tree.find_all(jinja2.nodes.Macro)]
        self._by_package.setdefault(package, set()).update(names)
        for n in names:
            self.names.setdefault(n, filename)
        self.packages[filename] = package
        self.templates.append((template, package))
        self.top_level_code = self.top_level_code or not all(
            isinstance(n, jinja2.nodes.Macro)
            or (isinstance(n, jinja2.nodes.Output) and all(isinstance(c, jinja2.nodes.TemplateData) for c in n.nodes))
            for n in tree.body)
        return names

    def has(self, name: str, package: str | None = None) -> bool:
        """Whether a macro exists: in that package, or (no package) in any."""
        if package is None:
            return name in self.names
        return name in self._by_package.get(package, ())

    def install(self, ctx: dict, state, package: str, root_package: str, dispatch_orders) -> dict[str, Callable]:
        """Make every macro module over ctx, then put the names a node of `package` sees into ctx in
        dbt's order; returns the plain macro functions put there. Context values (ref, config,
        this...) win over macros of the same name. `state.rec` is the render in progress (it records
        the macros used)."""
        by_package: dict[str, dict[str, Callable]] = {}
        for template, pkg in self.templates:
            macros = by_package.setdefault(pkg, {})
            for name, macro in module_macros(template, ctx).items():
                macros[name] = _wrap(macro, name, state)
        resolver = Resolver(root_package, package, by_package, dispatch_orders)
        fns = {}
        protected = set(ctx)
        for name, value in resolver.flat.items():
            if name not in protected:
                ctx[name] = value
                if not isinstance(value, PackageMacros):
                    fns[name] = value
        ctx.setdefault("adapter", Adapter(resolver, state))
        return fns


def module_macros(template, ctx: dict) -> dict:
    """Make a macro file's module over ctx; its macros by name, also `_private` ones, which a
    TemplateModule does not export (dbt_utils._is_relation): they are in the module's context."""
    context = template.new_context(ctx, shared=True)
    TemplateModule(template, context)
    return {name: m for name, m in context.vars.items() if isinstance(m, jinja2.runtime.Macro)}


def _wrap(macro, name: str, state) -> Callable:
    def call(*args, **kwargs):
        state.rec.result.macros_used.add(name)
        try:
            return macro(*args, **kwargs)
        except MacroReturn as ret:
            return ret.value

    call.__name__ = name
    return call
