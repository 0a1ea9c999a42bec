"""Model contracts at load time: `contract: {enforced: true}`, columns' data_type, `constraints:`.

dbt 1.5+'s rules, settled before Spark starts: a contract is enforced on SQL models materialized as
tables, views and incremental tables (incremental ones with on_schema_change append_new_columns or
fail); an ephemeral or Python model with an enforced contract is an error, as is a contracted model
without YAML columns, a column without data_type, or a constraint of an unknown type. Constraints
are dbt's dicts (type, expression, name, columns, to, to_columns, warn_unenforced,
warn_unsupported). sparkmodels enforces `not_null` and `check` (execute/checks/contracts.py, on the
staged data before publishing); `primary_key`, `unique` and `foreign_key` are accepted and warned
as not enforced, `custom` as not supported, as dbt-spark does. A view enforces no constraint at all
(dbt warns the same). The schema comparison itself needs Spark and lives in execute/checks/.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sparkmodels.errors import ProjectError, did_you_mean
from sparkmodels.project.frozen import freeze
from sparkmodels.project.kinds import BUILTIN, Kinds
from sparkmodels.project.manifest import Node
from sparkmodels.project.yamlio import line_of

CONSTRAINT_TYPES = ("check", "not_null", "unique", "primary_key", "foreign_key", "custom")
ENFORCED = ("not_null", "check")  # what a build verifies on the staged rows
NOT_ENFORCED = ("unique", "primary_key", "foreign_key")  # accepted, recorded, warned
INCREMENTAL_MODES = ("append_new_columns", "fail")


def enforced(config: Mapping) -> bool:
    """Whether a node's `contract` config is enforced (`contract: {enforced: true}`)."""
    contract = config.get("contract")
    return bool(isinstance(contract, Mapping) and contract.get("enforced"))


def constraint_list(raw, path: str, owner_line: int | None, *, column: str | None = None) -> tuple:
    """A YAML `constraints:` list as frozen dbt-shaped dicts, validated (a located ProjectError)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProjectError("`constraints:` must be a list of {type: ...} entries.", path=path, line=owner_line)
    out = []
    for entry in raw:
        line = line_of(entry, owner_line)
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if kind not in CONSTRAINT_TYPES:
            shown = f"'{kind}'" if kind is not None else "none"
            raise ProjectError(
                f"invalid constraint type {shown}" + (f" on column '{column}'" if column else "")
                + f"; it must be one of {', '.join(CONSTRAINT_TYPES)}." + did_you_mean(str(kind), CONSTRAINT_TYPES),
                path=path, line=line)
        if kind in ("check", "custom") and not str(entry.get("expression") or "").strip():
            raise ProjectError(f"a {kind} constraint needs an `expression:`.", path=path, line=line)
        if column is None and kind in ("not_null", "unique", "primary_key", "foreign_key") \
                and not entry.get("columns"):
            raise ProjectError(f"a model-level {kind} constraint needs `columns:`.", path=path, line=line)
        out.append({
            "type": kind,
            "name": entry.get("name"),
            "expression": entry.get("expression"),
            "warn_unenforced": bool(entry.get("warn_unenforced", True)),
            "warn_unsupported": bool(entry.get("warn_unsupported", True)),
            "to": entry.get("to"),
            "to_columns": list(entry.get("to_columns") or []),
            **({"columns": [str(c) for c in entry.get("columns") or []]} if column is None else {}),
            "line": line,
        })
    return freeze(out)


@dataclass(frozen=True)
class Located:
    """Where a model's contract is declared: the schema YAML file and the model entry's line."""

    path: str
    line: int | None


def where(node: Node) -> Located:
    """The schema YAML entry of a model (its file when it has none)."""
    return Located(node.patch_path or node.path, node.patch_line if node.patch_path else None)


def validate(node: Node, kinds: Kinds = BUILTIN) -> list[str]:
    """Check a model's contract and constraints against dbt's rules; returns warnings (located).

    Raises a ProjectError at the schema YAML (or the model file) for what dbt refuses at parse time.
    """
    if node.resource_type != "model":
        return []
    column_constraints = [(c.name, k) for c in node.columns.values() for k in c.constraints]
    if not enforced(node.config) or not node.enabled:
        return []
    at = where(node)
    kind = kinds.of(node)
    if kind.inlined:
        raise ProjectError(
            f"model '{node.name}' is ephemeral and has an enforced contract; dbt does not support contracts "
            "on ephemeral models (there is no relation whose columns could be checked).",
            node=node.name, path=at.path, line=at.line,
            hint="Materialize it as a table, view or incremental table, or remove `contract: {enforced: true}`.")
    if node.language != "sql":
        raise ProjectError(
            f"contract enforcement failed for '{node.name}': dbt enforces contracts on SQL models only "
            f"(language '{node.language}').", node=node.name, path=at.path, line=at.line,
            hint="Remove `contract: {enforced: true}` from the Python model, or check its columns with tests.")
    if not node.columns:
        raise ProjectError(
            f"model '{node.name}' has an enforced contract but no columns: declare every column with its "
            "data_type in a schema YAML file.", node=node.name, path=at.path, line=at.line)
    untyped = [c.name for c in node.columns.values() if not str(c.data_type or "").strip()]
    if untyped:
        raise ProjectError(
            f"model '{node.name}' has an enforced contract, which needs a data_type for every column; "
            f"missing for: {', '.join(untyped)}.", node=node.name, path=at.path,
            line=node.columns[untyped[0]].line or at.line)
    if kind.incremental:
        mode = str(node.config.get("on_schema_change") or "ignore")
        if mode not in INCREMENTAL_MODES:
            raise ProjectError(
                f"invalid value for on_schema_change: {mode}. Models materialized as incremental with "
                "contracts enabled must set on_schema_change to 'append_new_columns' or 'fail' (dbt's rule).",
                node=node.name, path=at.path, line=at.line)
    for constraint in node.constraints:
        for col in constraint.get("columns") or ():
            if col not in node.columns:
                raise ProjectError(
                    f"the {constraint['type']} constraint names column '{col}', which is not among the "
                    f"model's columns." + did_you_mean(col, node.columns),
                    node=node.name, path=at.path, line=constraint.get("line") or at.line)
    primary = [name for name, k in column_constraints if k["type"] == "primary_key"]
    if len(primary) > 1 or (primary and any(k["type"] == "primary_key" for k in node.constraints)):
        raise ProjectError(
            f"primary key constraint error: {len(primary)} column-level primary keys ({', '.join(primary)})"
            + (" and a model-level one" if any(k["type"] == "primary_key" for k in node.constraints) else "")
            + "; a primary key over several columns must be one model-level constraint.",
            node=node.name, path=at.path, line=at.line)
    warnings = []
    everything = [*column_constraints, *((None, k) for k in node.constraints)]
    for column, k in everything:
        line = k.get("line") or at.line
        label = f"{node.name}.{column}" if column else node.name
        if kind.session_scoped:
            if k["warn_unsupported"]:
                warnings.append(f"{at.path}:{line or ''}: the {k['type']} constraint on {label} is ignored: "
                                f"constraints are not supported for {node.materialized} materializations. "
                                "Set 'warn_unsupported: false' on it to silence this warning.")
        elif k["type"] in NOT_ENFORCED and k["warn_unenforced"]:
            warnings.append(f"{at.path}:{line or ''}: the {k['type']} constraint on {label} is not enforced "
                            "by sparkmodels (nor by dbt-spark): it is recorded in the manifest but guarantees "
                            "nothing about the data. Set 'warn_unenforced: false' on it to silence this warning.")
        elif k["type"] == "custom" and k["warn_unsupported"]:
            warnings.append(f"{at.path}:{line or ''}: the custom constraint on {label} is not supported on "
                            "Parquet tables and is ignored. Set 'warn_unsupported: false' on it to silence "
                            "this warning.")
    return warnings
