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
The filesystem is reached through the session's JVM (py4j), so this needs a classic session.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.storage.local import KEEP_PREVIOUS, VERSIONS_DIR, version_name

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


@dataclass(frozen=True)
class HadoopTableLocation:
    """One table's versions and pointers on a Hadoop FileSystem (see the module docstring)."""

    fs: JvmFileSystem
    warehouse: HadoopPath
    schema: str
    name: str
    direct_put: bool = False

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
        """`<warehouse>/<schema>/<model>`: read as the table when another tool wrote one there."""
        return self.warehouse / self.schema / self.name

    # -- reading ---------------------------------------------------------------------------------
    def _pointer_names(self) -> list[str]:
        return sorted((n for n, is_dir in self.fs.list(self.pointers) if not is_dir and _POINTER_NAME.match(n)),
                      reverse=True)

    def _resolve(self) -> tuple[str | None, HadoopPath | None]:
        """(pointer name, version) of the newest pointer naming a committed version."""
        for pointer in self._pointer_names():
            text = self.fs.read_text(self.pointers / pointer) or ""
            name = text[:-1] if text.endswith("\n") else ""  # no newline yet: half-written, skip it
            if _VERSION_NAME.match(name) and self.is_complete(self.versions / name):
                return pointer, self.versions / name
        return None, None

    def current(self) -> HadoopPath | None:
        _, version = self._resolve()
        if version is None and self.fs.list(self.plain):
            return self.plain  # a table written by another tool: readable as is (never changed by us)
        return version

    # -- writing ---------------------------------------------------------------------------------
    def new_version(self) -> HadoopPath:
        return self.versions / version_name()  # Spark creates the folder when it writes

    def publish(self, version: HadoopPath) -> None:
        """Make a committed version current with one new pointer (atomic for readers)."""
        existing = self._pointer_names()
        stamp = time.time_ns()
        if existing:  # a clock stepping back must not hide this publish behind an older pointer
            stamp = max(stamp, int(_POINTER_NAME.match(existing[0]).group(1)) + 1)
        name = f"p{stamp:019d}_{uuid.uuid4().hex[:8]}"
        target = self.pointers / name
        if self.direct_put:
            self.fs.write_text(target, version.name + "\n", overwrite=False)
            return
        tmp = self.pointers / f".{name}.tmp"
        self.fs.write_text(tmp, version.name + "\n", overwrite=False)
        if not self.fs.rename(tmp, target):
            self.fs.delete(tmp)
            raise EnvironmentProblem(f"could not publish {version}: renaming the pointer {tmp} to {target} failed.")

    def discard(self, version: HadoopPath) -> None:
        self.fs.delete(version)

    def clean(self, keep: int = KEEP_PREVIOUS) -> list[HadoopPath]:
        """Remove stale versions (all but the current and `keep` older committed ones) and old pointers."""
        pointer, current = self._resolve()
        if current is None:
            return []
        removed = []
        for name, _ in self.fs.list(self.pointers):
            m = re.match(r"^\.?(p\d{19}_[0-9a-f]{8})(\.tmp)?$", name)
            if m and m.group(1) < pointer:  # older pointers, and temps of publishes that died
                self.fs.delete(self.pointers / name)
        older = sorted((n for n, is_dir in self.fs.list(self.versions)
                        if is_dir and n.startswith("v") and n != current.name), reverse=True)
        kept = 0
        for name in older:
            version = self.versions / name
            if name > current.name:
                continue  # possibly a concurrent writer's version in progress
            if kept < keep and self.is_complete(version):
                kept += 1
                continue
            self.fs.delete(version)
            removed.append(version)
        return removed

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
        return HadoopTableLocation(self._fs, self.root, schema, name, direct_put=scheme in DIRECT_PUT_SCHEMES)

    def relative(self, version) -> str:
        text = str(version)
        return text[len(self.uri) + 1:] if text.startswith(self.uri + "/") else text
