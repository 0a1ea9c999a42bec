"""The benchmark suite's entry point: discovers bench/bench_*.py, runs them, prints and saves the figures.

    python bench/run.py [--quick] [--only NAME ...] [--json PATH]

Each benchmark module exposes NAME (str) and run(quick: bool) -> dict (JSON-able figures). Figures go to
stdout as an indented tree and, with metadata (date, git commit, machine), to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402


def discover() -> list:
    """Benchmark modules in file-name order."""
    modules = []
    for path in sorted(BENCH.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not (isinstance(getattr(module, "NAME", None), str) and callable(getattr(module, "run", None))):
            print(f"skipping {path.name}: it needs NAME and run(quick)", file=sys.stderr)
            continue
        modules.append(module)
    return modules


def machine() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=harness.REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=harness.REPO,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except OSError:
        commit, dirty = "unknown", False
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": commit + ("+dirty" if dirty else ""),
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def show(value, indent: int = 2, key: str = "") -> None:
    pad = " " * indent
    if isinstance(value, dict):
        if key:
            print(f"{pad}{key}:")
            indent += 2
        for k, v in value.items():
            show(v, indent, str(k))
    else:
        if isinstance(value, list):
            value = "[" + ", ".join(str(v) for v in value) + "]"
        print(f"{pad}{key}: {value}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the sparkmodels benchmark suite.")
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (< 5 minutes)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only this benchmark (repeatable)")
    ap.add_argument("--json", default=str(harness.RESULTS / "latest.json"), help="where to write the figures")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other benchmarks' figures already in the JSON file (with --only)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)

    modules = discover()
    if args.list:
        for m in modules:
            print(f"{m.NAME:12} {(m.__doc__ or '').strip().splitlines()[0] if m.__doc__ else ''}")
        return 0
    if args.only:
        known = {m.NAME for m in modules}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}", file=sys.stderr)
            return 2
        modules = [m for m in modules if m.NAME in args.only]

    report = {"meta": {**machine(), "quick": args.quick}, "benchmarks": {}}
    if args.merge and Path(args.json).is_file():
        previous = json.loads(Path(args.json).read_text(encoding="utf-8"))
        report["benchmarks"] = previous.get("benchmarks", {})
        report["meta"]["previous_meta"] = previous.get("meta")
    # sparkmodels' JVM maps a class archive that its first run on a machine dumps: make it before
    # timing, so no benchmark measures the one-off dump (baselines map the same archive).
    # (--quick figures only prove the suite works: no waiting for the archive there)
    report["meta"]["class_archive"] = bool(harness.class_archive_options()) if args.quick else harness.ensure_class_archive()
    failed = False
    for m in modules:
        print(f"== {m.NAME} ({'quick' if args.quick else 'full'})", flush=True)
        t0 = time.perf_counter()
        try:
            figures = m.run(args.quick)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            figures = {"error": traceback.format_exc(limit=5)}
            failed = True
        figures = {**figures, "bench_seconds": round(time.perf_counter() - t0, 1)}
        report["benchmarks"][m.NAME] = figures
        show(figures)
        sys.stdout.flush()

    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"figures written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
