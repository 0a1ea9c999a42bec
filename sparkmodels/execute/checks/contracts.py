"""Enforced model contracts at build time: the output's columns and types, then not_null/check.

Two calls on the write path (execute/writer.py, and view.py for views), both no-ops for a node
without `contract: {enforced: true}`:

- `conform(df, node)` before anything is written: the DataFrame's schema (no Spark job) against the
  YAML columns' data_types, as dbt's assert_columns_equivalent compares them: every declared column
  present with a matching type, no column the contract does not declare; names compared as Spark
  resolves them (case-insensitively), types as Spark normalises them (`int` = `integer`), without
  size, precision or scale (dbt's rule: `decimal(10,2)` matches `decimal`, `varchar(5)` `string`). A
  mismatch is a ContractError at the schema YAML with dbt's diff table. The result selects the
  columns in the contract's order, as dbt-spark's create table does.
- `verify_staged(df, node, version)` after Spark wrote the new version's files and before it is
  published: one aggregate query over those files counts the rows breaking each `not_null` and
  `check` constraint (a check passes when its expression is true or null, as in SQL). Any count
  above zero fails the write, which discards the version: the previous one stays published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sparkmodels.errors import ExecutionError
from sparkmodels.project.contracts import enforced, where
from sparkmodels.project.manifest import Node

_PARAMS = re.compile(r"(decimal|varchar|char)\(\s*\d+(?:\s*,\s*\d+)?\s*\)")
HEADER = ("column_name", "definition_type", "contract_type", "mismatch_reason")


class ContractError(ExecutionError):
    """A model's output does not match its enforced contract (columns, types or constraints)."""

    kind = "Contract error"


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _normal(type_string: str) -> str:
    """A Spark type as compared: its simpleString without size/precision/scale."""
    return _PARAMS.sub(lambda m: "string" if m.group(1) in ("varchar", "char") else m.group(1), type_string.lower())


def contract_types(spark, node: Node) -> dict[str, str]:
    """{column: Spark's simpleString of its data_type}: the YAML types as Spark reads them."""
    cols = list(node.columns.values())
    select = ", ".join(f"cast(null as {c.data_type}) as {_q(c.name)}" for c in cols)
    try:
        schema = spark.sql(f"select {select}").schema
    except Exception as exc:  # noqa: BLE001 - find the column whose data_type Spark rejects
        for c in cols:
            try:
                spark.sql(f"select cast(null as {c.data_type}) as x").schema  # noqa: B018
            except Exception:  # noqa: BLE001
                raise ContractError(
                    f"column '{c.name}' has data_type '{c.data_type}', which is not a Spark SQL type.",
                    node=node.name, path=node.patch_path or node.path, line=c.line,
                    hint="Use a Spark SQL type name, e.g. int, bigint, double, decimal(10,2), string, "
                         "date, timestamp, boolean, array<string>.") from None
        raise exc
    return {f.name: f.dataType.simpleString() for f in schema.fields}


def diff_table(rows: list[tuple[str, str, str, str]]) -> str:
    """dbt's contract diff as a Markdown table (column_name | definition_type | contract_type | reason)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def mismatches(definition: Mapping[str, str], contract: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """The rows of the diff: (name, the model's type, the contract's type, why), contract order first."""
    defined = {k.lower(): (k, v) for k, v in definition.items()}
    declared = {k.lower(): (k, v) for k, v in contract.items()}
    rows = []
    for key, (name, ctype) in declared.items():
        if key not in defined:
            rows.append((name, "", ctype.upper(), "missing in definition"))
        elif _normal(defined[key][1]) != _normal(ctype):
            rows.append((name, defined[key][1].upper(), ctype.upper(), "data type mismatch"))
    for key, (name, dtype) in defined.items():
        if key not in declared:
            rows.append((name, dtype.upper(), "", "missing in contract"))
    return rows


def conform(df, node: Node, *, constraints: bool = True):
    """df with the contract's columns in its order, or a ContractError with the diff; df itself
    when the node has no enforced contract. constraints: also check that every check expression
    resolves (False for a view, whose constraints are ignored as in dbt)."""
    if node.resource_type != "model" or not enforced(node.config):
        return df
    contract = contract_types(df.sparkSession, node)
    definition = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    rows = mismatches(definition, contract)
    if rows:
        raise ContractError(
            f"this model ({node.path}) has an enforced contract that failed. Please ensure the name, "
            "data_type, and number of columns in your contract match the columns in your model's "
            "definition. Nothing was written.\n\n" + diff_table(rows) + "\n",
            node=node.name, path=node.patch_path or node.path, line=where(node).line)
    by_key = {f.name.lower(): f.name for f in df.schema.fields}
    if [f.name for f in df.schema.fields] != list(node.columns):
        df = df.select(*[df[_q(by_key[c.name.lower()])].alias(c.name) for c in node.columns.values()])
    if constraints:
        _analyse_checks(df, node)
    return df


def _analyse_checks(df, node: Node) -> None:
    """Every check expression resolves against the output (analysis only), before anything is written."""
    from pyspark.sql import functions as F

    checks = [(cond, k) for _label, cond, k in _checks(node) if k["type"] == "check"]
    if not checks:
        return
    try:
        df.select(*[F.expr(cond) for cond, _k in checks]).schema  # noqa: B018
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ not in ("AnalysisException", "ParseException"):
            raise
        from sparkmodels.execute.spark.failures import plain_message

        bad = next((k for cond, k in checks if _fails(df, cond)), checks[0][1])
        reason = re.sub(r";?\s*line \d+ pos \d+;?.*", "", str(exc).splitlines()[0]).rstrip(" .;")
        raise ContractError(
            f"the check constraint `{bad.get('expression')}` cannot be evaluated over the model's columns: "
            f"{plain_message(reason).rstrip(' .')}. Nothing was written.", node=node.name,
            path=node.patch_path or node.path, line=bad.get("line")) from None


def _checks(node: Node) -> list[tuple[str, str, dict]]:
    """(label, SQL condition of a violating row, constraint) for each enforced constraint."""
    out = []
    for col in node.columns.values():
        for k in col.constraints:
            if k["type"] == "not_null":
                out.append((f"not_null on {col.name}", f"{_q(col.name)} is null", dict(k)))
            elif k["type"] == "check":
                out.append((f"check ({k['expression']}) on {col.name}", f"not ({k['expression']})", dict(k)))
    for k in node.constraints:
        if k["type"] == "not_null":
            for c in k.get("columns") or ():
                out.append((f"not_null on {c}", f"{_q(c)} is null", dict(k)))
        elif k["type"] == "check":
            out.append((f"check ({k['expression']})", f"not ({k['expression']})", dict(k)))
    return out


def verify_staged(df, node: Node, version) -> None:
    """Count each not_null/check violation in the version's files in one query; raise if any."""
    if node.resource_type != "model" or not enforced(node.config):
        return
    checks = _checks(node)
    if not checks:
        return
    from pyspark.sql import functions as F

    staged = df.sparkSession.read.schema(df.schema).parquet(str(version))
    counts = staged.agg(*[F.expr(f"count_if({cond})").alias(f"c{i}")
                          for i, (_label, cond, _k) in enumerate(checks)]).first()
    broken = [(label, int(counts[i]), k) for i, (label, _c, k) in enumerate(checks) if counts[i]]
    if not broken:
        return
    parts = [f"{label}{' (' + k['name'] + ')' if k.get('name') else ''}: {n} row{'s' if n != 1 else ''}"
             for label, n, k in broken]
    raise ContractError(
        f"this model's rows break its enforced constraints: {'; '.join(parts)}. Nothing was published: "
        "the previous version of the table (if any) is unchanged.",
        node=node.name, path=node.patch_path or node.path, line=broken[0][2].get("line"))


def _fails(df, cond: str) -> bool:
    """Whether Spark refuses a condition over df (analysis only, no job)."""
    from pyspark.sql import functions as F

    try:
        df.select(F.expr(cond)).schema  # noqa: B018
        return False
    except Exception:  # noqa: BLE001
        return True
