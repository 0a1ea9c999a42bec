"""The Hadoop FileSystem storage variant: table versions and pointer files on hdfs://, s3a://, abfss://, file:.

Layout (the same version folders as the local variant, plus pointers instead of a symlink):
  <warehouse>/<schema>/.versions/<model>/<version>/          Parquet written by Spark, then `_SUCCESS`
  <warehouse>/<schema>/.versions/<model>/_current/p<stamp>   one line: the name of a version folder
The newest pointer whose line names a committed version (`_SUCCESS`) is the table's current version.
Pointers are immutable and never replaced, because no replace-by-rename is atomic on every store:
`FileSystem.rename` refuses an existing target on HDFS, and an overwriting rename elsewhere is a
delete followed by a rename. Publishing writes a NEW pointer:
  - on stores with an atomic rename (hdfs, viewfs, abfs(s) with a hierarchical namespace, file:) to
    a hidden temp name `.p<stamp>.tmp`, then renamed to `p<stamp>`, so readers never see it half-written;
  - on object stores (s3a, gs, wasb, oss), where rename is a copy, with one create: a single-object
    PUT becomes visible to readers only once complete.
Readers also skip a pointer whose line is incomplete or names no committed version, so a failed or
killed publish never changes the table. A failed or killed write never writes a pointer at all.
The pointer before the current one names the previous version (kept for its readers); a write in
progress holds a lease file under `_leases/` that it refreshes (HadoopLeases); clean removes only
versions that are none of these. `<warehouse>/<schema>/<model>` is never written or removed.
The filesystem is reached through the session's JVM (py4j), so this needs a classic session.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sparkmodels.errors import EnvironmentProblem, WarehouseError
from sparkmodels.execute.storage.leases import LEASES_DIR, hold
from sparkmodels.execute.storage.local import KEEP_PREVIOUS, LEASE_BASE, VERSIONS_DIR, version_name
from sparkmodels.project.identifiers import check_table_parts

POINTERS_DIR = "_current"
# A rename on these is a copy (not atomic, and slow): write the pointer with one create instead.
DIRECT_PUT_SCHEMES = ("s3a", "s3n", "gs", "wasb", "wasbs", "oss")
_VERSION_NAME = re.compile(r"^v[0-9A-Za-z_]+$")
_POINTER_NAME = re.compile(r"^p(\d{19})_[0-9a-f]{8}$")


@dataclass(frozen=True)
class HadoopPath:
    """A path on a Hadoop FileSystem: its URI as a string (pathlib would fold `//` of `hdfs://nn/`)."""

    uri: str

    def __str__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def __truediv__(self, part: str) -> HadoopPath:
        return HadoopPath(f"{self.uri.rstrip('/')}/{part}")


class JvmFileSystem:
    """The few Hadoop FileSystem calls the pointer layout needs, through the session's JVM."""

    def __init__(self, spark, uri: str):
        if type(spark).__module__.startswith("pyspark.sql.connect"):
            raise EnvironmentProblem(
                f"the warehouse '{uri}' uses the Hadoop FileSystem storage, which needs a classic Spark session; "
                "a Spark Connect client has no FileSystem API.",
                hint="Use a master: target for this warehouse, or a path the Connect server and this machine share.",
            )
        self._jvm = spark._jvm
        self._Path = self._jvm.org.apache.hadoop.fs.Path
        try:
            self._fs = self._Path(uri).getFileSystem(spark._jsc.hadoopConfiguration())
        except Exception as exc:  # noqa: BLE001 - e.g. no FileSystem class for the scheme on the classpath
            raise _fs_problem(uri, exc, self._jvm) from None

    def exists(self, path: HadoopPath) -> bool:
        return bool(self._fs.exists(self._Path(str(path))))

    def list(self, path: HadoopPath) -> list[tuple[str, bool]]:
        """(name, is directory) of the entries of a folder; [] when it does not exist."""
        p = self._Path(str(path))
        if not self._fs.exists(p):
            return []
        return [(st.getPath().getName(), bool(st.isDirectory())) for st in self._fs.listStatus(p)]

    def read_text(self, path: HadoopPath) -> str | None:
        p = self._Path(str(path))
        if not self._fs.exists(p):
            return None
        stream = self._fs.open(p)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
        finally:
            stream.close()

    def write_text(self, path: HadoopPath, text: str, *, overwrite: bool) -> None:
        stream = self._fs.create(self._Path(str(path)), overwrite)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def rename(self, src: HadoopPath, dst: HadoopPath) -> bool:
        return bool(self._fs.rename(self._Path(str(src)), self._Path(str(dst))))

    def mtime(self, path: HadoopPath) -> float | None:
        """Modification time in seconds (the store's clock), or None when the path does not exist."""
        p = self._Path(str(path))
        if not self._fs.exists(p):
            return None
        return self._fs.getFileStatus(p).getModificationTime() / 1000.0

    def delete(self, path: HadoopPath) -> None:
        self._fs.delete(self._Path(str(path)), True)

    def files(self, path: HadoopPath) -> list[tuple[str, int, float]]:
        """(name, bytes, mtime seconds) of every file under a folder, recursively."""
        p = self._Path(str(path))
        if not self._fs.exists(p):
            return []
        out, it = [], self._fs.listFiles(p, True)
        while it.hasNext():
            st = it.next()
            out.append((st.getPath().getName(), int(st.getLen()), st.getModificationTime() / 1000.0))
        return out


def _fs_problem(uri: str, exc: BaseException, jvm) -> EnvironmentProblem:
    text = str(exc)
    detail = next((ln.strip(" :") for ln in text.splitlines() if "Exception" in ln), text.strip()[:300])
    hint = "Add the FileSystem's jars to the target (packages: / jars:)."
    if uri.startswith("s3a:"):
        try:
            version = jvm.org.apache.hadoop.util.VersionInfo.getVersion()
        except Exception:  # noqa: BLE001
            version = "<hadoop version>"
        hint = f"Add `packages: [org.apache.hadoop:hadoop-aws:{version}]` to the target (the Hadoop version of " \
               "this Spark)."
    return EnvironmentProblem(f"cannot open the warehouse '{uri}' through Hadoop: {detail[:300]}", hint=hint)


class HadoopLeases:
    """Leases on a store without locks: a file per version in progress, rewritten every HEARTBEAT seconds.

    A lease whose file was not refreshed for LEASE_TTL seconds belongs to a dead writer. The times
    compared are the store's own modification times (its clock, not this machine's).
    """

    HEARTBEAT = 30.0
    LEASE_TTL = 300.0

    def __init__(self) -> None:
        self._held: dict[str, tuple[str | None, threading.Event]] = {}
        self._lock = threading.Lock()

    def take(self, fs: JvmFileSystem, lease: HadoopPath, base: str | None) -> None:
        text = f"pid {os.getpid()} host {socket.gethostname()} base {base}\n"
        fs.write_text(lease, text, overwrite=True)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.HEARTBEAT):
                with contextlib.suppress(Exception):  # a missed beat only shortens the lease
                    fs.write_text(lease, text, overwrite=True)

        threading.Thread(target=beat, name=f"sparkmodels-lease-{lease.name}", daemon=True).start()
        with self._lock:
            self._held[str(lease)] = (base, stop)

    def base(self, lease: HadoopPath) -> tuple[bool, str | None]:
        entry = self._held.get(str(lease))
        return (False, None) if entry is None else (True, entry[0])

    def release(self, fs: JvmFileSystem, lease: HadoopPath) -> None:
        with self._lock:
            entry = self._held.pop(str(lease), None)
        if entry is not None:
            entry[1].set()
        with contextlib.suppress(Exception):
            fs.delete(lease)

    def alive(self, fs: JvmFileSystem, lease: HadoopPath, now: float | None) -> bool:
        if str(lease) in self._held:
            return True
        mtime = fs.mtime(lease)
        return mtime is not None and now is not None and now - mtime < self.LEASE_TTL


@dataclass(frozen=True)
class HadoopTableLocation:
    """One table's versions and pointers on a Hadoop FileSystem (see the module docstring)."""

    fs: JvmFileSystem
    warehouse: HadoopPath
    schema: str
    name: str
    direct_put: bool = False
    leases: HadoopLeases = field(default_factory=HadoopLeases, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_table_parts(self.warehouse, self.schema, self.name)

    @property
    def versions(self) -> HadoopPath:
        return self.warehouse / self.schema / VERSIONS_DIR / self.name

    @property
    def pointers(self) -> HadoopPath:
        return self.versions / POINTERS_DIR

    @property
    def link(self) -> HadoopPath:
        """Where a table's current version is named: its pointer folder."""
        return self.pointers

    @property
    def plain(self) -> HadoopPath:
        """`<warehouse>/<schema>/<model>`: read as the table when another tool wrote one there (never changed)."""
        return self.warehouse / self.schema / self.name

    def _lease(self, name: str) -> HadoopPath:
        return self.versions / LEASES_DIR / name

    # -- reading ---------------------------------------------------------------------------------
    def _pointer_names(self) -> list[str]:
        return sorted((n for n, is_dir in self.fs.list(self.pointers) if not is_dir and _POINTER_NAME.match(n)),
                      reverse=True)

    def _published(self) -> Iterator[tuple[str, HadoopPath]]:
        """(pointer name, version) of every pointer naming a committed version, newest first."""
        for pointer in self._pointer_names():
            text = self.fs.read_text(self.pointers / pointer) or ""
            name = text[:-1] if text.endswith("\n") else ""  # no newline yet: half-written, skip it
            if _VERSION_NAME.match(name) and self.is_complete(self.versions / name):
                yield pointer, self.versions / name

    def _resolve(self) -> tuple[str | None, HadoopPath | None]:
        """(pointer name, version) of the newest pointer naming a committed version."""
        return next(self._published(), (None, None))

    def current(self) -> HadoopPath | None:
        _, version = self._resolve()
        if version is None and self.fs.list(self.plain):
            return self.plain  # a table written by another tool: readable as is (never changed by us)
        return version

    def previous(self) -> str | None:
        """The version the previous pointer names: current before the current one was published."""
        published = self._published()
        first = next(published, None)
        if first is None:
            return None
        return next((v.name for _, v in published if v.name != first[1].name), None)

    # -- writing ---------------------------------------------------------------------------------
    def new_version(self) -> HadoopPath:
        version = self.versions / version_name()  # Spark creates the folder when it writes
        _, base = self._resolve()
        self.leases.take(self.fs, self._lease(version.name), None if base is None else base.name)
        hold("write", self.name)
        return version

    def publish(self, version: HadoopPath, expected_base=LEASE_BASE) -> None:
        """Make a committed version current with one new pointer (atomic for readers), if its base is current.

        The check and the pointer write are two steps (object stores have no lock): two publishes
        within the same instant can both pass it; the newer pointer then wins, as before.
        """
        self._own_version(version)
        hold("publish", self.name)
        if expected_base is LEASE_BASE:
            known, expected_base = self.leases.base(self._lease(version.name))
            if not known:
                _, now = self._resolve()
                expected_base = None if now is None else now.name
        elif expected_base is not None and not isinstance(expected_base, str):
            expected_base = expected_base.name
        _, now = self._resolve()
        if (None if now is None else now.name) != expected_base:
            self.discard(version)
            raise WarehouseError(
                f"the table '{self.plain}' changed while this run wrote it: it started from version "
                f"{expected_base or '(none)'}, and another run published {now.name if now else '(none)'} since. "
                "This run's version was not published; the other run's table is left as it is.",
                hint="Run again to rebuild it on top of the current version.")
        existing = self._pointer_names()
        stamp = time.time_ns()
        if existing:  # a clock stepping back must not hide this publish behind an older pointer
            stamp = max(stamp, int(_POINTER_NAME.match(existing[0]).group(1)) + 1)
        name = f"p{stamp:019d}_{uuid.uuid4().hex[:8]}"
        target = self.pointers / name
        if self.direct_put:
            self.fs.write_text(target, version.name + "\n", overwrite=False)
        else:
            tmp = self.pointers / f".{name}.tmp"
            self.fs.write_text(tmp, version.name + "\n", overwrite=False)
            if not self.fs.rename(tmp, target):
                self.fs.delete(tmp)
                raise EnvironmentProblem(f"could not publish {version}: renaming the pointer {tmp} to {target} failed.")
        hold("swapped", self.name)
        self.leases.release(self.fs, self._lease(version.name))

    def _own_version(self, version: HadoopPath) -> None:
        if str(version) != str(self.versions / version.name) or not _VERSION_NAME.match(version.name):
            raise WarehouseError(f"'{version}' is not a version of the table '{self.plain}'; it is left alone.")

    def discard(self, version: HadoopPath) -> None:
        self._own_version(version)
        self.fs.delete(version)
        self.leases.release(self.fs, self._lease(version.name))

    def clean(self, keep: int = KEEP_PREVIOUS) -> list[HadoopPath]:
        """Remove what is nobody's: versions that are not current, not the previous published one (its
        pointer is kept), not leased by a live writer nor the base such a writer started from; older
        pointers; dead leases."""
        published = list(self._published())
        if not published:
            return []
        current = published[0][1].name
        previous = next(((p, v.name) for p, v in published[1:] if v.name != current), None) if keep > 0 else None
        kept_pointers = {published[0][0], previous[0] if previous else None}
        for name, _ in self.fs.list(self.pointers):
            m = re.match(r"^\.?(p\d{19}_[0-9a-f]{8})(\.tmp)?$", name)
            if m and m.group(1) < published[0][0] and (m.group(2) or m.group(1) not in kept_pointers):
                self.fs.delete(self.pointers / name)  # older pointers, and temps of publishes that died
        now = self._store_now()
        keep_names = {current, previous[1] if previous else None, *self._live_bases(now)}
        removed = []
        for name, is_dir in sorted(self.fs.list(self.versions)):
            if not is_dir or not _VERSION_NAME.match(name) or name in keep_names:
                continue
            if self.leases.alive(self.fs, self._lease(name), now):
                continue  # a write in progress, in this run or another
            version = self.versions / name
            self.fs.delete(version)
            removed.append(version)
        for name, is_dir in self.fs.list(self.versions / LEASES_DIR):
            lease = self._lease(name)
            if not is_dir and not self.leases.alive(self.fs, lease, now):
                self.fs.delete(lease)
        return removed

    def _live_bases(self, now: float | None) -> set[str]:
        """The versions live writers started from (`base` in their lease): they may still read them."""
        out = set()
        for name, is_dir in self.fs.list(self.versions / LEASES_DIR):
            lease = self._lease(name)
            if is_dir or not self.leases.alive(self.fs, lease, now):
                continue
            words = (self.fs.read_text(lease) or "").split()
            if "base" in words[:-1]:
                out.add(words[words.index("base") + 1])
        return out - {"None"}

    def _store_now(self) -> float | None:
        """The store's clock: the modification time of a file written just now."""
        probe = self.versions / LEASES_DIR / f".now-{uuid.uuid4().hex[:8]}"
        try:
            self.fs.write_text(probe, "", overwrite=True)
            return self.fs.mtime(probe)
        finally:
            with contextlib.suppress(Exception):
                self.fs.delete(probe)

    # -- files beside the data -------------------------------------------------------------------
    def is_complete(self, version: HadoopPath) -> bool:
        return self.fs.exists(version / "_SUCCESS")

    def read_text(self, version: HadoopPath, name: str) -> str | None:
        return self.fs.read_text(version / name)

    def write_text(self, version: HadoopPath, name: str, text: str) -> None:
        self.fs.write_text(version / name, text, overwrite=True)

    def data_files(self, version: HadoopPath) -> int | None:
        return sum(1 for name, _, _ in self.fs.files(version) if not name.startswith(("_", ".")))

    def usage(self, version: HadoopPath) -> tuple[int, float]:
        files = self.fs.files(version)
        return sum(size for _, size, _ in files), max((mtime for _, _, mtime in files), default=0.0)


@dataclass
class HadoopWarehouse:
    """A warehouse on any Hadoop FileSystem; bound to a session's JVM by connect()."""

    uri: str
    kind: str = "hadoop"
    _fs: JvmFileSystem | None = field(default=None, repr=False)
    _leases: HadoopLeases = field(default_factory=HadoopLeases, repr=False)  # this process's writes

    def __post_init__(self) -> None:
        if "://" not in self.uri and not self.uri.startswith("file:"):
            self.uri = f"file:{self.uri}"  # a plain path forced to Hadoop storage: the local filesystem
        self.uri = self.uri.rstrip("/")

    @property
    def root(self) -> HadoopPath:
        return HadoopPath(self.uri)

    def connect(self, spark) -> HadoopWarehouse:
        if self._fs is None:
            self._fs = JvmFileSystem(spark, self.uri)
        return self

    def table(self, schema: str, name: str) -> HadoopTableLocation:
        if self._fs is None:
            raise EnvironmentProblem(f"the warehouse '{self.uri}' is not connected to a Spark session yet.")
        scheme = self.uri.split(":", 1)[0].lower()
        return HadoopTableLocation(self._fs, self.root, schema, name, direct_put=scheme in DIRECT_PUT_SCHEMES,
                                   leases=self._leases)

    def relative(self, version) -> str:
        text = str(version)
        return text[len(self.uri) + 1:] if text.startswith(self.uri + "/") else text
