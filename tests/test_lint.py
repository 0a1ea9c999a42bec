"""Architecture rules that ruff can check: pyspark only imported eagerly by the Spark-facing modules."""

from __future__ import annotations

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
