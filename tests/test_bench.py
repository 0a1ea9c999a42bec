"""The benchmark suite works at tiny sizes: generated projects load, and run.py writes the expected figures.

No timing assertions: this machine is shared; the figures themselves are checked by reading bench/README.md.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sparkmodels

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _gen_project():
    spec = importlib.util.spec_from_file_location("gen_project", BENCH / "gen_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_warehouse_project_loads_with_layers_macros_configs_and_python_models(tmp_path):
    gen = _gen_project()
    root = gen.generate(30, tmp_path / "p30")
    project = sparkmodels.load_project(root)
    models = [n for n in project.manifest.nodes.values() if n.resource_type == "model"]
    assert len(models) == 30
    assert sum(n.resource_type == "seed" for n in project.manifest.nodes.values()) == 3
    python_models = [n for n in models if n.language == "python"]
    assert len(python_models) == 2 and all(len(n.depends_on) == 2 for n in python_models)
    layered = [n for n in models if n.name.startswith(("int_", "fct_"))]
    assert layered and all(1 <= len(n.depends_on) <= 3 for n in layered)
    assert any(n.materialized == "table" for n in layered)
    assert any(n.depends_on_macros for n in models)
    assert any(n.columns for n in models), "schema YAML patches were not applied"
    # Same seed, same project: the generator is deterministic.
    assert _tree(root) == _tree(gen.generate(30, tmp_path / "again"))


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*")
            if p.is_file() and "target" not in p.parts}


def test_generated_trivial_table_models_compile(tmp_path):
    gen = _gen_project()
    root = gen.generate_trivial(5, tmp_path / "t5", "table")
    result = sparkmodels.compile(root)
    assert len(result.compiled) == 5
    assert {n.materialized for n in result.project.manifest.nodes.values()} == {"table"}
    assert (root / "target" / "compiled" / gen.PROJECT / "models" / "m_0004.sql").read_text().strip() \
        == "select 4 as id, 'm4' as label"


@pytest.mark.slow
def test_run_py_quick_compile_writes_expected_figures(tmp_path):
    out = tmp_path / "latest.json"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--only", "compile", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert {"date", "commit", "nproc", "memory_gib", "quick"} <= set(report["meta"])
    figures = report["benchmarks"]["compile"]
    assert "error" not in figures
    for n in (100, 1000):
        entry = figures[f"N={n}"]
        assert {"ls", "compile", "compile_s_per_1000_models", "compile_net_s_per_1000_models"} <= set(entry)
        assert entry["compile"]["median_s"] > 0 and entry["compile"]["peak_mib_max"] > 0
    assert figures["no_jvm"]["pyspark_imported"] is False
    assert figures["no_jvm"]["java_child_seen"] is False
    assert "compile" in proc.stdout and "N=1000" in proc.stdout


def test_run_py_rejects_unknown_benchmark_name():
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "nope"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "unknown benchmark" in proc.stderr
