"""Spark's Thrift JDBC/ODBC server over a project's metastore, for BI tools and JDBC clients.

HiveThriftServer2 (in pyspark's jars) is started inside a classic session made from the target's
own conf (`catalog: hive`), so it serves exactly the relations the runs registered. An embedded
Derby metastore has one user at a time: while this server runs, it is that user, and a build
fails fast with "in use by another process" (stop the server, build, start it again; or use a
remote metastore through spark.hadoop.hive.metastore.uris, which both can share).
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkmodels.errors import EnvironmentProblem, UsageError
from sparkmodels.project.config import Target


@dataclass(frozen=True)
class JdbcServer:
    """A running Thrift server: where clients connect, and the session it serves."""

    host: str
    port: int
    spark: object

    @property
    def url(self) -> str:
        return f"jdbc:hive2://{self.host}:{self.port}/default"


def start_jdbc_server(target: Target, *, host: str = "127.0.0.1", port: int = 10000,
                      app_name: str = "sparkmodels serve-jdbc") -> JdbcServer:
    """Start a session for the target with the Thrift server bound to host:port."""
    from dataclasses import replace
    from types import MappingProxyType

    from sparkmodels.execute.catalog import catalog_for
    from sparkmodels.execute.spark.launch import JDBC_READER_CONF
    from sparkmodels.execute.spark.session import start_session

    if target.catalog != "hive":
        raise UsageError(f"target '{target.name}' has no metastore to serve: set `catalog: hive` on it "
                         "(see the README's \"Metastore\" section).")
    if target.remote:
        raise UsageError(f"target '{target.name}' is a Spark Connect target: start the Thrift server on the "
                         "cluster that owns its metastore instead.")
    conf = {**JDBC_READER_CONF, **target.conf, "spark.hadoop.hive.server2.thrift.port": str(port),
            "spark.hadoop.hive.server2.thrift.bind.host": host,
            "hive.server2.thrift.port": str(port), "hive.server2.thrift.bind.host": host}
    target = replace(target, conf=MappingProxyType(conf))
    spark, _ = start_session(target, app_name)
    catalog_for(spark, target).connect()  # a held metastore: the clear error, not the server's
    try:
        jvm = spark.sparkContext._jvm
        jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
            spark._jsparkSession.sqlContext())
    except Exception as exc:  # noqa: BLE001 - a port in use, a missing jar: one paragraph
        spark.stop()
        raise EnvironmentProblem(f"the Thrift JDBC server could not start on {host}:{port}: "
                                 f"{str(exc).strip().splitlines()[0][:300]}",
                                 hint="Choose another --port, or check that nothing else listens there.") from None
    return JdbcServer(host, port, spark)
