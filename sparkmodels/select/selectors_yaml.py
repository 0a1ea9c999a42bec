"""YAML selectors (selectors.yml, dbt's shape): named definitions evaluated to sets of unique_ids.

    selectors:
      - name: nightly
        description: ...
        default: false
        definition:                      # a string, a method dict, or union/intersection lists
          union:
            - tag:nightly                # a selector string (the CLI grammar)
            - method: path               # a method dict with graph-operator flags
              value: models/marts
              children: true             # also parents, childrens_parents, children_depth, parents_depth
            - exclude: [tag:deprecated]  # removed from the whole union
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.errors import SelectionError, did_you_mean
from sparkmodels.project.manifest import Manifest
from sparkmodels.select.graph import Graph
from sparkmodels.select.selector import METHODS, evaluate, parse, parse_atom

FILE_NAMES = ("selectors.yml", "selectors.yaml")
_FLAGS = ("value", "children", "parents", "childrens_parents", "children_depth", "parents_depth",
          "exclude", "method", "indirect_selection", "description")


@dataclass(frozen=True)
class Selectors:
    """The named selectors of a project, raw definitions by name."""

    definitions: Mapping[str, object]
    default: str | None = None
    path: str = "selectors.yml"

    def names(self) -> list[str]:
        return sorted(self.definitions)


def load_selectors(root: str | Path) -> Selectors:
    """Read selectors.yml from the project root; an absent file is no selectors."""
    from sparkmodels.project.yamlio import load_yaml

    root = Path(root)
    path = next((root / n for n in FILE_NAMES if (root / n).exists()), None)
    if path is None:
        return Selectors({})
    raw = load_yaml(path) or {}
    return parse_selectors(raw, path.name)


def parse_selectors(raw, path: str = "selectors.yml") -> Selectors:
    """Validate the file's structure: a `selectors:` list of {name, definition}."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("selectors", []), list):
        raise SelectionError("expected a top-level 'selectors:' list.", path=path)
    defs: dict[str, object] = {}
    default = None
    for i, item in enumerate(raw.get("selectors") or []):
        if not isinstance(item, Mapping) or "name" not in item or "definition" not in item:
            raise SelectionError(f"selector #{i + 1} needs a 'name' and a 'definition'.", path=path)
        name = str(item["name"])
        if name in defs:
            raise SelectionError(f"the selector '{name}' is defined twice.", path=path)
        defs[name] = item["definition"]
        if item.get("default") is True:
            if default is not None:
                raise SelectionError(f"both '{default}' and '{name}' are marked default: true.", path=path)
            default = name
    return Selectors(defs, default, path)


class _Evaluator:
    def __init__(self, selectors: Selectors, manifest: Manifest, graph: Graph, context: dict | None):
        self.selectors, self.manifest, self.graph = selectors, manifest, graph
        self.context = dict(context or {})
        self.warnings: list[str] = []
        self._stack: list[str] = []

    def named(self, name: str) -> set[str]:
        if name not in self.selectors.definitions:
            raise SelectionError(f"no selector named '{name}' in {self.selectors.path}."
                                 + did_you_mean(name, self.selectors.names()))
        if name in self._stack:
            raise SelectionError(f"selector cycle: {' -> '.join([*self._stack, name])}.", path=self.selectors.path)
        self._stack.append(name)
        try:
            return self.definition(self.selectors.definitions[name], name)
        finally:
            self._stack.pop()

    def _string(self, text: str) -> set[str]:
        chosen, warnings = evaluate(parse(text), self.manifest, self.graph, self.context)
        self.warnings += warnings
        return chosen

    def _list(self, key: str, items, where: str) -> set[str]:
        if not isinstance(items, list):
            raise SelectionError(f"selector '{where}': '{key}' needs a list.", path=self.selectors.path)
        sets, dropped = [], set()
        for item in items:
            if isinstance(item, Mapping) and set(item) == {"exclude"}:
                dropped |= self._excluded(item["exclude"], where)
            else:
                sets.append(self.definition(item, where))
        if not sets:
            result: set[str] = set()
        elif key == "union":
            result = set().union(*sets)
        else:
            result = set.intersection(*sets)
        return result - dropped

    def _excluded(self, value, where: str) -> set[str]:
        items = value if isinstance(value, list) else [value]
        return set().union(*(self.definition(i, where) for i in items)) if items else set()

    def _method(self, spec: Mapping, where: str) -> set[str]:
        unknown = set(spec) - set(_FLAGS)
        if unknown:
            raise SelectionError(f"selector '{where}': unknown key(s) {', '.join(sorted(unknown))}."
                                 + did_you_mean(sorted(unknown)[0], _FLAGS), path=self.selectors.path)
        method = str(spec["method"])
        if "value" not in spec:
            raise SelectionError(f"selector '{where}': method '{method}' needs a 'value'.", path=self.selectors.path)
        value = str(spec["value"])
        if method == "selector":
            chosen = self.named(value)
        else:
            text = value if method in ("fqn", "default") else f"{method}:{value}"
            if method.split(".", 1)[0] not in (*METHODS, "default"):
                raise SelectionError(f"selector '{where}': unknown method '{method}'."
                                     + did_you_mean(method, METHODS), path=self.selectors.path)
            pdepth = spec.get("parents_depth")
            cdepth = spec.get("children_depth")
            prefix = "@" if spec.get("childrens_parents") else (
                f"{pdepth or ''}+" if spec.get("parents") or pdepth else "")
            suffix = f"+{cdepth or ''}" if spec.get("children") or cdepth else ""
            atom = parse_atom(f"{prefix}{text}{suffix}")
            chosen, warnings = evaluate([[atom]], self.manifest, self.graph, self.context)
            self.warnings += warnings
        if "exclude" in spec:
            chosen -= self._excluded(spec["exclude"], where)
        return chosen

    def definition(self, d, where: str) -> set[str]:
        if isinstance(d, str):
            return self._string(d)
        if isinstance(d, Mapping):
            keys = set(d)
            for key in ("union", "intersection"):
                if key in d:
                    if keys - {key, "exclude"}:
                        raise SelectionError(f"selector '{where}': '{key}' cannot be combined with "
                                             f"{', '.join(sorted(keys - {key}))}.", path=self.selectors.path)
                    chosen = self._list(key, d[key], where)
                    return chosen - self._excluded(d["exclude"], where) if "exclude" in d else chosen
            if "method" in d:
                return self._method(d, where)
            if len(d) == 1:  # shorthand `tag: nightly`
                (method, value), = d.items()
                return self._method({"method": method, "value": value}, where)
        raise SelectionError(f"selector '{where}': cannot read the definition {d!r}.",
                             hint="Use a string ('tag:x'), {method: ..., value: ...}, {union: [...]} or "
                                  "{intersection: [...]}.", path=self.selectors.path)


def resolve_selector(selectors: Selectors, name: str, manifest: Manifest, graph: Graph,
                     context: dict | None = None) -> tuple[frozenset[str], tuple[str, ...]]:
    """The unique_ids a named selector picks, and warnings for terms that matched nothing."""
    ev = _Evaluator(selectors, manifest, graph, context)
    chosen = ev.named(name)
    return frozenset(chosen), tuple(ev.warnings)


def selector_matcher(selectors: Selectors, manifest: Manifest, graph: Graph, context: dict | None = None):
    """A `selector:<name>` method for selector contexts: membership in the named selector's set."""
    cache: dict[str, frozenset[str]] = {}

    def match(node, name: str) -> bool:
        if name not in cache:
            cache[name] = resolve_selector(selectors, name, manifest, graph, context)[0]
        return node.unique_id in cache[name]

    return match
