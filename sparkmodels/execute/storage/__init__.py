"""Warehouse storage: the protocol every table layout follows, and the choice of layout for a target.

Two implementations, picked by the warehouse URI (or forced with the target's `warehouse_storage`):
  - `local` (storage/local.py): a POSIX path; `<schema>/<model>` is a symlink swapped by rename.
  - `hadoop` (storage/hadoop.py): any Hadoop FileSystem URI (hdfs://, s3a://, abfss://, file:);
    the current version is named by immutable pointer files, read and written through the JVM.
Both write a table version to `<warehouse>/<schema>/.versions/<model>/<version>/` and make it the
one readers see only after Spark committed it (`_SUCCESS`), so a failed write never changes a table.
Both refuse schema/table names that are not one folder name, publish only when the version a write
started from is still current, and clean only versions nobody is using (see leases.py).
"""

from __future__ import annotations

from typing import Protocol

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.storage.local import (
    KEEP_PREVIOUS,
    VERSIONS_DIR,
    LocalWarehouse,
    TableLocation,
    local_path,
    version_name,
)

# Schemes served by the Hadoop variant without `warehouse_storage: hadoop` (others: a clear error).
HADOOP_SCHEMES = ("hdfs", "viewfs", "s3a", "abfs", "abfss", "wasb", "wasbs", "gs", "oss", "ofs", "o3fs")
STORAGE_KINDS = ("auto", "local", "hadoop")

__all__ = ["HADOOP_SCHEMES", "KEEP_PREVIOUS", "STORAGE_KINDS", "VERSIONS_DIR", "LocalWarehouse", "TableLocation",
           "TableStore", "Warehouse", "local_path", "open_warehouse", "scheme_of", "version_name"]


class TableStore(Protocol):
    """One table's versions. A version is a path-like value: str(v) is its URI, v.name its name."""

    @property
    def link(self): ...  # where the table is named for people (errors, run results)

    def current(self): ...  # the complete version readers see now, or None
    def new_version(self): ...  # a fresh, empty, unpublished version location
    # make a completely written version current, atomically, if `expected_base` (by default the
    # version current when new_version() was called) is still current; else a WarehouseError
    def publish(self, version, expected_base=...) -> None: ...
    def discard(self, version) -> None: ...
    def clean(self, keep: int = KEEP_PREVIOUS) -> list: ...  # remove stale versions
    def is_complete(self, version) -> bool: ...  # Spark committed it (`_SUCCESS`)
    def read_text(self, version, name: str) -> str | None: ...  # a small file beside the data
    def write_text(self, version, name: str, text: str) -> None: ...
    def data_files(self, version) -> int | None: ...
    def usage(self, version) -> tuple[int, float]: ...  # (bytes, latest mtime) of the version's files


class Warehouse(Protocol):
    """A warehouse root: hands out TableStores and names versions relative to itself."""

    kind: str
    uri: str

    def table(self, schema: str, name: str) -> TableStore: ...
    def relative(self, version) -> str: ...  # a version's name relative to the warehouse (build cache)
    def connect(self, spark) -> Warehouse: ...  # bind to a session (the Hadoop variant needs its JVM)


def scheme_of(uri: str) -> str | None:
    head, sep, _ = uri.partition("://")
    if sep and head.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return head.lower()
    if uri.startswith("file:"):
        return "file"
    return None


def open_warehouse(uri: str, kind: str = "auto", *, remote: str | None = None, target: str = "?") -> Warehouse:
    """The storage for a target's warehouse; unsupported combinations fail here, before Spark starts."""
    if kind not in STORAGE_KINDS:
        raise EnvironmentProblem(f"target '{target}': warehouse_storage must be one of {', '.join(STORAGE_KINDS)}, "
                                 f"not '{kind}'.")
    scheme = scheme_of(uri)
    if kind == "auto":
        if scheme in HADOOP_SCHEMES:
            kind = "hadoop"
        elif scheme in (None, "file"):
            kind = "local"
        else:
            raise EnvironmentProblem(
                f"target '{target}': warehouse '{uri}' has the scheme '{scheme}://', which sparkmodels does not "
                f"know (supported: a local path, file:, {', '.join(s + '://' for s in HADOOP_SCHEMES)}).",
                hint="For S3 use s3a://. To use another Hadoop FileSystem scheme, set "
                     "`warehouse_storage: hadoop` in the target.",
            )
    if kind == "local":
        return LocalWarehouse(local_path(uri))
    if remote:
        raise EnvironmentProblem(
            f"target '{target}': a Hadoop FileSystem warehouse ('{uri}') cannot be used over Spark Connect: "
            "publishing a table version needs the cluster's FileSystem API, which a Connect client has no "
            "access to.",
            hint="Use a classic target (master:) for this warehouse, or a path the Connect server and this "
                 "machine both mount (warehouse: /mnt/shared/...).",
        )
    from sparkmodels.execute.storage.hadoop import HadoopWarehouse

    return HadoopWarehouse(uri)
