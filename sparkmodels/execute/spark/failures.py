"""Spark failures in one paragraph: the common causes (disk full, permission denied, a missing path, a
cancelled job, malformed CSV/JSON/Parquet, out of memory, a lost executor) found in an exception's
text, however deep in Py4J's wrapper and Java's `Caused by:` chain they sit; and the plain message of
any other Java exception without its stack frames.

Pure text functions (no Spark import): materializations/base.py spark_error calls them.
"""

from __future__ import annotations

import csv
import errno
import os
import re
from pathlib import Path

_FRAME = re.compile(r"^\s+at [\w$.<>]+\(.*\)\s*$|^\s*\.\.\. \d+ more\s*$|^\s*at [\w$.]+\.\w+\(")
_PY4J_HEAD = re.compile(r"^An error occurred while calling [\w.]+\.?\s*$")
_CAUSED = re.compile(r"^Caused by: (.*)$")
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+\.?")
_EXC_CLASS = re.compile(r"^(?:[a-z_$][\w$]*\.)+([A-Z][\w$]*(?:Exception|Error))(?::\s*|$)")


def _clean(line: str) -> str:
    """A Java exception line without its class prefix and SQLSTATE suffix."""
    line = _SQLSTATE.sub("", line).strip()
    m = _EXC_CLASS.match(line)
    if m and line[m.end():].strip():
        line = line[m.end():].strip()
    return line


def messages(text: str) -> list[str]:
    """The exception messages in a Spark/Py4J error text, outermost first: no frames, no Py4J header."""
    out: list[str] = []
    current: list[str] = []

    def flush():
        if current:
            msg = " ".join(s.strip() for s in current if s.strip())
            if msg:
                out.append(msg)
            current.clear()

    for raw in text.splitlines():
        if _FRAME.match(raw) or _PY4J_HEAD.match(raw.strip()):
            flush()
            continue
        m = _CAUSED.match(raw.strip())
        if m:
            flush()
            current.append(m.group(1))
            continue
        line = raw[2:] if raw.startswith(": ") else raw
        if line.strip().startswith("JVM stacktrace:"):
            flush()
            continue
        current.append(line)
    flush()
    return out


def plain_message(text: str, limit: int = 600) -> str:
    """Any Spark error as one line: the outermost message and, if different, the root cause."""
    msgs = [_clean(m) for m in messages(text)] or [text.strip()]
    first, root = msgs[0], msgs[-1]
    message = first if root == first or root in first else f"{first} Caused by: {root}"
    message = re.sub(r"\s+", " ", message).strip()
    return message[:limit] + "..." if len(message) > limit else message


_PATH = r"((?:file:|hdfs:|s3a?:|abfss?:)?/{0,3}[^\s'\"(),]+)"


def _first(pattern: str, text: str, group: int = 1) -> str | None:
    m = re.search(pattern, text, re.S)
    return m.group(group).rstrip(".") if m else None


def summarize(text: str, *, seed_path: Path | None = None) -> tuple[str, str | None, int | None] | None:
    """(message, hint, line) for a common failure cause found anywhere in the text, else None.

    seed_path: the CSV file of a seed step, read (only on failure) to name the ragged row.
    """
    if "No space left on device" in text:
        where = _first(r"(?:writing|create|to) (?:file )?" + _PATH, text)
        return (f"the disk is full (No space left on device){f' while writing {where}' if where else ''}.",
                "Free space on the disk holding the warehouse, or on spark.local.dir for Spark's shuffle "
                "and spill files; the table's previous version is unchanged.", None)
    mkdirs = _first(r"Mkdirs failed to create " + _PATH, text)
    denied = (mkdirs or _first(_PATH + r" \(Permission denied\)", text)
              or _first(r"AccessDeniedException: " + _PATH, text)
              or _first(r"Permission denied: [^\n]*?(?:path|inode)[ =]\"?" + _PATH, text))
    if denied or re.search(r"Permission denied|AccessDeniedException|PERMISSION_DENIED|Read-only file system",
                           text):
        why = unwritable_reason(denied) if denied else None
        if why is None:
            why = "read-only file system" if "Read-only file system" in text else "permission denied"
        detail = " (Spark: Mkdirs failed)" if mkdirs else ""
        return (f"cannot write {denied}: {why}{detail}." if denied else f"{why}.", _WRITE_HINT, None)
    if re.search(r"SPARK_JOB_CANCELLED|Job \d+ cancelled|cancelled (?:as part of|because)|"
                 r"SparkContext was shut down|OPERATION_CANCELED|INTERRUPTED", text):
        return ("the Spark job was cancelled (Ctrl-C, the Spark UI or the cluster) before it finished; "
                "a table being written keeps its previous version.", None, None)
    oom = _first(r"(java\.lang\.OutOfMemoryError[^\n]*)", text)
    if oom:
        return (f"Spark ran out of memory ({_SQLSTATE.sub('', oom).strip()}).",
                "Give the driver or executors more memory (spark.driver.memory, spark.executor.memory in the "
                "target's conf), or make partitions smaller (spark.sql.shuffle.partitions).", None)
    lost = _first(r"(ExecutorLostFailure[^\n]*|Executor heartbeat timed out[^\n]*|Lost executor[^\n]*)", text)
    if lost:
        return (f"a Spark executor was lost ({_SQLSTATE.sub('', lost).strip()}).",
                "The executor died or stopped answering, often from memory (raise spark.executor.memory or "
                "spark.executor.memoryOverhead) or a node going away.", None)
    return _malformed(text, seed_path)


_WRITE_HINT = ("Check that the user running sparkmodels may write the warehouse folder and that it is not on a "
               "read-only file system; the table's previous version is unchanged.")


def _local(path: str) -> Path | None:
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    return Path(path) if path.startswith("/") else None


def unwritable_reason(path: str) -> str | None:
    """Why a local path cannot be created: its nearest existing ancestor is a file, not writable, or on
    a read-only file system; None if that cannot be told (not local, or it looks writable)."""
    local = _local(str(path))
    if local is None:
        return None
    probe = local
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.is_file():
        return f"{probe} is a file, not a folder"
    try:
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            return f"{probe} is on a read-only file system"
    except OSError:
        pass
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"permission denied on {probe}"
    return None


def os_error(exc: OSError) -> tuple[str, str | None] | None:
    """(message, hint) for an OSError raised while sparkmodels itself writes the warehouse, or None."""
    path = exc.filename
    if exc.errno == errno.ENOSPC:
        return (f"the disk is full (No space left on device){f' while writing {path}' if path else ''}.",
                "Free space on the disk holding the warehouse; the table's previous version is unchanged.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST) and path:
        why = unwritable_reason(str(path)) or exc.strerror or "cannot be written"
        return f"cannot write {path}: {why}.", _WRITE_HINT
    return None


def _malformed(text: str, seed_path: Path | None):
    file = _first(r"(?:reading file|read file|Could not read footer for file:?|file) " + _PATH +
                  r"(?=[.\s]|$)", text) if "FAILED_READ_FILE" in text or "footer" in text else None
    record = _first(r"Malformed CSV record: ([^\n]*?)(?: SQLSTATE|\n|$)", text)
    if record is not None or "MALFORMED_CSV_RECORD" in text:
        if seed_path is not None:
            row = ragged_row(seed_path)
            if row is not None:
                line, fields, expected = row
                return (f"row {line} of the seed has {fields} field{'s' if fields != 1 else ''}, the header "
                        f"has {expected} (Spark: Malformed CSV record).", None, line)
        return (f"malformed CSV record{f' in {file}' if file else ''}: {record or '?'}.",
                "Fix the row, or read the file with options {mode: PERMISSIVE} to keep bad rows as nulls.", None)
    if re.search(r"MALFORMED_RECORD_IN_PARSING|Malformed records are detected", text):
        detail = _first(r"record parsing: ([^\n]*?)(?:\.? SQLSTATE|\n|$)", text)
        return (f"malformed record{f' in {file}' if file else ''}{f': {detail}' if detail else ''} "
                "(Spark's FAILFAST mode).", "Fix the input, or read it with mode PERMISSIVE.", None)
    if re.search(r"is not a Parquet file|CANNOT_READ_FILE_FOOTER|Could not read footer|"
                 r"Expected magic number|PARQUET_COLUMN_DATA_TYPE_MISMATCH|can only read parquet", text, re.I):
        return (f"{file or 'a file'} is not a readable Parquet file ({plain_message(text, 200)}).",
                "Remove or replace the damaged file; files another tool is still writing are a common cause.", None)
    if "FAILED_READ_FILE" in text and file:
        return (f"cannot read {file}: {plain_message(text, 300)}", None, None)
    gone = _first(r"FileNotFoundException: (?:File )?" + _PATH + r" does not exist", text)
    if gone:
        return (f"a file Spark was reading is gone: {gone}.",
                "It was removed or replaced while the query ran (or after its listing was cached); run again.",
                None)
    return None


def ragged_row(path: Path, limit_bytes: int = 512 * 1024 * 1024) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first CSV row whose field count differs from the header's."""
    try:
        if path.stat().st_size > limit_bytes:
            return None
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return None
            for row in reader:
                if row and len(row) != len(header):
                    return reader.line_num, len(row), len(header)
    except (OSError, csv.Error):
        return None
    return None
