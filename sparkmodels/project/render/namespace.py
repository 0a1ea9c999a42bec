"""Macro namespaces: which macro a name means, package by package, and `adapter.dispatch` (dbt's rules).

Macros belong to a package: the root project, an installed package (`dbt_utils`), or the internal
`dbt` package (sparkmodels' own Jinja files under include/macros/). dbt resolves them like this,
and so do we:

- An unqualified name in a node of package P: P's macros, then the root project's, then the
  package names themselves (`dbt_utils.star`), then `dbt`, then the internal macros. So a root
  macro called `date_trunc` overrides dbt's for unqualified calls, while `dbt.date_trunc` stays
  dbt's (and dispatches, so a root `spark__date_trunc` still overrides its implementation).
- `adapter.dispatch(name, macro_namespace)` tries, for each package of the search order, the
  `spark__name` then the `default__name` macro. The search order is the project's `dispatch:`
  config for that namespace (`search_order:`), else [root project, the namespace] for a known
  package (also `dbt`), else the unqualified lookup above.

Packages are registered with `Renderer.add_macro_file(path, text, package=name)`, root project
first; everything here works on the per-package tables of macro functions the Renderer builds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sparkmodels.errors import CompilationError
from sparkmodels.project.render.introspect import INTROSPECTIVE

INTERNAL = "dbt"  # the package name of sparkmodels' own dbt macros, as dbt's global project
ADAPTER_PREFIXES = ("spark", "default")  # dbt-spark's adapter type, then its parent


class PackageMacros:
    """One package's macros as a Jinja value: `dbt_utils.star(...)`, `dbt['date_trunc']`."""

    __slots__ = ("_name", "_macros")

    def __init__(self, name: str, macros: Mapping[str, Callable]):
        self._name = name
        self._macros = macros

    def __getattr__(self, item: str) -> Callable:
        try:
            return self._macros[item]
        except KeyError:
            # Jinja turns AttributeError into StrictUndefined, which names the package and macro.
            raise AttributeError(f"'{self._name}' has no macro named '{item}'") from None

    def __getitem__(self, item: str) -> Callable:
        return self._macros[item]

    def __contains__(self, item: object) -> bool:
        return item in self._macros

    def __iter__(self):
        return iter(self._macros)

    def __repr__(self) -> str:
        return f"<macro namespace {self._name}>"


def dispatch_orders(raw: Any) -> dict[str, tuple[str, ...]]:
    """The project's `dispatch:` list as {macro_namespace: search_order}; bad shapes are errors."""
    orders: dict[str, tuple[str, ...]] = {}
    for entry in raw or ():
        if not isinstance(entry, Mapping) or "macro_namespace" not in entry or not isinstance(
                entry.get("search_order"), (list, tuple)):
            raise CompilationError("each `dispatch:` entry needs `macro_namespace:` and a `search_order:` list.")
        orders[str(entry["macro_namespace"])] = tuple(str(p) for p in entry["search_order"])
    return orders


class Resolver:
    """The macro functions of one context (the node's package), by package and flattened."""

    def __init__(self, root: str, search_package: str, by_package: Mapping[str, Mapping[str, Callable]],
                 orders: Mapping[str, tuple[str, ...]]):
        self.root = root
        self.search_package = search_package
        self.by_package = by_package
        self.orders = orders
        self.flat = self._flatten()

    def _flatten(self) -> dict[str, Any]:
        """Name -> value in dbt's unqualified search order (later updates win)."""
        internal = self.by_package.get(INTERNAL, {})
        flat: dict[str, Any] = {}
        # Not dbt: other packages' macros are also reachable unqualified as a last resort, so YAML
        # tests written `dbt_utils.x` still find `test_x` when the caller drops the prefix.
        for pkg, macros in self.by_package.items():
            if pkg not in (INTERNAL, self.root, self.search_package):
                for name, fn in macros.items():
                    flat.setdefault(name, fn)
        flat.update(internal)
        flat[INTERNAL] = PackageMacros(INTERNAL, internal)
        for pkg, macros in self.by_package.items():
            if pkg != INTERNAL:
                flat[pkg] = PackageMacros(pkg, macros)
        flat.update(self.by_package.get(self.root, {}))
        flat.update(self.by_package.get(self.search_package, {}))
        return flat

    def search_packages(self, namespace: str | None) -> tuple[str | None, ...]:
        if namespace is None:
            return (None,)
        if namespace in self.orders:
            return self.orders[namespace]
        if namespace in self.by_package or namespace == self.root:
            return (self.root, namespace)
        return (None,)

    def lookup(self, package: str | None, name: str) -> Callable | None:
        if package is None:
            value = self.flat.get(name)
            return value if callable(value) and not isinstance(value, PackageMacros) else None
        return self.by_package.get(package, {}).get(name)

    def dispatch(self, macro_name: str, macro_namespace: str | None = None, packages: Iterable | None = None):
        """dbt's adapter.dispatch: the first `spark__`/`default__` macro along the search order."""
        if "." in macro_name:
            raise CompilationError(f"In dispatch: the macro name '{macro_name}' must not contain a dot; "
                                   "pass the package as macro_namespace.")
        order = tuple(packages) if packages is not None else self.search_packages(macro_namespace)
        attempts = []
        for package in order:
            for prefix in ADAPTER_PREFIXES:
                search = f"{prefix}__{macro_name}"
                found = self.lookup(package, search)
                attempts.append(search if package is None else f"{package}.{search}")
                if found is not None:
                    return found
        raise CompilationError(
            f"In dispatch: no macro named '{macro_name}' found within namespace '{macro_namespace}'. "
            f"Searched for: {', '.join(repr(a) for a in attempts)}.")


class Adapter:
    """`adapter`: dispatch, quoting and the adapter type; introspection goes to the render's run-time
    backend, or while loading to dbt's parse-time stand-ins (introspect.py), which mark the render."""

    def __init__(self, resolver: Resolver, state=None):
        self._resolver = resolver
        self._state = state  # jinja._State: the render in progress

    def dispatch(self, macro_name, macro_namespace=None, packages=None):
        return self._resolver.dispatch(macro_name, macro_namespace, packages)

    @staticmethod
    def quote(identifier) -> str:
        return "`" + str(identifier).replace("`", "``") + "`"

    @staticmethod
    def type() -> str:
        return "spark"

    def __getattr__(self, item: str):
        rec = self._state.rec if self._state is not None else None
        if rec is not None and rec.runtime is not None:
            found = getattr(rec.runtime.adapter, item, None)
            if found is not None:
                return found
            raise CompilationError(f"adapter.{item}() is not available on Spark in sparkmodels.")
        if rec is not None and item in INTROSPECTIVE:
            return rec.parse.adapter_call(item)
        if item.startswith("__"):
            raise AttributeError(item)
        raise CompilationError(
            f"adapter.{item} is not available in sparkmodels (Spark's adapter offers dispatch, quote, type "
            "and the introspection methods get_columns_in_relation, get_relation, list_relations...).")
