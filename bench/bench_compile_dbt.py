"""Compile a generated 1,000-model dbt project whose models call dbt_utils and dbt. macros; no JVM.

    python bench/bench_compile_dbt.py [--models 1000] [--repeats 3] [--peer ../shared/peers/dbt-utils]

The project is a dbt_project.yml folder with dbt-utils installed under dbt_packages/ (copied from
the peer checkout; a small stand-in package with the same macro names when it is absent). About
90 % of the models call `dbt_utils.generate_surrogate_key`, `dbt_utils.safe_divide` and
`dbt.date_trunc` / `dbt.dateadd` / `dbt.safe_cast` / `dbt.type_string`, the rest only ref(). Each
repeat runs `sparkmodels compile` in a new process into a fresh target/ and records whether
pyspark or py4j was imported. Prints the seconds per run and their median.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """\
import atexit, json, sys
atexit.register(lambda: open({out!r}, 'w').write(json.dumps(
    sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))))
sys.argv = ['sparkmodels', 'compile', '--project-dir', {project!r}]
from sparkmodels.app.cli import main
main()
"""
STAND_IN = """\
{% macro generate_surrogate_key(field_list) -%}
{%- set fields = [] -%}
{%- for field in field_list -%}
{%- do fields.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
{%- if not loop.last %}{%- do fields.append("'-'") -%}{%- endif -%}
{%- endfor -%}
{{ dbt.hash(dbt.concat(fields)) }}
{%- endmacro %}
{% macro safe_divide(numerator, denominator) -%}
( {{ numerator }} ) / nullif( ( {{ denominator }} ), 0)
{%- endmacro %}
"""


def generate(root: Path, n_models: int, peer: Path | None) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: bench_dbt\nversion: '1'\nmodels:\n  bench_dbt:\n    +materialized: view\n")
    pkg = root / "dbt_packages" / "dbt_utils"
    if peer is not None and (peer / "macros").is_dir():
        shutil.copytree(peer, pkg, ignore=shutil.ignore_patterns("integration_tests", ".git", "docs"))
    else:
        (pkg / "macros").mkdir(parents=True)
        (pkg / "dbt_project.yml").write_text("name: dbt_utils\n")
        (pkg / "macros" / "utils.sql").write_text(STAND_IN)
    for i in range(n_models):
        folder = root / "models" / f"layer_{i % 10}"
        folder.mkdir(exist_ok=True)
        if i < 20:
            sql = f"select {i} as id, cast('2024-01-0{1 + i % 9} 10:00:00' as timestamp) as ts, {i}.5 as amount, 2 as qty"
        elif i % 10 == 0:
            sql = f"select * from {{{{ ref('m{i - 7}') }}}}"
        else:
            up = f"m{i - 1 - (i % 7)}"
            sql = (
                "select\n"
                "  {{ dbt_utils.generate_surrogate_key(['id', 'ts']) }} as sk,\n"
                "  id, ts, amount, qty,\n"
                "  {{ dbt.date_trunc('month', 'ts') }} as month,\n"
                "  {{ dbt.dateadd('day', 7, 'ts') }} as week_later,\n"
                "  {{ dbt_utils.safe_divide('amount', 'qty') }} as unit_price,\n"
                f"  {{{{ dbt.safe_cast('amount', dbt.type_string()) }}}} as amount_text\n"
                f"from {{{{ ref('{up}') }}}}"
            )
        (folder / f"m{i}.sql").write_text(sql + "\n")
    return root


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", type=Path, default=REPO.parent / "shared" / "peers" / "dbt-utils")
    args = parser.parse_args(argv)
    peer = args.peer if args.peer.is_dir() else Path("/work/shared/peers/dbt-utils")
    with tempfile.TemporaryDirectory(prefix="smbench_dbt_") as tmp:
        root = generate(Path(tmp) / "project", args.models, peer if peer.is_dir() else None)
        times, leaked = [], set()
        for i in range(args.repeats):
            shutil.rmtree(root / "target", ignore_errors=True)
            out = Path(tmp) / f"mods{i}.json"
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", PROBE.format(out=str(out), project=str(root))],
                                  capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
                return 1
            leaked |= set(json.loads(out.read_text()))
        compiled = len(list((root / "target" / "compiled").rglob("*.sql")))
        print(json.dumps({"bench": "compile_dbt", "models": args.models, "compiled_files": compiled,
                          "package": "dbt-utils" if peer.is_dir() else "stand-in",
                          "seconds": [round(t, 2) for t in times], "median_s": round(statistics.median(times), 2),
                          "jvm_modules_imported": sorted(leaked)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
