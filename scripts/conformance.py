"""Run dbt-utils' own integration_tests project with sparkmodels on a local Spark; PASS/FAIL/ERROR per node.

    python scripts/conformance.py [--peer ../shared/peers/dbt-utils] [--work /tmp/smconf]

The project and the package are copied under --work (never into this repository): the
integration_tests folder as the root project, the dbt-utils checkout as dbt_packages/dbt_utils.
sparkmodels loads a project as a whole, so a model or test that fails to load is recorded as
ERROR with its message and set aside (the file moved out, or its YAML test entry removed), and the
load is tried again; then `sparkmodels build` runs everything that loads, in its own process. Every
failure is classified:

  ours       a sparkmodels bug or missing feature that is no Spark limitation
  spark      Spark SQL cannot express it (or does it differently)
  warehouse  the package implements the macro only for other warehouses (no default__/spark__)
  runtime    needs run-time introspection (Relations, adapter.get_columns_in_relation, run_query,
             statement/load_result, hooks): issue #18

It also counts, for each macro that introspects the warehouse (star, get_column_values, pivot...),
how many of the nodes using it pass.

Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Messages of macros that need the database while rendering (Relations, introspection, queries).
RUNTIME = re.compile(r"run time|expected a Relation|'statement' is undefined|'load_result' is undefined|"
                     r"'run_query' is undefined|'load_relation' is undefined|get_columns_in_relation|"
                     r"Relation\.create|drop_relation|post-hook|pre-hook", re.I)
WAREHOUSE = re.compile(r"In dispatch: no macro named", re.I)
SPARK = re.compile(r"PARSE_SYNTAX_ERROR|UNSUPPORTED|DATATYPE_MISMATCH|not supported|is not allowed|SQLSTATE: 0A000", re.I)
# Nodes whose failure was read by hand (what the automatic rules above cannot tell).
KNOWN: dict[str, tuple[str, str]] = {
    # equality(precision=8) rounds after a cast to dbt.type_numeric(), which is dbt-spark's decimal(28,6):
    # six digits, so the differences in the 7th/8th are gone and the test (expecting failures) finds none.
    "dbt_utils_equality_data_test_equality_floats_a__ref_data_test_equalit_a32d8c224d":
        ("spark", "type_numeric() is decimal(28,6) on Spark: precision 8 compares six digits"),
}
# dbt_utils' get_tables_by_pattern_sql has no spark__ version; its default reads
# <database>.information_schema.tables, which Spark does not have (dbt-spark needs spark_utils' shim).
WAREHOUSE_NODES = ("get_relations_by_pattern", "get_relations_by_prefix")
# The macros that introspect the warehouse at run time (issue #18), counted by the nodes using them.
INTROSPECTIVE = ("star", "get_column_values", "get_filtered_columns_in_relation", "get_relations_by_pattern",
                 "union_relations", "pivot", "unpivot", "get_query_results_as_dict", "get_single_value",
                 "nullcheck_table", "deduplicate")


def setup(peer: Path, work: Path) -> Path:
    if work.exists():
        shutil.rmtree(work)
    root = work / "integration_tests"
    shutil.copytree(peer / "integration_tests", root)
    pkg = root / "dbt_packages" / "dbt_utils"
    shutil.copytree(peer, pkg, ignore=shutil.ignore_patterns("integration_tests", ".git", "docs"))
    return root


def classify(name: str, message: str, results: dict | None = None) -> str:
    if name in KNOWN:
        return KNOWN[name][0]
    missing = re.search(r"ref\('(\w+)'\) refers to a model or seed that does not exist", message)
    if missing and results and missing.group(1) in results:  # it reads a model set aside above
        return classify(missing.group(1), results[missing.group(1)][1], results)
    if WAREHOUSE.search(message) or any(w in name for w in WAREHOUSE_NODES):
        return "warehouse"
    if RUNTIME.search(message):
        return "runtime"
    if SPARK.search(message):
        return "spark"
    return "ours"


def _remove_yaml_test(path: Path, line: int | None) -> bool:
    """Drop the YAML list item starting at `line` (a test entry) with everything indented under it."""
    if not line:
        return False
    lines = path.read_text(encoding="utf-8").split("\n")
    i = line - 1
    while i >= 0 and not lines[i].lstrip().startswith("- "):
        i -= 1
    if i < 0:
        return False
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
        j += 1
    name = lines[i].strip()[2:].split(":")[0]
    del lines[i:j]
    path.write_text("\n".join(lines), encoding="utf-8")
    return bool(name)


def _node_file(root: Path, node: str | None):
    """The file of a model or singular test named node, else the YAML entry of a generic test
    whose name starts with its test's name (the first such entry still there)."""
    if not node:
        return None, None
    for folder in ("models", "tests"):
        for found in (root / folder).rglob(f"{node}.sql"):
            return found, found.relative_to(root)
    for yml in sorted([*(root / "models").rglob("*.yml"), *(root / "data").rglob("*.yml")]):
        lines = yml.read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(lines):
            m = re.match(r"\s*- (?:dbt_utils\.)?([a-z_]+):?\s*$", line)
            if m and node.startswith(m.group(1) + "_"):
                rel = yml.relative_to(root)
                return yml, Path(f"{rel}:{i + 1}")
    return None, None


def load_until_clean(root: Path, results: dict) -> None:
    """Load the project; each load error is recorded and its model/test set aside, until it loads."""
    sys.path.insert(0, str(REPO))
    import sparkmodels
    from sparkmodels.errors import SparkModelsError

    aside = root.parent / "set_aside"
    for _ in range(500):
        try:
            sparkmodels.load_project(root)
            return
        except SparkModelsError as exc:
            message = str(exc).split("\n")[0]
            path = Path(exc.path) if exc.path else None
            full = root / path if path else None
            if full is not None and (path.parts[0] in ("dbt_packages", "macros") or full.suffix == ".sql"
                                     and path.parts[0] not in ("models", "tests", "analysis")):
                # located in a macro: set aside the node that called it
                full, path = _node_file(root, exc.node)
            if full is None or not full.is_file() or not full.is_relative_to(root):
                raise SystemExit(f"cannot set aside what failed to load: {message}") from None
            if full.suffix in (".yml", ".yaml"):
                line = int(str(path).rpartition(":")[2]) if ":" in str(path) else exc.line
                label = f"{exc.node or path}@{path}" + ("" if ":" in str(path) else f":{exc.line}")
                if not _remove_yaml_test(full, line):
                    raise SystemExit(f"cannot set aside what failed to load: {message}") from None
            else:
                label = exc.node or full.stem
                target = aside / path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(full), str(target))
            results[label] = ("ERROR", message)
    raise SystemExit("too many load errors")


def build(root: Path, results: dict) -> None:
    cmd = [sys.executable, "-m", "sparkmodels", "build", "--project-dir", str(root)]
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    run_results = root / "target" / "run_results.json"
    if not run_results.is_file():
        print(out.stdout[-3000:], out.stderr[-3000:])
        raise SystemExit("build wrote no run_results.json")
    for r in json.loads(run_results.read_text())["results"]:
        status = r["status"]
        label = r["unique_id"].split(".")[-1]
        message = (r.get("message") or "") if status not in ("success", "pass") else ""
        if isinstance(r.get("error"), dict):
            message = r["error"].get("message") or message
        verdict = {"success": "PASS", "pass": "PASS", "warn": "PASS", "fail": "FAIL"}.get(status, "ERROR")
        results[label] = (verdict, " ".join(str(message).split())[:300])


def introspective_counts(root: Path, results: dict) -> dict[str, tuple[int, int]]:
    """{macro: (passing, total)} over the models calling it (their file's text names it) and the
    tests of those models (a test's label names its model)."""
    users: dict[str, set[str]] = {m: set() for m in INTROSPECTIVE}
    for folder in ("models", "tests"):
        for path in (root / folder).rglob("*.sql"):
            text = path.read_text(encoding="utf-8")
            for macro in INTROSPECTIVE:
                if re.search(rf"\b{macro}\s*\(", text):
                    users[macro].add(path.stem)
    out = {}
    for macro, models in users.items():
        labels = [label for label in results
                  if label in models or any(label != m and m in label for m in models)]
        out[macro] = (sum(results[label][0] == "PASS" for label in labels), len(labels))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", type=Path, default=REPO.parent / "shared" / "peers" / "dbt-utils")
    parser.add_argument("--work", type=Path, default=Path("/tmp/smconf"))
    args = parser.parse_args(argv)
    peer = args.peer if args.peer.is_dir() else Path("/work/shared/peers/dbt-utils")
    root = setup(peer.resolve(), args.work)
    results: dict[str, tuple[str, str]] = {}
    load_until_clean(root, results)
    build(root, results)
    counts, kinds = Counter(), Counter()
    for label in sorted(results):
        verdict, message = results[label]
        counts[verdict] += 1
        kind = "" if verdict == "PASS" else classify(label, message, results)
        kinds[kind] += verdict != "PASS"
        print(f"{verdict:5} {label}" + (f"  [{kind}] {message}" if verdict != "PASS" else ""))
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['ERROR']} errored")
    print("not passing by cause: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()) if k))
    counted = introspective_counts(root, results)
    print("introspective macros (nodes passing / nodes using it, their tests included): "
          + ", ".join(f"{m} {p}/{t}" for m, (p, t) in counted.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
