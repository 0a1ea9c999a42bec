"""Generic tests: dbt's `{% test %}` blocks as macros, test names, thresholds and the built-in SQL.

The built-in tests (not_null, unique, accepted_values, relationships) are Jinja macros in
`sparkmodels/include/macros/generic_tests.sql`, so compiled SQL looks like dbt's. The batch executor
computes not_null/unique/accepted_values from the same config without running that SQL
(see batch.py); both must agree, and tests/test_checks.py checks that they do.
"""

from __future__ import annotations

import hashlib
import operator
import re

from sparkmodels.errors import ProjectError

BUILTIN = ("not_null", "unique", "accepted_values", "relationships")
# Tests whose failure counts one shared aggregate query over the tested relation can compute.
BATCHABLE = ("not_null", "unique", "accepted_values")

_TEST_OPEN = re.compile(r"\{%(-?)\s*test\s+([A-Za-z_]\w*)\s*\(")
_TEST_CLOSE = re.compile(r"\{%(-?)\s*endtest\s*(-?)%\}")
_COND = re.compile(r"^\s*(==|=|!=|<>|>=|<=|>|<)\s*(-?\d+)\s*$")
_OPS = {"==": operator.eq, "=": operator.eq, "!=": operator.ne, "<>": operator.ne,
        ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
NAME_LIMIT = 80


def has_test_blocks(text: str) -> bool:
    """Whether a .sql file defines generic tests (`{% test name(...) %}`)."""
    return bool(_TEST_OPEN.search(text))


def to_macros(text: str) -> str:
    """Rewrite `{% test x(...) %}...{% endtest %}` as `{% macro test_x(...) %}...{% endmacro %}`.

    Line count is unchanged, so Jinja errors keep pointing at the right line of the file.
    """
    if "test" not in text:
        return text
    text = _TEST_OPEN.sub(lambda m: "{%" + m.group(1) + " macro test_" + m.group(2) + "(", text)
    return _TEST_CLOSE.sub(lambda m: "{%" + m.group(1) + " endmacro " + m.group(2) + "%}", text)


def parse_condition(expr, *, path: str | None = None, line: int | None = None, key: str = "warn_if"):
    """A warn_if/error_if string such as '>10' or '!= 0' -> predicate on the failure count."""
    m = _COND.match(str(expr))
    if not m:
        raise ProjectError(
            f"{key}: '{expr}' is not a condition; use an operator and a number, e.g. '>10' or '!= 0'.",
            path=path, line=line,
        )
    op, num = _OPS[m.group(1)], int(m.group(2))
    return lambda n: op(n, num)


def status_for(failures: int, config) -> tuple[str, str]:
    """dbt's rule: fail if severity is error and error_if holds; else warn if warn_if holds; else pass."""
    severity = str(config.get("severity", "error")).lower()
    error_if = str(config.get("error_if", "!= 0"))
    warn_if = str(config.get("warn_if", "!= 0"))
    got = f"Got {failures} result{'s' if failures != 1 else ''}"
    if severity == "error" and parse_condition(error_if, key="error_if")(failures):
        return "fail", f"{got}, configured to fail if {error_if}"
    if parse_condition(warn_if)(failures):
        return "warn", f"{got}, configured to warn if {warn_if}"
    return "pass", ""


def _flat(value) -> list[str]:
    if isinstance(value, dict) or hasattr(value, "items"):
        return [s for k in sorted(value) for s in _flat(value[k])]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _flat(v)]
    return [str(value)]


def test_node_name(test_name: str, target: str, column: str | None, kwargs) -> str:
    """dbt-style name: not_null_orders_id, accepted_values_orders_status__a__b; long ones hashed."""
    parts = [test_name, target] + ([column] if column else [])
    args = "__".join(_flat(kwargs)) if kwargs else ""
    name = "_".join(parts) + (f"__{args}" if args else "")
    name = re.sub(r"[^0-9A-Za-z_]+", "_", name)
    if len(name) > NAME_LIMIT:
        digest = hashlib.md5(name.encode("utf-8")).hexdigest()[:10]
        name = f"{name[:NAME_LIMIT - 11]}_{digest}"
    return name


def sql_literal(value, quote: bool = True) -> str:
    """A value of accepted_values as SQL."""
    if value is None:
        return "null"
    if not quote:
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- the built-in tests' SQL without Jinja ---------------------------------------------------------
_INPUT = re.compile(r"""^\s*(?:ref\(\s*'([^'\\{}]+)'\s*\)|source\(\s*'([^'\\{}]+)'\s*,\s*'([^'\\{}]+)'\s*\))\s*$""")


def _tag(call: tuple) -> str | None:
    """A literal ref()/source() tag for ("ref", m) or ("source", s, t), or None if a name needs quoting."""
    if any("'" in a or "\\" in a or "{" in a or "}" in a for a in call[1:]):
        return None
    args = ", ".join(f"'{a}'" for a in call[1:])
    return f"{{{{ {call[0]}({args}) }}}}"


def builtin_template(test_name: str, target: tuple, column: str | None, kwargs: dict,
                     where: str | None) -> str | None:
    """What sparkmodels' own macro for a built-in test renders, as a template whose only tags are
    literal ref()/source() calls, so the renderer's static path (no Jinja compile) records the same
    calls and text. None when anything would need Jinja itself (a `{`, unexpected arguments): the
    caller then renders the macro. tests/test_checks.py compares both paths."""
    model = _tag(target)
    texts = [column, where, *(str(v) for v in kwargs.values() if not isinstance(v, list | tuple))]
    if model is None or column is None or any(t is not None and ("{" in t or "}" in t) for t in texts):
        return None
    if where:
        model = f"(select * from {model} where {where}) dbt_subquery"
    c = column
    if test_name == "not_null" and not kwargs:
        return f"select {c}\nfrom {model}\nwhere {c} is null"
    if test_name == "unique" and not kwargs:
        return (f"select\n    {c} as unique_field,\n    count(*) as n_records\nfrom {model}\n"
                f"where {c} is not null\ngroup by {c}\nhaving count(*) > 1")
    if test_name == "accepted_values" and set(kwargs) <= {"values", "quote"} and "values" in kwargs:
        values, quote = kwargs["values"], kwargs.get("quote", True)
        if not isinstance(values, list | tuple) or any("{" in str(v) or "}" in str(v) for v in values):
            return None
        shown = ", ".join("'" + str(v).replace("'", "\\'") + "'" if quote else str(v) for v in values)
        return (f"with all_values as (\n    select\n        {c} as value_field,\n        count(*) as n_records\n"
                f"    from {model}\n    group by {c}\n)\nselect *\nfrom all_values\n"
                f"where value_field not in ({shown})")
    if test_name == "relationships" and set(kwargs) == {"to", "field"} and isinstance(kwargs["to"], str):
        m = _INPUT.match(kwargs["to"])
        parent = _tag(("ref", m.group(1)) if m and m.group(1) else ("source", m.group(2), m.group(3))) if m else None
        if parent is None:
            return None
        return (f"with child as (\n    select {c} as from_field\n    from {model}\n    where {c} is not null\n),\n\n"
                f"parent as (\n    select {kwargs['field']} as to_field\n    from {parent}\n)\n\n"
                "select from_field\nfrom child\nleft join parent\n    on child.from_field = parent.to_field\n"
                "where parent.to_field is null")
    return None
