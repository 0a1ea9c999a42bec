"""The local storage variant: atomic table versions on a local or mounted filesystem (no Spark, no JVM).

A table `<warehouse>/<schema>/<name>` is a symlink to one complete version under
`<warehouse>/<schema>/.versions/<name>/<version>/`. A write goes to a new version directory and
the symlink is swapped with one atomic rename only after the write succeeded, so a failed or killed
write never touches the table readers see. The swap happens only if the version the write started
from is still current (compare-and-swap under a per-table flock). Cleanup removes only versions
that are nobody's: not current, not the previously published one (recorded in `_previous`), not
leased by a live writer (storage/leases.py). Nothing outside `<warehouse>/<schema>/` is touched,
and a folder or file sparkmodels did not create at a table's path is never adopted or removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sparkmodels.errors import EnvironmentProblem, WarehouseError
from sparkmodels.execute.storage.leases import LeaseBook, dead_leases, hold, lease_alive, live_bases, mutex
from sparkmodels.project.identifiers import check_table_parts

VERSIONS_DIR = ".versions"
KEEP_PREVIOUS = 1
# The names clean() may remove: version_name() output (and tables adopted from older layouts).
VERSION_NAME = re.compile(r"^v\d{8}T\d{6}\w+$")
# "<published> <previous>" lines: which version was current before each publish.
PREVIOUS_FILE = "_previous"
HISTORY_LINES = 16
# A table folder carrying this file was written by sparkmodels (it is the build-cache fingerprint).
MARKER = "_sparkmodels.json"
LEASE_BASE = object()  # publish(): expect the base recorded when the version was leased


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
    """Where a table lives and where its versions go; every write, move and delete stays inside."""

    warehouse: Path
    schema: str
    name: str
    leases: LeaseBook = field(default_factory=LeaseBook, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_table_parts(self.warehouse, self.schema, self.name)

    @property
    def link(self) -> Path:
        return self.warehouse / self.schema / self.name

    @property
    def versions(self) -> Path:
        return self.warehouse / self.schema / VERSIONS_DIR / self.name

    # -- the guards: inside the warehouse, and only what is ours ----------------------------------
    def _inside(self) -> None:
        """The schema folder must resolve to `<warehouse>/<schema>` (no symlink leading elsewhere)."""
        root = self.warehouse.resolve()
        folder = (self.warehouse / self.schema).resolve()
        if folder != root / self.schema:
            raise WarehouseError(
                f"'{self.warehouse / self.schema}' resolves to '{folder}', outside the warehouse '{root}'; "
                "sparkmodels writes, moves and deletes only inside the warehouse.",
                hint="Remove the symlink or point the target's warehouse at the real location.")

    def _own_version(self, version: Path) -> None:
        if Path(version).parent != self.versions or not VERSION_NAME.match(Path(version).name):
            raise WarehouseError(f"'{version}' is not a version of the table '{self.link}'; it is left alone.")

    def _foreign(self) -> str | None:
        """Why what sits at the table's path is not ours (never adopted, moved or removed), or None."""
        link = self.link
        if link.is_symlink():
            target = Path(os.path.normpath(link.parent / os.readlink(link)))
            ours = target.parent == self.versions or target.parent == self.versions.resolve()
            return None if ours else f"a symlink to '{os.readlink(link)}', not to a version under {self.versions}"
        if not link.exists():
            return None
        if link.is_dir():
            if (link / MARKER).is_file():
                return None  # a table an older sparkmodels wrote in place: adopted at publish
            return f"a folder sparkmodels did not create (it has no {MARKER})"
        return "a file, not a table sparkmodels wrote"

    def _refuse_foreign(self) -> None:
        why = self._foreign()
        if why:
            raise WarehouseError(
                f"'{self.link}' is {why}; sparkmodels never adopts, moves or deletes it.",
                hint="Move it out of the warehouse yourself (or delete it if it is not needed), or give the "
                     "model another name or schema.")

    def _current_name(self) -> str | None:
        current = self.current()
        return None if current is None else current.name

    # -- reading -----------------------------------------------------------------------------------
    def current(self) -> Path | None:
        """The complete version readers see now, or None if the table was never built."""
        link = self.link
        if link.is_symlink():
            target = link.resolve()
            return target if target.is_dir() else None
        if link.is_dir():  # a table written by another tool: readable as is
            return link
        return None

    # -- writing -----------------------------------------------------------------------------------
    def new_version(self) -> Path:
        """A fresh version, leased to this process until it is published or discarded."""
        self._inside()
        self._refuse_foreign()  # before Spark writes anything: the publish would be refused anyway
        # Names must sort in creation order: the legacy clean() fallback compares them.
        path = self.versions / version_name()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.leases.take(self.versions, path.name, self._current_name())
        hold("write", self.name)
        return path

    def publish(self, version: Path, expected_base: str | None | object = LEASE_BASE) -> None:
        """Atomically point the table at a completely written version, if its base is still current.

        `expected_base` is the version name the write started from (None: the table did not exist);
        by default the one current when new_version() leased this version. If another writer
        published since, nothing changes: the version is discarded and a WarehouseError says so.
        """
        version = Path(version)
        self._own_version(version)
        hold("publish", self.name)
        if expected_base is LEASE_BASE:
            known, expected_base = self.leases.base(self.versions, version.name)
            if not known:
                expected_base = self._current_name()
        elif isinstance(expected_base, Path):
            expected_base = expected_base.name
        try:
            with mutex(self.versions):
                self._inside()
                self._refuse_foreign()
                now = self._current_name()
                if now != expected_base:
                    raise WarehouseError(
                        f"the table '{self.link}' changed while this run wrote it: it started from version "
                        f"{expected_base or '(none)'}, and another run published {now or '(none)'} since. This "
                        "run's version was not published; the other run's table is left as it is.",
                        hint="Run again to rebuild it on top of the current version.")
                self._record_previous(version.name, now)
                link = self.link
                if link.is_dir() and not link.is_symlink():
                    # An older sparkmodels' in-place table (it has our marker): keep it as the previous
                    # version so the swap below can be one rename.
                    adopted = self.versions / f"v00000000T000000_adopted{uuid.uuid4().hex[:6]}"
                    os.replace(link, adopted)
                    self._record_previous(version.name, adopted.name)
                tmp = link.with_name(f".{self.name}.tmp-{uuid.uuid4().hex[:8]}")
                os.symlink(os.path.relpath(version, link.parent), tmp)
                os.replace(tmp, link)
                hold("swapped", self.name)
        except BaseException:
            if self._current_name() != version.name:
                self.discard(version)
            raise
        self.leases.release(self.versions, version.name)

    def discard(self, version: Path) -> None:
        version = Path(version)
        self._own_version(version)
        self._inside()
        shutil.rmtree(version, ignore_errors=True)
        self.leases.release(self.versions, version.name)

    # -- which versions are nobody's ---------------------------------------------------------------
    def _history(self) -> list[tuple[str, str]]:
        try:
            text = (self.versions / PREVIOUS_FILE).read_text(encoding="utf-8")
        except OSError:
            return []
        return [tuple(line.split()) for line in text.splitlines() if len(line.split()) == 2]

    def _record_previous(self, published: str, previous: str | None) -> None:
        """Append "<published> <previous>" before the swap: a crash after it still knows the previous."""
        lines = [f"{a} {b}" for a, b in self._history() if a != published][-(HISTORY_LINES - 1):]
        if previous:
            lines.append(f"{published} {previous}")
        tmp = self.versions / f".{PREVIOUS_FILE}.{uuid.uuid4().hex[:8]}"
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        os.replace(tmp, self.versions / PREVIOUS_FILE)

    def previous(self) -> str | None:
        """The version that was current before the current one was published (kept for its readers)."""
        current = self._current_name()
        if current is None:
            return None
        recorded = [b for a, b in self._history() if a == current]
        if recorded:
            return recorded[-1]
        if (self.versions / PREVIOUS_FILE).exists():
            return None
        # A table published before the record existed: the newest complete older version.
        older = sorted((p.name for p in self._version_dirs() if p.name < current and self.is_complete(p)),
                       reverse=True)
        return older[0] if older else None

    def _version_dirs(self) -> list[Path]:
        if not self.versions.is_dir():
            return []
        return [p for p in self.versions.iterdir() if VERSION_NAME.match(p.name) and p.is_dir()
                and not p.is_symlink()]

    def clean(self, keep: int = KEEP_PREVIOUS) -> list[Path]:
        """Remove the versions that are provably nobody's.

        Kept: the current version, the previously published one (unless keep=0), every version
        whose lease a live process holds (a write in progress, in this run or another) and every
        version such a write started from (it may still be reading it). Everything
        else under `.versions/<model>/` that has a version's name goes: failed or killed writes, and
        versions a crashed run completed but never published.
        """
        if not self.versions.is_dir():
            return []
        self._inside()
        removed = []
        with mutex(self.versions):
            current = self._current_name()
            # and the versions live writers started from: they read them until they publish
            keep_names = {current, self.previous() if keep > 0 else None, *live_bases(self.versions)} - {None}
            for version in sorted(self._version_dirs()):
                if version.name in keep_names or lease_alive(self.versions, version.name):
                    continue
                shutil.rmtree(version, ignore_errors=True)
                removed.append(version)
            for lease in dead_leases(self.versions):
                with contextlib.suppress(OSError):
                    lease.unlink()
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
    leases: LeaseBook = field(default_factory=LeaseBook, compare=False, repr=False)  # this process's writes

    @property
    def uri(self) -> str:
        return str(self.root)

    def table(self, schema: str, name: str) -> TableLocation:
        return TableLocation(self.root, schema, name, self.leases)

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
