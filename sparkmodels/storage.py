"""Warehouse layout and atomic table versions on a local or mounted filesystem (no Spark, no metastore).

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

from .errors import EnvironmentProblem

VERSIONS_DIR = ".versions"
KEEP_PREVIOUS = 1


def local_path(uri: str) -> Path:
    """A filesystem path for a warehouse location ('file:' URIs accepted)."""
    if uri.startswith("file://"):
        return Path(uri[len("file://"):])
    if uri.startswith("file:"):
        return Path(uri[len("file:"):])
    if "://" in uri:
        raise EnvironmentProblem(
            f"warehouse '{uri}' is not a local path; this build of sparkmodels writes tables to local or "
            "mounted filesystems (use a file: path shared by the cluster).",
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
        # Names must sort in creation order (clean() compares them): nanoseconds, not just seconds.
        ns = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000))
        path = self.versions / f"v{stamp}{ns % 1_000_000_000:09d}_{uuid.uuid4().hex[:8]}"
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
