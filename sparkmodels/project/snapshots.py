"""Snapshot nodes (SCD type 2): `{% snapshot %}` blocks and dbt 1.9's YAML `snapshots:`, validated.

A snapshot is a Node with resource_type "snapshot" and materialized "snapshot". Its SQL (the block's
body, or `select * from <relation>` for the YAML form) is rendered like a model's, so ref()/source()
linking, did-you-mean errors and line maps work unchanged. The strategy's settings are checked here,
at load, so a misconfigured snapshot fails before Spark starts; `SnapshotSpec` is the checked form
the execute stage reads (no Spark in this module).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sparkmodels.errors import ProjectError
from sparkmodels.project.frozen import freeze

STRATEGIES = ("timestamp", "check")
HARD_DELETES = ("ignore", "invalidate", "new_record")
META_COLUMNS = ("dbt_valid_from", "dbt_valid_to", "dbt_scd_id", "dbt_updated_at", "dbt_is_deleted")

_BLOCK = re.compile(r"{%-?\s*snapshot\s+(\w+)\s*-?%}(.*?){%-?\s*endsnapshot\s*-?%}", re.S)


@dataclass(frozen=True)
class SnapshotBlock:
    name: str
    body: str  # the file's text with everything outside this block blanked (lines kept)
    line: int  # line of `{% snapshot %}`


def snapshot_blocks(text: str, path: str) -> list[SnapshotBlock]:
    """The `{% snapshot name %}` blocks of a file; each body keeps its file line numbers."""
    blocks = []
    for m in _BLOCK.finditer(text):
        before = text[: m.start(2)]
        prefix = "\n" * before.count("\n") + " " * (len(before) - before.rfind("\n") - 1)
        blocks.append(SnapshotBlock(m.group(1), prefix + m.group(2), text.count("\n", 0, m.start()) + 1))
    if not blocks and re.search(r"{%-?\s*snapshot\b", text):
        raise ProjectError("a {% snapshot name %} block has no matching {% endsnapshot %}.", path=path,
                           line=text.count("\n", 0, re.search(r"{%-?\s*snapshot\b", text).start()) + 1)
    return blocks


def relation_sql(relation, path: str, line: int | None, name: str) -> str:
    """The SQL a YAML snapshot's `relation: ref('x')` / `source('a', 'b')` stands for."""
    text = str(relation or "").strip()
    if not re.fullmatch(r"(ref|source)\s*\(.*\)", text, re.S):
        raise ProjectError(f"snapshot '{name}' needs `relation: ref('model')` or `relation: source('src', 'table')`"
                           f" (got {text!r}).", node=name, path=path, line=line)
    return "select * from {{ " + text + " }}"


@dataclass(frozen=True)
class SnapshotSpec:
    """A snapshot's checked settings: what scd2 needs to build the next version."""

    unique_key: tuple[str, ...]
    strategy: str
    updated_at: str | None
    check_cols: tuple[str, ...] | str  # a tuple of columns or "all"
    hard_deletes: str
    names: Mapping[str, str]  # dbt's meta column name -> the name in the table
    valid_to_current: str | None  # a SQL expression, or None: current rows have a null valid_to


def _columns(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value or ())


def snapshot_spec(config: Mapping, *, node: str, path: str, line: int | None = None) -> SnapshotSpec:
    """Validate a snapshot's config; a located ProjectError names what is missing or wrong."""

    def fail(message: str, hint: str | None = None):
        raise ProjectError(f"snapshot '{node}': {message}", node=node, path=path, line=line, hint=hint)

    strategy = config.get("strategy")
    if strategy is None:
        fail("no `strategy` configured.", hint="Set strategy='timestamp' (with updated_at) or 'check' "
                                              "(with check_cols).")
    if strategy not in STRATEGIES:
        fail(f"unknown strategy '{strategy}'; use one of {', '.join(STRATEGIES)}.")
    key = config.get("unique_key")
    unique_key = _columns(key) if not isinstance(key, str) else (key.strip(),) if key.strip() else ()
    if not unique_key:
        fail("no `unique_key` configured (one column or a list).")
    updated_at = config.get("updated_at")
    if strategy == "timestamp" and not updated_at:
        fail("strategy 'timestamp' needs `updated_at` (the column holding each row's last change time).")
    check_cols = config.get("check_cols")
    if strategy == "check":
        if not check_cols:
            fail("strategy 'check' needs `check_cols` (a list of columns, or 'all').")
        check_cols = "all" if check_cols == "all" else _columns(check_cols)
    hard = config.get("hard_deletes")
    if hard is None:
        hard = "invalidate" if config.get("invalidate_hard_deletes") else "ignore"
    if hard not in HARD_DELETES:
        fail(f"unknown hard_deletes '{hard}'; use one of {', '.join(HARD_DELETES)}.")
    renames = config.get("snapshot_meta_column_names") or {}
    if not isinstance(renames, Mapping):
        fail("snapshot_meta_column_names must be a mapping, e.g. {dbt_valid_from: valid_from}.")
    unknown = sorted(set(renames) - set(META_COLUMNS))
    if unknown:
        fail(f"snapshot_meta_column_names has unknown keys: {', '.join(unknown)}; known: {', '.join(META_COLUMNS)}.")
    names = {m: str(renames.get(m) or m) for m in META_COLUMNS}
    vtc = config.get("dbt_valid_to_current")
    return SnapshotSpec(unique_key, str(strategy), str(updated_at) if updated_at else None,
                        check_cols if strategy == "check" else (), str(hard), MappingProxyType(names),
                        str(vtc) if vtc else None)


def finish_config(config: dict) -> Mapping:
    """A snapshot node's frozen config: materialized is always 'snapshot'."""
    config["materialized"] = "snapshot"
    return freeze(config)
