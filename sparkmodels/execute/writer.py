"""Table version writes: a new Parquet version, its fingerprint, atomic publish, rows written.

The one way a stored relation gets new data (tables, seeds, a test's store_failures). The build
cache's fingerprint is an argument of the write, recorded beside the data before the version is
published.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping

from sparkmodels.execute import one_partition
from sparkmodels.execute.jobs import Jobs
from sparkmodels.execute.relations import Relations
from sparkmodels.project.manifest import Node


class VersionWriter:
    """Writes table versions into the run's warehouse, honouring Ctrl-C and telling relations."""

    def __init__(self, relations: Relations, jobs: Jobs, catalog=None):
        from sparkmodels.execute.catalog import NoCatalog

        self.relations = relations
        self.jobs = jobs
        self.catalog = catalog if catalog is not None else NoCatalog()
        self._cleaner = None  # one background thread removing superseded versions (see finish)

    def _clean_later(self, loc) -> None:
        """Remove the versions the publish superseded off the step's path: deleting a version's files
        is bookkeeping nobody waits for (the storage's mutex orders it with later publishes of the
        table); finish() waits for it before the run ends."""
        if self._cleaner is None:
            from concurrent.futures import ThreadPoolExecutor

            self._cleaner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkmodels-clean")
        self._cleaner.submit(loc.clean)

    def finish(self) -> None:
        """Wait for the background clean-ups (before the session stops: Hadoop storage cleans
        through it). A clean-up that failed leaves versions the next write of the table removes."""
        if self._cleaner is not None:
            self._cleaner.shutdown(wait=True)
            self._cleaner = None

    def write(self, df, node: Node, schema: str, *, partition_by=(), fingerprint: Mapping | None = None,
              before_publish=None) -> dict:
        """Write df as a new Parquet version, then publish it atomically. Returns write stats.

        `before_publish(version)` runs after Spark wrote the version; when it returns a version, the
        publish expects that one current (a write rebased on a newer base, see microbatch.py) instead
        of the one current when the write began.

        Rows come from Spark's own output accounting for the write's jobs (classic sessions), or from
        an Observation over Spark Connect, where the status store is out of reach. The new version is
        not read back here: Relations.ensure registers it when a downstream step first reads it.
        """
        from sparkmodels.execute.cache import write_fingerprint
        from sparkmodels.execute.checks import contracts

        df = contracts.conform(df, node)  # an enforced contract: columns and types, before any write
        loc = self.relations.location(node, schema)
        version = loc.new_version()
        status = self.jobs.status_reader()
        observation = None
        if status is None:
            from pyspark.sql import Observation
            from pyspark.sql import functions as F

            observation = Observation(f"sm_{node.name}_{version.name}")
            df = df.observe(observation, F.count(F.lit(1)).alias("rows"))
        group = self.jobs.current_group()
        try:
            self.jobs.check_cancelled(group, node)
            since = status.watermark() if status is not None else 0
            since, one_folder = self._write(df, version, partition_by, status, since)
            if status is not None:
                rows = status.collect(group, since).get("rows_written")
            else:
                rows = observation.get.get("rows")
            rows = int(rows) if rows is not None else None
            if one_folder is not None:  # before anything reads which partitions were written
                one_partition.settle(version, one_folder, rows)
            contracts.verify_staged(df, node, version)  # not_null/check on the new files, unpublished
            base = None
            if before_publish is not None:  # an incremental write shares the previous version's files
                base = before_publish(version)  # and may name the version it was rebased on
            # A job submitted just after Ctrl-C escaped cancelJobGroup: it must still not publish.
            self.jobs.check_cancelled(group, node)
        except BaseException:
            loc.discard(version)
            raise
        # Reused by later steps of this run and (in the fingerprint) by later runs, so reading the
        # version starts no footer-inference job.
        written_schema = read_schema(df.schema, partition_by)
        # rows written, so a later cache hit can still report the table's size
        write_fingerprint(version, dict(fingerprint) if fingerprint is not None else None, rows=rows,
                          schema=written_schema.json() if written_schema is not None else None, store=loc)
        if base is None:
            loc.publish(version)
        else:
            loc.publish(version, expected_base=base)
        self._clean_later(loc)
        self.relations.published(node, version, written_schema)
        # With readers in other sessions meanwhile (a JDBC client of the server), the metastore names
        # the version folder itself and moves to the new one in one ALTER TABLE ... SET LOCATION: a
        # query running across the publish reads the old version's files, which stay until the next
        # publish. Through the stable link it would find them gone ("File does not exist") once the
        # link moved. A partitioned table keeps the link: its partitions' locations would not move
        # with the table's. Without such readers the link needs no metastore call at all.
        stable = getattr(loc, "pointers", None) is None and (bool(partition_by) or not self.catalog.shared_readers)
        partitions = None
        if partition_by and not stable and self.catalog.enabled:
            from sparkmodels.execute.materializations.versions import data_files, partition_of

            partitions = {partition_of(f) for f in data_files(loc, version)}  # each moves to its new folder
        self.catalog.register_table(node, schema, str(loc.link if stable else version), written_schema,
                                    partition_by, stable=stable, partitions=partitions)
        stats = {"rows": rows, "path": str(loc.link), "version": version.name, "files": loc.data_files(version)}
        self.jobs.record_write(group, stats)
        return stats

    def _write(self, df, version, partition_by, status, since: int) -> tuple[int, str | None]:
        """Spark writes df as the version (into its one partition's folder when the plan proves there
        is one, see one_partition.py). Returns the status store's watermark of the write's jobs and
        that folder (None: Spark's own partitioning)."""
        one = one_partition.single_partition(df, partition_by, version) if partition_by else None
        if one is not None:
            column, value, folder = one
            try:
                one_partition.checked(df, column, value).write.mode("error").parquet(str(version / folder))
                return since, folder
            except Exception as exc:  # noqa: BLE001
                if not one_partition.is_check_failure(exc):
                    raise
                # A row of another partition after all: the partitioned writer, from a clean version.
                shutil.rmtree(version, ignore_errors=True)
                since = status.watermark() if status is not None else since
        writer = df.write.mode("error")  # "errorifexists" is unknown to Spark Connect
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.parquet(str(version))
        return since, None


def read_schema(schema, partition_by=()):
    """The schema Spark reads a written version with: partition columns come last (in partition_by
    order) with the types they were written with, the data columns in their order."""
    if not partition_by:
        return schema
    from pyspark.sql.types import StructType

    by_name = {f.name.lower(): f for f in schema.fields}
    parts = [by_name[c.lower()] for c in partition_by if c.lower() in by_name]
    if len(parts) != len(partition_by):
        return None  # a partition column Spark will reject anyway: let it infer
    names = {f.name for f in parts}
    return StructType([f for f in schema.fields if f.name not in names] + parts)
