"""New table versions that share the untouched files of the previous one (incremental writes).

An incremental write never changes the version readers see. It writes only the new or rewritten
rows with Spark into a fresh version folder, then, before that version is published, makes every
data file of the previous version that it keeps appear in the new folder at the same relative path
(partition folders included):

- `local` storage: a hard link per file (`os.link`): no bytes are copied, the file is shared by both
  versions and freed when the last version naming it is cleaned. Where the filesystem refuses hard
  links, the file is copied.
- `hadoop` storage: Hadoop FileSystems have no hard links, so each kept file is copied with
  `FileUtil.copy` (on HDFS a datanode-to-datanode copy; no Spark job, but bytes proportional to the
  kept data). The previous version stays readable until the pointer moves, as for tables.

Spark names its part files with a per-write UUID, so kept and new files never collide. The version is
published (one atomic swap) only after all files are in place; a crash before leaves a folder that the
next write's clean-up removes.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path


def _is_data(name: str) -> bool:
    return not name.startswith(("_", "."))


def data_files(loc, version) -> list[str]:
    """Relative paths (with partition folders) of the data files of a version."""
    if isinstance(version, Path):
        out = []
        for dirpath, _dirs, files in os.walk(version):
            rel = os.path.relpath(dirpath, version)
            for f in files:
                if _is_data(f):
                    out.append(f if rel == "." else f"{rel}/{f}")
        return sorted(out)
    fs = loc.fs  # hadoop storage
    path = fs._Path(str(version))
    base = fs._fs.makeQualified(path).toUri().getPath().rstrip("/") + "/"
    out, it = [], fs._fs.listFiles(path, True)
    while it.hasNext():
        p = it.next().getPath()
        if _is_data(p.getName()):
            out.append(p.toUri().getPath()[len(base):])
    return sorted(out)


def partition_of(relpath: str) -> str:
    """The partition folder of a data file ('' for an unpartitioned table)."""
    return relpath.rsplit("/", 1)[0] if "/" in relpath else ""


def relative_file(uri: str, version) -> str | None:
    """A file URI from Spark's input_file_name() relative to a version folder (None: not under it)."""
    path = urllib.parse.unquote(urllib.parse.urlparse(uri).path)
    base = urllib.parse.unquote(urllib.parse.urlparse(str(version)).path) if "://" in str(version) else str(version)
    for b in {base, os.path.realpath(base)}:
        b = b.rstrip("/") + "/"
        if path.startswith(b):
            return path[len(b):]
    real = os.path.realpath(path)
    for b in {os.path.realpath(base)}:
        b = b.rstrip("/") + "/"
        if real.startswith(b):
            return real[len(b):]
    return None


def share(loc, old, new, relpaths: Iterable[str]) -> int:
    """Make each old data file appear in the new version (hard link, or a copy); returns the count."""
    count = 0
    if isinstance(old, Path):
        new = Path(str(new))
        made: set[Path] = set()
        for rel in relpaths:
            src, dst = old / rel, new / rel
            if dst.parent not in made:
                dst.parent.mkdir(parents=True, exist_ok=True)
                made.add(dst.parent)
            try:
                os.link(src, dst)
            except OSError:  # no hard links here (or across devices): copy
                shutil.copy2(src, dst)
            count += 1
        return count
    fs = loc.fs
    jvm = fs._jvm
    conf = fs._fs.getConf()
    for rel in relpaths:
        jvm.org.apache.hadoop.fs.FileUtil.copy(fs._fs, fs._Path(f"{old}/{rel}"), fs._fs,
                                               fs._Path(f"{new}/{rel}"), False, conf)
        count += 1
    return count


def write_sharing(engine, ctx, df, *, partition_by=(), keep: Callable[[object, list[str]], Iterable[str]],
                  old) -> dict:
    """Write df as a new version holding also the previous version's files that `keep` chooses.

    keep(new_version, old_files) -> the relative paths of old data files to share into the new version;
    it runs after Spark wrote df (so it may look at which partitions the new rows landed in).
    """
    loc = engine.location(ctx.node, ctx.schema)
    shared = {"files": 0}

    def before_publish(version) -> None:
        old_files = data_files(loc, old)
        chosen = list(keep(version, old_files))
        shared["files"] = share(loc, old, version, chosen)

    stats = write_version(engine, ctx, df, partition_by=partition_by, before_publish=before_publish)
    return {**stats, "shared_files": shared["files"]}


def write_version(engine, ctx, df, *, partition_by=(), before_publish=None) -> dict:
    """The one call into the table writer (kept here so the incremental code has one seam)."""
    return engine.writer.write(df, ctx.node, ctx.schema, partition_by=partition_by, fingerprint=None,
                               before_publish=before_publish)


def partitions_written(loc, version, depth: int) -> set[str]:
    """Partition folders (depth levels of key=value) that hold data files in a just-written version."""
    if not depth:
        return {""}
    return {partition_of(f) for f in data_files(loc, version)}
