"""The local storage variant: atomic table versions on a local or mounted filesystem (no Spark, no JVM).

A table `<warehouse>/<schema>/<name>` is a symlink to one complete version under
`<warehouse>/<schema>/.versions/<name>/<version>/`. A write goes to a new version directory and
the symlink is swapped with one atomic rename only after the write succeeded, so a failed or killed
write never touches the table readers see. Versions other than the current and the previous one are
removed by later writes.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.errors import EnvironmentProblem

VERSIONS_DIR = ".versions"
KEEP_PREVIOUS = 1


def version_name(prefix: str = "v") -> str:
    """A new version (or pointer) name; names sort in creation order (nanoseconds, not just seconds)."""
    ns = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000))
    return f"{prefix}{stamp}{ns % 1_000_000_000:09d}_{uuid.uuid4().hex[:8]}"


def local_path(uri: str) -> Path:
    """A filesystem path for a warehouse location ('file:' URIs accepted)."""
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    if uri.startswith("file:"):
        return Path(uri[len("file:"):])
    if "://" in uri:
        raise EnvironmentProblem(
            f"warehouse '{uri}' is not a local path; `warehouse_storage: local` writes tables to local or "
            "mounted filesystems only.",
            hint="Remove `warehouse_storage: local` (hdfs://, s3a://, abfss:// use the Hadoop storage) or use a "
                 "file: path shared by the cluster.",
        )
    return Path(uri)


@dataclass(frozen=True)
class TableLocation:
    """Where a table lives and where its versions go."""

    warehouse: Path
    schema: str
    name: str

    @property
    def link(self) -> Path:
        return self.warehouse / self.schema / self.name

    @property
    def versions(self) -> Path:
        return self.warehouse / self.schema / VERSIONS_DIR / self.name

    def current(self) -> Path | None:
        """The complete version readers see now, or None if the table was never built."""
        link = self.link
        if link.is_symlink():
            target = link.resolve()
            return target if target.is_dir() else None
        if link.is_dir():  # a table written by another tool: readable as is
            return link
        return None

    def new_version(self) -> Path:
        # Names must sort in creation order: clean() compares them.
        path = self.versions / version_name()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, version: Path) -> None:
        """Atomically point the table at a completely written version."""
        link = self.link
        if link.is_dir() and not link.is_symlink():
            # Adopt a plain directory as an old version so the swap below can be one rename.
            adopted = self.versions / f"v00000000T000000_adopted{uuid.uuid4().hex[:6]}"
            adopted.parent.mkdir(parents=True, exist_ok=True)
            os.replace(link, adopted)
        tmp = link.with_name(f".{self.name}.tmp-{uuid.uuid4().hex[:8]}")
        os.symlink(os.path.relpath(version, link.parent), tmp)
        os.replace(tmp, link)

    def discard(self, version: Path) -> None:
        shutil.rmtree(version, ignore_errors=True)

    def clean(self, keep: int = KEEP_PREVIOUS) -> list[Path]:
        """Remove stale versions: everything but the current one and `keep` older complete ones."""
        current = self.current()
        if not self.versions.is_dir():
            return []
        # Compare names, not paths: current() is resolved and the warehouse may sit behind a symlink.
        live = current.name if current is not None and current.parent.name == self.name else None
        older = sorted((p for p in self.versions.iterdir() if p.is_dir() and p.name != live), reverse=True)
        removed = []
        kept = 0
        for version in older:
            # An adopted plain directory was a readable table, so it counts as complete.
            complete = (version / "_SUCCESS").exists() or "_adopted" in version.name
            if complete and kept < keep and (current is None or version.name < current.name):
                kept += 1
                continue
            if current is not None and version.name > current.name:
                continue  # possibly a concurrent writer's version in progress
            shutil.rmtree(version, ignore_errors=True)
            removed.append(version)
        return removed

    # -- files beside the data (build cache fingerprint, stats) -------------------------------------
    def is_complete(self, version: Path) -> bool:
        return (version / "_SUCCESS").exists()

    def read_text(self, version: Path, name: str) -> str | None:
        try:
            return (version / name).read_text(encoding="utf-8")
        except OSError:
            return None

    def write_text(self, version: Path, name: str, text: str) -> None:
        (version / name).write_text(text, encoding="utf-8")

    def data_files(self, version: Path) -> int | None:
        """Data files of a written version (a directory listing, not a pass over the data)."""
        try:
            return sum(1 for p in version.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
        except OSError:
            return None

    def usage(self, version: Path) -> tuple[int, float]:
        """(bytes, latest mtime) of every file of a version."""
        total, latest = 0, 0.0
        for dirpath, _dirs, files in os.walk(version):
            for f in files:
                try:
                    st = os.stat(os.path.join(dirpath, f))
                except OSError:
                    continue
                total += st.st_size
                latest = max(latest, st.st_mtime)
        return total, latest


@dataclass(frozen=True)
class LocalWarehouse:
    """A warehouse on a POSIX path: tables are TableLocations (symlink + versions)."""

    root: Path
    kind: str = "local"

    @property
    def uri(self) -> str:
        return str(self.root)

    def table(self, schema: str, name: str) -> TableLocation:
        return TableLocation(self.root, schema, name)

    def relative(self, version) -> str:
        """Paths inside the warehouse relative to it, so a copied project keeps its cache."""
        if "://" in str(version) or str(version).startswith("file:"):
            return str(version)  # another warehouse's version (--defer to a Hadoop-storage state)
        for base in (self.root.resolve(), self.root):
            try:
                return str(Path(str(version)).relative_to(base))
            except ValueError:
                continue
        return str(version)

    def connect(self, spark) -> LocalWarehouse:
        return self
