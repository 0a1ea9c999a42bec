"""The inferred schemas of external Parquet sources, kept while their files are unchanged.

Reading a Parquet folder without a schema costs a Spark job on every run: Spark opens a footer to
infer the columns (and the partition folders' types). An external source is usually the same files
run after run, or the same files plus one new month: so the schema Spark inferred is recorded
beside the warehouse with a digest of the source's file listing (relative path, size, mtime; linked
folders followed, as Spark follows them), and a later read whose listing has the same digest passes
that schema instead. Any change to the files (one added, replaced, touched or removed) misses, and
Spark infers again, so the result is always the schema Spark would infer. Only local folders with
no reader options, up to MAX_FILES files (listing more on the driver would cost what it saves).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

MAX_FILES = 10_000
FOLDER = ".sparkmodels/source_schemas"


def _local(location: str) -> Path | None:
    if location.startswith("file://"):
        location = location[len("file://"):]
    elif location.startswith("file:"):
        location = location[len("file:"):]
    elif "://" in location:
        return None
    if any(ch in location for ch in "*?[{"):  # a glob: Spark expands it, we do not
        return None
    return Path(location)


def local_folder(location: str) -> Path | None:
    """A source location as a local folder (None: a URI of another filesystem, a glob, or missing)."""
    path = _local(location)
    return path if path is not None and path.is_dir() else None


def listing_digest(location: str) -> str | None:
    """A digest of every file under a local source folder (None: not local, missing or too big)."""
    path = local_folder(location)
    if path is None:
        return None
    digest = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                return None
            digest.update(f"{os.path.relpath(full, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            count += 1
            if count > MAX_FILES:
                return None
    return digest.hexdigest()


class SourceSchemas:
    """Recorded schemas under a local warehouse (`<warehouse>/.sparkmodels/source_schemas/`)."""

    def __init__(self, warehouse: Path | None):
        self._dir = Path(warehouse) / FOLDER if isinstance(warehouse, Path) else None

    def _file(self, location: str) -> Path:
        return self._dir / (hashlib.sha256(location.encode()).hexdigest()[:32] + ".json")

    def lookup(self, location: str) -> tuple[str | None, object | None]:
        """(digest of the listing now, the schema recorded for exactly that listing or None)."""
        if self._dir is None:
            return None, None
        digest = listing_digest(location)
        if digest is None:
            return None, None
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(self._file(location).read_text(encoding="utf-8"))
            if data.get("location") == location and data.get("digest") == digest:
                from pyspark.sql.types import StructType

                return digest, StructType.fromJson(data["schema"])
        return digest, None

    def record(self, location: str, digest: str | None, schema) -> None:
        """Keep the schema Spark inferred for the listing whose digest was taken before the read."""
        if self._dir is None or digest is None:
            return
        # The files may have changed while Spark read them: record only a listing still the same.
        if listing_digest(location) != digest:
            return
        with contextlib.suppress(OSError):
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._file(location)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"location": location, "digest": digest,
                                       "schema": json.loads(schema.json())}), encoding="utf-8")
            os.replace(tmp, path)
