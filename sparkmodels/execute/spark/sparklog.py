"""target/sparkmodels.log: where Spark's own output goes instead of the console.

The driver JVM a run starts writes its stdout and stderr here (log4j's errors with their Java stacks,
Python worker tracebacks, the JVM's last words on Ctrl-C), and each failing step appends the full text
of its exception (Py4J wrapper, `Caused by:` chain, Python traceback). The console gets one paragraph
per failure that names this file; `--debug` shows the file's content too. Secrets are masked in what
sparkmodels appends, and in the JVM's part when the run ends (redact_after_run).
"""

from __future__ import annotations

import datetime as _dt
import os
import traceback
from pathlib import Path

LOG_NAME = "sparkmodels.log"


def log_file(target_dir: Path) -> Path:
    return Path(target_dir) / LOG_NAME


def open_for_jvm(path: Path):
    """A fresh log for this run (the last run's is replaced), opened for the JVM to append to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb"):
        pass
    # O_APPEND: the JVM and record() below both append whole lines without overwriting each other.
    return open(path, "ab", buffering=0)


def record(path: Path, what: str, exc: BaseException, secrets: list[str] | None = None) -> bool:
    """Append a failure's full text (and Python traceback) under a dated heading; False if unwritable."""
    from sparkmodels.project.secrets import MASK, secret_values

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, MASK)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"\n===== {stamp} sparkmodels: {what} failed =====\n{text}\n")
    except OSError:
        return False
    return True


def redact_after_run(path: Path, secrets: list[str] | None = None) -> None:
    """Mask secrets in what the JVM wrote (it cannot mask them itself)."""
    from sparkmodels.project.secrets import MASK, secret_values

    secrets = secret_values() if secrets is None else secrets
    if not secrets:
        return
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    clean = text
    for value in secrets:
        clean = clean.replace(value, MASK)
    if clean != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(clean, encoding="utf-8")
        os.replace(tmp, path)


def relative(path: Path, root: Path) -> str:
    """The log's path as the user should read it: relative to the project when inside it."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)
