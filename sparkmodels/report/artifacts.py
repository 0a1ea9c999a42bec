"""Artifacts under target/: manifest.json, run_results.json and compiled SQL files.

run_results.json (schema `sparkmodels/run-results/v1`), close to dbt's:
    {"metadata": {...}, "elapsed_time": s, "args": {...},
     "results": [{"unique_id", "status" (success|error|skipped), "message", "execution_time",
                  "timing": [{"name": "execute", "started_at", "completed_at"}],
                  "adapter_response": {"rows_affected": n}, "relation_name", "compiled_code",
                  "error": {"message", "path", "line"} | null}]}
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.project.manifest import Manifest
from sparkmodels.version import __version__

RUN_RESULTS_SCHEMA = "https://sparkmodels.dev/schemas/run-results/v1.json"


def _write_json(path: Path, data, secrets: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    from sparkmodels.report.redact import redact

    # Values of secret-named environment variables (env_var() in a target) and, given `secrets`
    # (redact.secret_values(vars=...)), of secret-named vars never reach artifacts.
    # No indent: with one, json falls back to its slow pure-Python encoder (5% of a 5,000-model compile).
    tmp.write_text(json.dumps(redact(data, secrets), default=str), encoding="utf-8")
    os.replace(tmp, path)


def write_manifest(target_dir: Path, manifest: Manifest, compiled: Mapping[str, str] | None = None,
                   column_lineage: Mapping[str, Mapping] | None = None, *,
                   secrets: list[str] | None = None) -> Path:
    path = target_dir / "manifest.json"
    _write_json(path, manifest.to_dict(compiled, column_lineage=column_lineage), secrets)
    return path


def write_compiled(target_dir: Path, manifest: Manifest, compiled: Mapping[str, str], *,
                   secrets: list[str] | None = None) -> list[Path]:
    """target/compiled/<project>/<original path>, one file per compiled node, secrets masked (the SQL
    Spark runs keeps the values; the file is for reading)."""
    from sparkmodels.report.redact import redact_text, secret_values

    secrets = secret_values() if secrets is None else secrets
    base = target_dir / "compiled" / manifest.project_name
    written = []
    made: dict[Path, bool] = {}  # directory -> created by this call (so it holds no files yet)
    for uid, sql in compiled.items():
        node = manifest.nodes[uid]
        path = base / node.path
        if node.resource_type in ("test", "snapshot") and not node.path.endswith(".sql"):
            path = path / f"{node.name}.sql"  # generic/unit tests live in a YAML file, as dbt lays them out
        parent = path.parent
        if parent not in made:
            made[parent] = not parent.is_dir()
            parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, redact_text(sql, secrets) if secrets else sql, absent=made[parent])
        written.append(path)
    return written


def write_if_changed(path: Path, text: str, *, absent: bool = False) -> bool:
    """Write text (UTF-8, platform newlines as Path.write_text) unless the file already holds it.

    A re-compile mostly finds every file unchanged: reading is ~20x cheaper than rewriting. A changed
    file is overwritten in place, and cut only if it was longer, instead of opened with O_TRUNC: ext4
    flushes a file truncated to zero when it is closed (auto_da_alloc), milliseconds per file.
    absent=True: the caller knows the file does not exist (its directory was just made).
    """
    data = (text if os.linesep == "\n" else text.replace("\n", os.linesep)).encode("utf-8")
    longer = False
    if not absent:
        try:
            with open(path, "rb") as fh:
                old = fh.read(len(data) + 1)
        except FileNotFoundError:
            old = None
        if old == data:
            return False
        longer = old is not None and len(old) > len(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        if longer:
            fh.truncate()
    return True


def run_results_dict(result, plan, args: Mapping, invocation_id: str | None = None) -> dict:
    steps = {s.unique_id: s for s in plan.steps}
    out = []
    for r in result.results:
        step = steps.get(r.unique_id)
        err = r.error
        extra = {k: v for k, v in dict(r.extra).items() if k not in ("rows", "spark_metrics")}
        out.append({
            "unique_id": r.unique_id,
            "name": r.name,
            "resource_type": r.resource_type,
            "materialized": r.materialized,
            "status": r.status,
            "message": r.message,
            "execution_time": round(r.execution_time, 4),
            "timing": [{"name": "execute", "started_at": r.started_at, "completed_at": r.completed_at}]
            if r.started_at else [],
            "adapter_response": {"rows_affected": r.rows, **extra},
            "failures": getattr(r, "failures", None),
            # Spark's own accounting for the step's jobs (sparkmodels.metrics); null keys = unknown.
            "spark_metrics": dict(r.extra).get("spark_metrics"),
            "relation_name": r.name if r.resource_type != "test" else None,
            "compiled_code": getattr(r, "compiled_code", None) or (step.compiled.sql if step else None),
            "reason": r.reason,
            "error": {"message": err.message, "path": err.path, "line": err.line, "kind": err.kind}
            if err else None,
        })
    return {
        "metadata": {
            "dbt_schema_version": RUN_RESULTS_SCHEMA,
            "sparkmodels_version": __version__,
            "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "invocation_id": invocation_id or str(uuid.uuid4()),
        },
        "elapsed_time": round(result.elapsed, 4),
        "interrupted": result.interrupted,
        "args": dict(args),
        "results": out,
    }


def write_run_results(target_dir: Path, result, plan, args: Mapping, *,
                      secrets: list[str] | None = None, invocation_id: str | None = None) -> Path:
    path = target_dir / "run_results.json"
    _write_json(path, run_results_dict(result, plan, args, invocation_id), secrets)
    return path
