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
        for dirpath, _dirs, files in os.walk(version, followlinks=True):  # a source's linked folders
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


def files_in_window(version, column: str, window, timezone: str) -> set[str] | None:
    """The data files of a local version that may hold a row whose `column` is in [start, end) (see
    window_files); None when that cannot be decided for every file."""
    found = window_files(version, column, window, timezone)
    return None if found is None else set(found)


def _row_groups(version: Path, column: str) -> dict[str, list[tuple]] | None:
    """{relative path: [(min, max, nulls) per row group]} of `column` in a local version's data files,
    from their Parquet footers (read on the driver, no Spark job). A row group holding only nulls is
    (None, None, its value count). None when a footer cannot tell: not a Parquet footer we can read,
    the column absent from the file (a partition column, or missing) or without statistics."""
    import pyarrow.parquet as pq

    out: dict[str, list[tuple]] = {}
    for rel in data_files(None, version):
        try:
            meta = pq.read_metadata(version / rel)
        except Exception:  # noqa: BLE001 - not a Parquet footer we can read
            return None
        names = [meta.schema.column(i).name.lower() for i in range(meta.num_columns)]
        if column.lower() not in names:
            return None  # a partition column, or missing: Spark knows
        j = names.index(column.lower())
        groups = []
        for g in range(meta.num_row_groups):
            chunk = meta.row_group(g).column(j)
            stats = chunk.statistics
            if stats is None or not stats.has_min_max:
                if stats is not None and chunk.num_values == stats.null_count:
                    groups.append((None, None, chunk.num_values))  # only nulls
                    continue
                return None
            groups.append((stats.min, stats.max, stats.null_count))
        out[rel] = groups
    return out


def _zone(timezone: str):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(timezone)
    except Exception:  # noqa: BLE001 - an offset like '+01:00': let Spark decide
        return None


def window_files(version, column: str, window, timezone: str) -> dict[str, bool] | None:
    """{relative path: whether every row is inside} for the data files of a local version that may
    hold a row whose `column` is in [start, end), from the Parquet footers' per-row-group min/max (read
    on the driver, no Spark job). A file wholly inside the window (no nulls, min and max inside) keeps
    no row when the window is replaced, so it need not be read. The window is in the session's time
    zone, as Spark's timestamp literals are. None when that cannot be decided for every file (Hadoop
    storage, a column without statistics, such as INT96 timestamps, or of another type): the caller
    then asks Spark."""
    if not isinstance(version, Path):
        return None
    import datetime as dt

    zone = _zone(timezone)
    files = _row_groups(version, column) if zone is not None else None
    if files is None:
        return None
    start, end = window
    out: dict[str, bool] = {}
    for rel, groups in files.items():
        overlaps, inside = False, True
        for lo, hi, nulls in groups:
            if lo is None:
                inside = inside and not nulls  # only nulls: no row in any window
                continue
            if isinstance(lo, dt.datetime):
                if lo.tzinfo is not None:  # adjusted to UTC: compare instants
                    s, e = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
                else:
                    s, e = start, end
            elif isinstance(lo, dt.date):
                lo, hi = dt.datetime.combine(lo, dt.time()), dt.datetime.combine(hi, dt.time())
                s, e = start, end
            else:
                return None
            if hi >= s and lo < e:
                overlaps = True
            if nulls or lo < s or hi >= e:
                inside = False
        if overlaps:
            out[rel] = inside
    return out


def newest_in_files(version, column: str, timezone: str):
    """(decided, newest) of `column` over the data files of a local version from the Parquet footers'
    max statistics (no Spark job): newest is a naive datetime in the session's time zone (None: no
    non-null value). decided is False when a file's footer cannot tell (Hadoop storage, no statistics,
    another type, a partition column): the caller then asks Spark."""
    if not isinstance(version, Path):
        return False, None
    import datetime as dt

    zone = _zone(timezone)
    files = _row_groups(version, column) if zone is not None else None
    if files is None:
        return False, None
    newest = None
    for groups in files.values():
        for _lo, hi, _nulls in groups:
            if hi is None:
                continue  # only nulls
            if isinstance(hi, dt.datetime):
                if hi.tzinfo is not None:  # an instant: the session's wall clock, as Spark shows it
                    hi = hi.astimezone(zone).replace(tzinfo=None)
            elif isinstance(hi, dt.date):
                hi = dt.datetime.combine(hi, dt.time())
            else:
                return False, None
            newest = hi if newest is None or hi > newest else newest
    return True, newest


def read_files(spark, version, schema, relpaths):
    """Some data files of a version as a DataFrame of the table's schema (partition values from their
    folders, as when the whole version is read)."""
    return (spark.read.schema(schema).option("basePath", str(version))
            .parquet(*[f"{version}/{rel}" for rel in sorted(relpaths)]))
