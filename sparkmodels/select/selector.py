"""Node selection, dbt's grammar: a pure function from selector strings to sets of unique_ids.

    spec      := criterion ( " " criterion )*        (union)
    criterion := atom ( "," atom )*                  (intersection)
    atom      := ["@"] [N "+"] [method ":"] value ["+" [N]]
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sparkmodels.errors import SelectionError, did_you_mean
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.select.graph import Graph

_ATOM = re.compile(
    r"^(?P<at>@)?(?:(?P<pdepth>\d*)(?P<parents>\+))?"
    r"(?:(?P<method>[A-Za-z_][\w.]*):)?(?P<value>[^@+:,\s][^@+,\s]*?)"
    r"(?P<children>\+(?P<cdepth>\d*))?$"
)


@dataclass(frozen=True)
class Atom:
    """One selector term, e.g. `2+tag:nightly+`."""

    text: str
    method: str
    value: str
    parents: bool = False
    parents_depth: int | None = None
    children: bool = False
    children_depth: int | None = None
    childrens_parents: bool = False


@dataclass(frozen=True)
class SelectionResult:
    """The selected unique_ids plus warnings for terms that matched nothing."""

    selected: frozenset[str]
    warnings: tuple[str, ...] = field(default=())


def parse_atom(text: str) -> Atom:
    """Parse one term; a malformed term is a SelectionError quoting it."""
    m = _ATOM.match(text)
    if not m:
        raise SelectionError(f"cannot parse selector '{text}'.",
                             hint="Expected e.g. 'model', '+model', 'model+', 'tag:x', 'path:models/staging'.")
    if m.group("value").endswith(":"):
        raise SelectionError(f"'{text}': the method '{m.group('value')}' needs a value, e.g. 'tag:nightly'.")
    method = m.group("method") or "default"
    base = method.split(".", 1)[0]
    if method != "default" and base not in METHODS:
        raise SelectionError(
            f"unknown selector method '{method}:' in '{text}'." + did_you_mean(base, METHODS),
        )
    if m.group("at") and (m.group("parents")):
        raise SelectionError(f"'{text}': '@' cannot be combined with a leading '+'.")
    return Atom(
        text=text, method=method, value=m.group("value"),
        parents=bool(m.group("parents")),
        parents_depth=int(m.group("pdepth")) if m.group("pdepth") else None,
        children=bool(m.group("children")),
        children_depth=int(m.group("cdepth")) if m.group("cdepth") else None,
        childrens_parents=bool(m.group("at")),
    )


def parse(selectors: Sequence[str] | str | None) -> list[list[Atom]]:
    """Selector strings (each may hold several space-separated terms) -> union of intersections."""
    if selectors is None:
        return []
    if isinstance(selectors, str):
        selectors = [selectors]
    spec = []
    for chunk in selectors:
        for criterion in chunk.split():
            parts = criterion.split(",")
            if any(not p for p in parts):
                raise SelectionError(f"empty term in '{criterion}' (stray comma).")
            spec.append([parse_atom(p) for p in parts])
    return spec


def _fqn_match(node: Node, value: str) -> bool:
    if fnmatch.fnmatchcase(node.name, value):
        return True
    parts = value.split(".")
    for fqn in (node.fqn, node.fqn[1:]):  # `project.folder...` or `folder...` prefixes, as in dbt
        if len(fqn) >= len(parts) and all(fnmatch.fnmatchcase(f, p) for f, p in zip(fqn, parts, strict=False)):
            return True
    dotted = ".".join(node.fqn)
    return fnmatch.fnmatchcase(dotted, value) or fnmatch.fnmatchcase(".".join(node.fqn[1:]), value) or (
        # `staging` selects everything in the staging folder, as in dbt
        value in node.fqn[1:-1]
    )


def _path_match(node: Node, value: str) -> bool:
    value = value.rstrip("/")
    return node.path == value or node.path.startswith(value + "/") or fnmatch.fnmatchcase(node.path, value)


def _config_match(node: Node, key: str, value: str) -> bool:
    actual = node.config.get(key)
    if isinstance(actual, (list, tuple)):
        return value in [str(v) for v in actual]
    return str(actual).lower() == value.lower() if actual is not None else False


def _default_match(node: Node, value: str) -> bool:
    if "/" in value or value.endswith((".sql", ".py", ".csv")):
        return _path_match(node, value)
    return _fqn_match(node, value)


def _tag_match(node: Node, value: str) -> bool:
    return any(fnmatch.fnmatchcase(str(t), value) for t in node.config.get("tags", ()) or ())


def _file_match(node: Node, value: str) -> bool:
    filename = node.path.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(filename, value) or filename.rsplit(".", 1)[0] == value


def _source_match(node: Node, value: str) -> bool:
    if node.resource_type != "source":
        return False
    src, _, table = value.partition(".")
    return fnmatch.fnmatchcase(node.source_name or "", src) and (not table or fnmatch.fnmatchcase(node.name, table))


def _test_type_match(node: Node, value: str) -> bool:
    """unit | data, and data tests split into generic (YAML) | singular (.sql)."""
    if node.test is None:
        return False
    kind = node.test.kind
    return kind == value or (value == "data" and kind in ("generic", "singular"))


def _test_name_match(node: Node, value: str) -> bool:
    return node.test is not None and fnmatch.fnmatchcase(node.test.name, value)


# The methods answered from the manifest alone: name -> match(node, value). state:, result: and
# selector: come from the `context` evaluate() is given; config.<key>: is matched by its prefix.
MATCHERS: dict[str, Callable[[Node, str], bool]] = {
    "default": _default_match,
    "fqn": _fqn_match,
    "tag": _tag_match,
    "path": _path_match,
    "file": _file_match,
    "source": _source_match,
    "resource_type": lambda node, value: node.resource_type == value,
    "package": lambda node, value: node.package == value,
    "test_type": _test_type_match,
    "test_name": _test_name_match,
}


# Every method a selector may name (config.<key> by its base "config").
METHODS = (*(m for m in MATCHERS if m != "default"), "config", "state", "result", "selector")


def match_method(node: Node, atom: Atom, context: dict) -> bool:
    """Whether one node matches an atom's method:value (graph operators aside)."""
    method, value = atom.method, atom.value
    matcher = MATCHERS.get(method)
    if matcher is not None:
        return matcher(node, value)
    if method.startswith("config."):
        return _config_match(node, method.split(".", 1)[1], value)
    matcher = context.get(method)
    if matcher is None:
        if method == "selector":
            raise SelectionError(f"'{atom.text}': there is no selectors.yml in this project.")
        raise SelectionError(f"'{atom.text}': the {method}: method needs --state.")
    return matcher(node, value)


def _expand(atom: Atom, base: set[str], graph: Graph) -> set[str]:
    out = set(base)
    for uid in base:
        if atom.parents:
            out |= graph.ancestors(uid, atom.parents_depth)
        if atom.children or atom.childrens_parents:
            kids = graph.descendants(uid, atom.children_depth)
            out |= kids
            if atom.childrens_parents:
                for kid in kids:
                    out |= graph.ancestors(kid)
    return out


def evaluate(spec: list[list[Atom]], manifest: Manifest, graph: Graph, context: dict | None = None,
             candidates: Iterable[str] | None = None) -> tuple[set[str], list[str]]:
    """Nodes matched by a parsed spec, and a warning for each term that matched nothing."""
    context = context or {}
    nodes = manifest.nodes
    pool = list(candidates) if candidates is not None else list(nodes)
    selected: set[str] = set()
    warnings: list[str] = []
    for criterion in spec:
        result: set[str] | None = None
        for atom in criterion:
            base = {uid for uid in pool if match_method(nodes[uid], atom, context)}
            if not base:
                names = sorted({n.name for n in nodes.values()})
                warnings.append(f"the selector '{atom.text}' matched nothing." + did_you_mean(atom.value, names))
            matched = _expand(atom, base, graph)
            result = matched if result is None else result & matched
        selected |= result or set()
    return selected, warnings


def select(manifest: Manifest, graph: Graph, select: Sequence[str] | str | None = None,
           exclude: Sequence[str] | str | None = None, *, resource_types: Iterable[str] = ("model",),
           context: dict | None = None, indirect: str = "eager") -> SelectionResult:
    """Apply --select/--exclude; with no --select, every node of the given resource types.

    Tests are also selected through what they test (dbt's indirect selection): "eager" adds a test
    when any parent is selected, "buildable" only when its other parents are selected too or are
    upstream of the selection (so a relationships test runs once both ends are built).
    """
    types = set(resource_types)
    include_spec = parse(select)
    if include_spec:
        chosen, warnings = evaluate(include_spec, manifest, graph, context)
    else:
        chosen, warnings = set(manifest.nodes), []
    exclude_spec = parse(exclude)
    dropped: set[str] = set()
    if exclude_spec:
        dropped, more = evaluate(exclude_spec, manifest, graph, context)
        chosen -= dropped
        warnings += more
    if "test" in types:
        if include_spec:
            chosen |= indirect_tests(manifest, graph, chosen, indirect) - dropped
        if dropped:  # excluding a model excludes its tests
            chosen -= {uid for uid in chosen if set(_test_parents(manifest.nodes[uid])) & dropped}
    chosen = {uid for uid in chosen if manifest.nodes[uid].resource_type in types}
    return SelectionResult(frozenset(chosen), tuple(warnings))


def _test_parents(node: Node) -> tuple[str, ...]:
    if node.resource_type != "test":
        return ()
    if node.is_unit_test:
        return (node.test.attached_node,)
    return node.depends_on


def indirect_tests(manifest: Manifest, graph: Graph, chosen: set[str], mode: str = "eager") -> set[str]:
    """Tests pulled in by their selected parents (see select())."""
    out: set[str] = set()
    upstream: set[str] | None = None
    for uid, node in manifest.nodes.items():
        parents = set(_test_parents(node))
        if uid in chosen or not parents & chosen:
            continue
        if mode == "buildable" and not node.is_unit_test:
            if upstream is None:
                upstream = set().union(*(graph.ancestors(c) for c in chosen)) if chosen else set()
            if not all(p in chosen or p in upstream or manifest.nodes[p].resource_type == "source"
                       for p in parents):
                continue
        out.add(uid)
    return out
