"""Identifiers that become folder names in the warehouse: schema, alias, model and seed names.

A schema or alias ends up as one path component under the warehouse (`<warehouse>/<schema>/<name>`)
and inside backticks in compiled SQL, so a value with `/`, `..`, an absolute path or a backtick
would write outside the warehouse or break the quoting. They are refused when the project loads,
before Spark starts, with the file and line the value came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sparkmodels.errors import ProjectError, WarehouseError

# Keys of a node's config whose values name a folder or a relation.
IDENTIFIER_KEYS = ("schema", "alias")


def identifier_problem(value) -> str | None:
    """Why `value` cannot be a schema/alias/table name (one path component), or None if it can."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__} {value!r}"
    if not value.strip():
        return "must not be empty"
    if "/" in value or "\\" in value:
        return "must not contain '/' or '\\' (it would be a path, not one folder name)"
    if value.startswith("."):
        # '.', '..' and hidden names ('.versions' is where table versions live)
        return "must not start with '.'"
    bad = sorted({c for c in value if c in "`:" or ord(c) < 32})
    if bad:
        return "must not contain " + ", ".join(repr(c) for c in bad)
    return None


def check_table_parts(warehouse, schema: str, name: str) -> None:
    """A table location's schema and name are one folder name each (storage re-checks what load checked)."""
    for what, part in (("schema", schema), ("table name", name)):
        problem = identifier_problem(part)
        if problem:
            raise WarehouseError(f"the {what} {part!r} {problem}; sparkmodels writes only inside the warehouse "
                                 f"'{warehouse}'.")


def check_identifier(value, what: str, *, node: str | None = None, path: str | None = None,
                     line: int | None = None) -> None:
    """Raise a located ProjectError when `value` is not a valid identifier."""
    problem = identifier_problem(value)
    if problem:
        raise ProjectError(
            f"{what} {value!r} {problem}.", node=node, path=path, line=line,
            hint="Schemas, aliases and model names become folder names inside the warehouse: use letters, "
                 "digits, '_' or '-'.",
        )


def _line_in(root: Path, rel: str | None, needle: str) -> int | None:
    """The first line of a project file that mentions `needle` (where a config value was written)."""
    if not rel:
        return None
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except OSError:
        return None
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def check_nodes(root: Path, config_file: str, nodes: Iterable) -> None:
    """Every node's schema/alias config and every model or seed name, located in the file that set it."""
    for node in nodes:
        candidates = [node.path, getattr(node, "patch_path", None), config_file]
        if node.resource_type in ("model", "seed", "snapshot"):
            check_identifier(node.name, f"{node.resource_type} name", node=node.name, path=node.path)
        for key in IDENTIFIER_KEYS:
            value = node.config.get(key) if node.config is not None else None
            if value is None:
                continue
            if identifier_problem(value) is None:
                continue
            needle = str(value)
            where = next(((rel, ln) for rel in candidates if (ln := _line_in(root, rel, needle))), (node.path, None))
            check_identifier(value, f"config {key}", node=node.name, path=where[0], line=where[1])
