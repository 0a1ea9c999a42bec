"""Hooks as configured: a node's pre_hook/post_hook (dbt's spellings) and a project's on-run-start/on-run-end.

dbt accepts `pre-hook`/`pre_hook` (and `post-…`), as a string, a list, or `{sql: ..., transaction: ...}`
mappings, in the project file's `models:`/`seeds:`/`snapshots:` trees (`+pre-hook:`), in schema YAML
`config:` and in a model's `config(...)`; the lists add up from the project file to the model (hooks
are cumulative, as in dbt). Each hook is a `Hook`: its SQL as a plain `str` (so config,
manifest.json and build fingerprints see dbt's strings), remembering the file and line that
configured it, so a failing hook's error points there. Hooks are rendered when they run
(execute/hooks.py), never at load: their `{{ this }}` is the relation being built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparkmodels.errors import ProjectError

# Every spelling dbt accepts -> the one key the config of a node holds.
HOOK_KEYS = {"pre-hook": "pre_hook", "pre_hook": "pre_hook", "post-hook": "post_hook", "post_hook": "post_hook"}
HOOK_NAMES = frozenset(HOOK_KEYS)
NODE_HOOKS = ("pre_hook", "post_hook")
RUN_HOOKS = ("on-run-start", "on-run-end")


class Hook(str):
    """A hook's SQL template, with where it was configured (path relative to the project, 1-based line)."""

    path: str | None
    line: int | None

    def __new__(cls, sql: str, path: str | None = None, line: int | None = None) -> Hook:
        obj = super().__new__(cls, sql)
        obj.path, obj.line = path, line
        return obj

    def __reduce__(self):  # copies keep the location
        return (Hook, (str(self), self.path, self.line))

    @property
    def location(self) -> str:
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path


def hooks_of(value: Any, path: str | None, line: int | None, key: str,
             item_lines: list[int] | None = None) -> tuple[Hook, ...]:
    """A configured hook value (None, a string, a {sql:} mapping, or a list of them) as Hooks.

    `line`: the key's; `item_lines`: a YAML list's items' own lines (yamlio.LineDict.item_lines),
    so an error in the second hook of a list names the second item's line."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else [value]
    if item_lines is None or len(item_lines) != len(items) or items is not value:
        item_lines = [line] * len(items)
    out = []
    for item, at in zip(items, item_lines, strict=True):
        if isinstance(item, Hook):
            out.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("sql"), str):
            out.append(Hook(item["sql"], path, (getattr(item, "key_lines", None) or {}).get("sql") or at))
        elif isinstance(item, str):
            out.append(Hook(item, path, at))
        elif item is not None:
            raise ProjectError(f"{key} takes SQL text, a list of them, or {{sql: ...}} mappings, not {item!r}.",
                               path=path, line=line)
    return tuple(h for h in out if h.strip())


def value_line(mapping: Mapping, key) -> int | None:
    """The line a YAML mapping's value starts on (a `|` block's first SQL line), else its key's."""
    found = (getattr(mapping, "value_lines", None) or {}).get(key)
    return found or (getattr(mapping, "key_lines", None) or {}).get(key)


def normalize(config: Mapping, path: str | None, line: int | None = None) -> dict:
    """config with every hook key as `pre_hook`/`post_hook` holding a tuple of Hooks.

    A YAML mapping (yamlio.LineDict) gives each key's own line; `line` is the fallback (a model's
    `config(...)` call). Both spellings in one mapping add up (dash first)."""
    if HOOK_NAMES.isdisjoint(config):  # most configs: no hooks (this runs per node and folder level)
        return config if type(config) is dict else dict(config)
    item_lines = getattr(config, "item_lines", None) or {}
    out: dict = {}
    for key, value in config.items():
        canonical = HOOK_KEYS.get(key) if isinstance(key, str) else None
        if canonical is None:
            out[key] = value
            continue
        found = hooks_of(value, path, value_line(config, key) or line, key, item_lines.get(key))
        out[canonical] = (*out.get(canonical, ()), *found)
    return out


def merge(old: Any, new: Any) -> tuple[Hook, ...]:
    """Hooks of an outer config level, then an inner one's (dbt's hooks are cumulative)."""
    return (*hooks_of(old, None, None, "hook"), *hooks_of(new, None, None, "hook"))


def node_hooks(config: Mapping, which: str) -> tuple[Hook, ...]:
    """A node's pre_hook or post_hook list, in the order they run."""
    return hooks_of(config.get(which), None, None, which)


def has_hooks(config: Mapping) -> bool:
    return any(node_hooks(config, which) for which in NODE_HOOKS)


def line_in(text: str, names) -> int | None:
    """The first line of a model file that names one of the keys (where its config() sets a hook)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if any(name in line for name in names):
            return number
    return None


def model_hooks(result_config: Mapping, path: str, text: str) -> dict:
    """A model's `config(...)` (from rendering) with its hooks located at the line naming them."""
    if HOOK_NAMES.isdisjoint(result_config):
        return result_config
    out: dict = {}
    for key, value in result_config.items():
        canonical = HOOK_KEYS.get(key) if isinstance(key, str) else None
        if canonical is None:
            out[key] = value
        else:
            line = line_in(text, (key,))
            items = _lines_in_text(text, line, value) if isinstance(value, (list, tuple)) else None
            out[canonical] = (*out.get(canonical, ()), *hooks_of(value, path, line, key, items))
    return out


def _lines_in_text(text: str, line: int | None, items) -> list[int] | None:
    """The lines of a config() list's hooks: each item's text found in the file after the key's
    line, in order (an item written with escapes is not found: it and the rest keep the key's line)."""
    if line is None:
        return None
    pos = sum(len(x) + 1 for x in text.split("\n")[: line - 1])
    out = []
    for item in items:
        at = text.find(item, pos) if isinstance(item, str) and item else -1
        if at < 0:
            pos = len(text) + 1  # lost the thread: every later item gets the key's line
            out.append(line)
            continue
        out.append(text.count("\n", 0, at) + 1)
        pos = at + len(item)
    return out


def project_hooks(data: Mapping, path: str) -> dict[str, tuple[Hook, ...]]:
    """`on-run-start` / `on-run-end` of a project file (also spelt with underscores)."""
    item_lines = getattr(data, "item_lines", None) or {}
    out = {}
    for which in RUN_HOOKS:
        found: tuple[Hook, ...] = ()
        for key in (which, which.replace("-", "_")):
            if key in data:
                found = (*found, *hooks_of(data[key], path, value_line(data, key), key, item_lines.get(key)))
        out[which] = found
    return out


def locate_tree(tree: Any, path: str) -> Any:
    """A project file's config tree (`models:`...) with each hook value made Hooks at its key's line,
    a list's items at their own (before the tree is frozen, which drops the lines YAML gave)."""
    if not isinstance(tree, Mapping):
        return tree
    item_lines = getattr(tree, "item_lines", None) or {}
    out = {}
    for key, value in tree.items():
        bare = key[1:] if isinstance(key, str) and key.startswith("+") else key
        if isinstance(bare, str) and bare in HOOK_KEYS:
            out[key] = hooks_of(value, path, value_line(tree, key), bare, item_lines.get(key))
        else:
            out[key] = locate_tree(value, path)
    return out
