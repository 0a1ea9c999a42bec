"""The driver JVM's class-data-sharing archive: Spark's classes loaded once, mapped by every later run.

A driver JVM spends most of its start, and of its first queries, loading and verifying classes
(Catalyst, Parquet, Hadoop). The first run on a machine dumps the classes it loaded into a dynamic
CDS archive (`-XX:ArchiveClassesAtExit`, JDK 13+); later runs map it (`-XX:SharedArchiveFile`).
The archive is keyed by the Java binary, the Spark jars and the driver classpath, and kept in
`~/.cache/sparkmodels/cds/` (XDG_CACHE_HOME respected). The dumping JVM writes a private `.part`
file when it exits, after the run, and logs when the dump is complete; the next run renames a
complete dump into place. Only complete archives are used, because the JVM crashes on a truncated
one; an archive that still fails to start Spark is deleted and the start retried without it. While
a dump is pending no other run starts one. Target option `jvm_cds: false` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

DUMP_FLAG = "-XX:ArchiveClassesAtExit="
USE_FLAG = "-XX:SharedArchiveFile="
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # a classpath mismatch only disables sharing: say nothing
_MAGIC = bytes.fromhex("a8ab0bf0")  # a dynamic archive's header (0xf00baba8, little-endian)
_DONE = b"Written dynamic archive"
# A dump not finished this long after its run started was abandoned (the JVM was killed): start anew.
_ABANDONED_S = 15 * 60


def cache_root() -> Path:
    """sparkmodels' folder in the user's cache ($XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sparkmodels"


def cache_dir() -> Path:
    return cache_root() / "cds"


def java_executable() -> str | None:
    """The java Spark's launcher runs: $JAVA_HOME/bin/java, else the one on PATH (None if missing)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return java if java and os.path.exists(java) else None


def _java_binary() -> str | None:
    java = java_executable()
    return os.path.realpath(java) if java else None


def find_spark_home() -> Path | None:
    """$SPARK_HOME, else the installed pyspark package (found without importing it); None if neither."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(os.environ.get("SPARK_HOME") or list(spec.submodule_search_locations)[0])


def archive_key(conf: Mapping[str, str], spark_home: Path | None = None) -> str | None:
    """A name for the archive of this Java + Spark + driver classpath, or None when Java is unknown."""
    java = _java_binary()
    if java is None:
        return None
    spark_home = spark_home or find_spark_home()
    if spark_home is None:
        return None
    jars = spark_home / "jars"
    try:
        listing = sorted((e.name, e.stat().st_size, int(e.stat().st_mtime)) for e in os.scandir(jars))
        jstat = os.stat(java)
    except OSError:
        return None
    parts = {"java": [java, jstat.st_size, int(jstat.st_mtime)], "spark_home": str(spark_home), "jars": listing,
             "classpath": conf.get("spark.driver.extraClassPath", "")}
    if conf.get("spark.sql.catalogImplementation") == "hive":
        # A Hive-enabled driver loads Hive's, DataNucleus' and Derby's classes too (seconds of its
        # start): it gets an archive of its own that holds them.
        parts["catalog"] = "hive"
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def java_options(conf: Mapping[str, str], directory: Path | None = None) -> str:
    """JVM options for this run: map the archive if there is one, else dump one at exit ("" if off,
    or while another run's dump is still being written)."""
    key = archive_key(conf)
    if key is None:
        return ""
    directory = directory or cache_dir()
    final = directory / f"{key}.jsa"
    if final.is_file() or _publish_finished_dump(directory, key):
        return _use_options(final)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if _dump_in_progress(directory, key):
            return ""
    except OSError:
        return ""  # no writable cache: run without sharing
    part = directory / f"{key}.{os.getpid()}.{time.time_ns()}.part"
    # the JVM dumps when it exits (with this process); the log's last line says the dump is complete
    return f"{DUMP_FLAG}{part} {QUIET} -Xlog:cds+dynamic=info:file={part}.log"


def _use_options(archive: Path) -> str:
    # should the archive crash the JVM, its report goes to the cache, not the project folder
    return f"{USE_FLAG}{archive} {QUIET} -XX:ErrorFile={archive.parent}/hs_err_%p.log"


def mapping_options(conf: Mapping[str, str]) -> str:
    """Options that map an existing archive, never dump one ("" when there is none yet)."""
    key = archive_key(conf)
    archive = cache_dir() / f"{key}.jsa" if key else None
    return _use_options(archive) if archive is not None and archive.is_file() else ""


def _publish_finished_dump(directory: Path, key: str) -> bool:
    """Move a dump whose JVM finished writing it into place; True when one was published."""
    for part in sorted(directory.glob(f"{key}.*.part")):
        log = Path(f"{part}.log")
        try:
            with log.open("rb") as fh:
                fh.seek(max(0, log.stat().st_size - 4096))
                done = _DONE in fh.read()
            with part.open("rb") as fh:
                valid = fh.read(4) == _MAGIC and part.stat().st_size > (1 << 20)
            if done and valid:
                os.replace(part, directory / f"{key}.jsa")
                log.unlink()
                return True
        except OSError:
            continue
    return False


def _dump_in_progress(directory: Path, key: str) -> bool:
    """Whether a recent run is still to dump (or dumping) this archive; removes abandoned dumps."""
    now, busy = time.time(), False
    for entry in directory.glob(f"{key}.*.part*"):
        with contextlib.suppress(OSError):
            age = now - entry.stat().st_mtime
            if age > _ABANDONED_S:
                entry.unlink()
            else:
                busy = True
    return busy


def option_value(options: str, flag: str) -> str | None:
    """The value of -XX:<flag><value> in a java options string, if present."""
    for word in options.split():
        if word.startswith(flag):
            return word[len(flag):]
    return None


def discard_archive(options: str) -> None:
    """Forget an archive that the JVM failed to start with (it is re-dumped by a later run)."""
    used = option_value(options, USE_FLAG)
    if used:
        with contextlib.suppress(OSError):
            Path(used).unlink()
