"""What a driver JVM is started with: the Java it needs, its conf and Java options (a run's session and
`sparkmodels server` start theirs from the same functions)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sparkmodels.errors import EnvironmentProblem
from sparkmodels.execute.catalog import embedded_home
from sparkmodels.execute.spark import jvm_cds
from sparkmodels.project.config import Target

MIN_JAVA = 17
_LOG4J = Path(__file__).parents[2] / "include" / "log4j2.properties"


def java_version() -> tuple[int | None, str]:
    """(major version, java executable) of the Java Spark would use; (None, reason) if missing."""
    java = jvm_cds.java_executable()
    if java is None:
        return None, "no 'java' on PATH and JAVA_HOME is not set"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"'{java} -version' failed: {exc}"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None, f"cannot read the Java version from: {out.strip()[:200]}"
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8" style
        major = int(m.group(2))
    return major, java


def check_java() -> int:
    """Fail with an actionable message unless Java 17+ is available."""
    major, where = java_version()
    if major is None:
        raise EnvironmentProblem(
            f"Java is required to run Spark locally, but {where}.",
            hint=f"Install Java {MIN_JAVA} or newer (e.g. `apt-get install openjdk-17-jre-headless`) "
            "and set JAVA_HOME, or use a Spark Connect target (remote: sc://...).",
        )
    if major < MIN_JAVA:
        raise EnvironmentProblem(
            f"Spark 4 needs Java {MIN_JAVA} or newer, but {where} is Java {major}.",
            hint="Install a newer JDK and point JAVA_HOME at it.",
        )
    return major


def prepare_python_env() -> None:
    """Make Spark's Python workers use this interpreter unless the user chose one."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


# A partitioned write (partition_by) sorts every task's rows by the partition columns before writing
# (Spark's planned write), though an incremental run's rows usually land in one or two partitions: on
# a month of trips the sort was a third of the write. With planned writes off, each task keeps up to
# 4 partition files open instead and sorts only the rows beyond that (Spark's concurrent output
# writers; Parquet's memory manager shrinks row groups if many writers are open). A full rebuild of
# 25 monthly partitions measured the same either way (bench/bench_incremental.py).
WRITE_CONF = {"spark.sql.optimizer.plannedWrite.enabled": "false", "spark.sql.maxConcurrentOutputFileWriters": "4"}


# A JDBC session is long-lived (a BI tool keeps its connection), and Spark caches each table's
# resolved relation, file listing included, per session, by name: after a build moved a table to its
# new version that session would go on reading the listing of the old one (stale, then "File does
# not exist" once the old version is cleaned). Without the cache every query resolves the table's
# current location in the metastore and lists it (+10-40 ms a query on a 20-file table, README).
JDBC_READER_CONF = {"spark.sql.filesourceTableRelationCacheSize": "0"}


def session_conf(target: Target) -> dict[str, str]:
    """The Spark conf of a classic session for this target, the user's `conf:` last (so it wins);
    `sparkmodels server` starts its JVM with the same conf (server.py)."""
    # Timestamps as INT64 microseconds, not Spark's legacy INT96: INT96 columns carry no min/max
    # statistics, so a time window (microbatch, a filter on event time) could skip no row group,
    # and other Parquet readers treat INT96 as deprecated.
    conf = {"spark.ui.showConsoleProgress": "false", "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}
    conf.update(WRITE_CONF)
    if "://" not in target.warehouse:
        conf["spark.sql.warehouse.dir"] = str(Path(target.warehouse) / ".spark-warehouse")
    if target.catalog == "hive":
        conf["spark.sql.catalogImplementation"] = "hive"
        home = embedded_home(target)
        if home is not None:
            # An embedded Derby metastore beside the data it describes (also for a file: warehouse)
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
    if target.packages:
        conf["spark.jars.packages"] = ",".join(target.packages)
    if target.jars:
        conf["spark.jars"] = ",".join(target.jars)
    return {**conf, **target.conf}


def driver_java_options(target: Target, *, cds: str = "auto") -> str:
    """The driver JVM's options: our log4j config, the class archive (jvm_cds.py), then the user's.
    cds: "auto" maps the archive or dumps one at exit, "map" only maps an existing one, "off"."""
    opts = [f"-Dlog4j2.configurationFile={_LOG4J}"] if _LOG4J.exists() else []
    if cds != "off" and target.jvm_cds:
        cds_conf = {**target.conf, "spark.sql.catalogImplementation": "hive"} if target.catalog == "hive" else target.conf
        opts.append(jvm_cds.java_options(cds_conf) if cds == "auto" else jvm_cds.mapping_options(cds_conf))
    if target.catalog == "hive" and embedded_home(target) is not None:
        # derby.log (and Derby's own files) under the metastore's folder, not the working directory
        opts.append(f"-Dderby.system.home={embedded_home(target)}")
    opts.append(target.conf.get("spark.driver.extraJavaOptions", ""))
    return " ".join(o for o in opts if o)
