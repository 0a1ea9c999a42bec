"""YAML reading with line numbers: mappings remember where they start, errors name file and line."""

from __future__ import annotations

from pathlib import Path

import yaml

from sparkmodels.errors import ProjectError

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A dict that knows the 1-based line its YAML mapping started on."""

    line: int | None = None
    key_lines: dict | None = None  # key -> its 1-based line (schema-key validation points at the typo)
    # key -> the lines of its list's items, for keys whose value is a list (a hook list's items are
    # located one by one); None when no value is a list
    item_lines: dict | None = None
    # key -> the line its scalar value's text starts on, where that is not the key's line (a `|`
    # block's first line); None when every value starts on its key's line
    value_lines: dict | None = None


class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    pairs = []
    key_lines = {}
    item_lines = value_lines = None
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
            key = key_node.value  # YAML 1.1 reads `off:`/`yes:` as booleans; as keys they are names
        pairs.append((key, loader.construct_object(value_node, deep=True)))
        key_lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.SequenceNode):
            if item_lines is None:
                item_lines = {}
            item_lines[key] = [_first_line(item) for item in value_node.value]
        elif isinstance(value_node, yaml.ScalarNode) and (
                value_node.style in ("|", ">") or value_node.start_mark.line != key_node.start_mark.line):
            if value_lines is None:
                value_lines = {}
            value_lines[key] = _first_line(value_node)
    result = LineDict(pairs)
    result.line = node.start_mark.line + 1
    result.key_lines = key_lines
    result.item_lines = item_lines
    result.value_lines = value_lines
    return result


def _first_line(node) -> int:
    """The 1-based line a value's text starts on: a `|` / `>` block scalar's is the line below its indicator."""
    line = node.start_mark.line + 1
    return line + 1 if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") else line


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(value, default: int | None = None) -> int | None:
    """The line a YAML mapping started on, when known."""
    return getattr(value, "line", None) or default


def parse_yaml(text: str, path: str):
    """Parse YAML text; a syntax error becomes a ProjectError naming path and line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectError(f"invalid YAML: {problem}.", path=path, line=line) from None


def load_yaml(path: Path, display: str | None = None):
    """Read and parse one YAML file (empty file -> {})."""
    data = parse_yaml(path.read_text(encoding="utf-8"), display or str(path))
    return LineDict() if data is None else data
