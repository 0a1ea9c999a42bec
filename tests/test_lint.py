"""Architecture rules that ruff can check (pyspark only imported eagerly by the Spark-facing modules),
and the ones it cannot: no `materialized` compared to a name outside execute/materializations/."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the dev extra: pip install -e '.[dev]'")
    proc = subprocess.run([ruff, "check", "sparkmodels", "tests", "bench", "scripts"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_loading_and_compiling_do_not_import_pyspark(example_project, tmp_path):
    code = (
        "import sys, sparkmodels; from sparkmodels.app.cli import cli; "
        f"p = sparkmodels.compile({str(example_project)!r}); "
        "print('pyspark' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "False False", out.stderr


PKG = REPO / "sparkmodels"
STRATEGIES = PKG / "execute" / "materializations"


def _is_materialized_value(expr: ast.expr) -> bool:
    """`x.materialized`, `materialized`, `cfg["materialized"]`, `cfg.get("materialized", ...)`."""
    if isinstance(expr, ast.Attribute):
        return expr.attr == "materialized"
    if isinstance(expr, ast.Name):
        return expr.id == "materialized"
    if isinstance(expr, ast.Subscript):
        return isinstance(expr.slice, ast.Constant) and expr.slice.value == "materialized"
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get":
        return bool(expr.args) and isinstance(expr.args[0], ast.Constant) and expr.args[0].value == "materialized"
    return False


def materialized_comparisons(source: str) -> list[int]:
    """Lines comparing a materialisation name with ==, !=, in or not in."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(
                isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            if any(_is_materialized_value(e) for e in (node.left, *node.comparators)):
                lines.append(node.lineno)
    return lines


def test_the_rule_sees_every_form_of_comparison():
    code = ("a = n.materialized == 'view'\nb = 'table' != n.materialized\nc = n.materialized in ('x', 'y')\n"
            "d = cfg.get('materialized') not in ['x']\ne = cfg['materialized'] == 'x'\n"
            "f = kw.arg == 'materialized'\ng = kinds.of(n).inlined\n")
    assert materialized_comparisons(code) == [1, 2, 3, 4, 5]


def test_no_materialized_string_comparison_outside_the_strategies():
    """Code outside execute/materializations/ asks a Kinds table (project/kinds.py) or the registry
    what a materialisation is; a name comparison would miss every strategy added later."""
    found = [f"{path.relative_to(REPO)}:{line}" for path in sorted(PKG.rglob("*.py"))
             if STRATEGIES not in path.parents
             for line in materialized_comparisons(path.read_text(encoding="utf-8"))]
    assert not found, "compare kinds, not names: " + ", ".join(found)
