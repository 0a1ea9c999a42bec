"""Publishing models to a metastore (`catalog: hive`): tables, seeds, snapshots and views by name.

The run itself still resolves refs inside its session (temp views over each table's current
version), so a run with the catalog on reads exactly what one without it reads. The catalog is a
mirror that other sessions, the Thrift server and BI tools query as `<schema>.<name>`:

- A stored relation is an external Parquet table at its stable location. On a `local` warehouse
  that is the table's symlink, which a publish moves atomically, so readers switch versions with
  no metastore call at all; REFRESH TABLE drops Spark's cached file listing. On a `hadoop`
  warehouse (no symlinks) the table's location is moved to the new version in one
  ALTER TABLE ... SET LOCATION.
- A view is a persistent catalog view whose SQL names catalog relations (the compiled SQL's
  session names qualified by sqlglot), so another session can query it.
- `persist_docs` (dbt's config) writes descriptions as table and column comments.

`catalog_for(spark, target)` gives the run's catalog: `NoCatalog` (the default) does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.errors import EnvironmentProblem, ExecutionError
from sparkmodels.execute.catalog.known import Registered, defined, fetch, same_location
from sparkmodels.project.config import Target
from sparkmodels.project.manifest import Node

CATALOGS = ("none", "hive")


class NoCatalog:
    """The catalog-free default: tables are Parquet folders, views live in the run's session."""

    enabled = False
    shared_readers = False

    def connect(self) -> None:
        pass

    def set_schemas(self, schemas: Mapping[str, tuple[str, str]]) -> None:
        pass

    def has(self, node: Node, schema: str) -> bool:
        return True

    def register_table(self, node: Node, schema: str, location: str, read_schema, partition_by=(),
                       *, stable: bool = True, partitions=None) -> None:
        pass

    def register_view(self, node: Node, schema: str, sql: str) -> None:
        pass

    def drop(self, schema: str, name: str) -> None:
        pass

    def describe(self, schema: str, name: str) -> dict | None:
        return None

    def release_at_exit(self) -> None:
        pass


def _over_connect(spark) -> bool:
    """A Spark Connect session, as session.is_connect_session says (not imported from there:
    launch -> catalog -> session -> launch would be a cycle)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


_HELD = ("Another instance of Derby", "XSDB6", "Failed to start database")
_UNREACHABLE = ("Could not connect to meta store", "Unable to instantiate", "MetaException")


def metastore_problem(exc: BaseException, target: Target) -> EnvironmentProblem | None:
    """The one-paragraph error for a metastore another process holds or that does not answer."""
    text = _messages(exc)
    where = target.conf.get("spark.hadoop.hive.metastore.uris") or metastore_dir(target)
    if any(m in text for m in _HELD):
        return EnvironmentProblem(
            f"target '{target.name}': the metastore at {where} is in use by another process "
            "(an embedded Derby metastore has one user at a time).",
            hint="Wait for the other sparkmodels run, Spark shell or Thrift server to finish, or run "
                 "`sparkmodels server start` once so every build and client shares its metastore.")
    if any(m in text for m in _UNREACHABLE):
        return EnvironmentProblem(
            f"target '{target.name}': the metastore at {where} cannot be reached: "
            f"{str(exc).strip().splitlines()[0][:200]}",
            hint="Check spark.hadoop.hive.metastore.uris in the target's conf, and that the metastore runs.")
    return None


def _messages(exc: BaseException) -> str:
    """The exception's text and its JVM causes' (a Derby lock is several causes deep, under Hive's
    "Unable to instantiate SessionHiveMetaStoreClient")."""
    parts = [str(exc)]
    origin = getattr(exc, "_origin", None)
    for _ in range(30):
        if origin is None:
            break
        try:
            parts.append(str(origin.toString()))
            origin = origin.getCause()
        except Exception:  # noqa: BLE001 - a gateway that is gone: what we have is enough
            break
    return "\n".join(parts)


def metastore_dir(target: Target) -> str:
    """Where an embedded metastore lives: `<warehouse>/.metastore` (with the data it describes, so
    `sparkmodels clean` removes both together)."""
    home = embedded_home(target)
    return str(home) if home is not None else f"{target.warehouse.rstrip('/')}/.metastore"


def embedded_home(target: Target) -> Path | None:
    """The folder of the target's embedded Derby metastore, `<warehouse>/.metastore`; None when the
    metastore is remote (hive.metastore.uris) or the warehouse is not on this machine's disk (hdfs://,
    s3a://: Derby needs a local folder). A `file:` warehouse, also one on Hadoop storage, is local."""
    if "spark.hadoop.hive.metastore.uris" in target.conf:
        return None
    warehouse = target.warehouse
    if warehouse.startswith("file:"):
        warehouse = "/" + warehouse[len("file:"):].lstrip("/")
    elif "://" in warehouse:
        return None
    return Path(warehouse) / ".metastore"


def _comment_of(node: Node) -> tuple[str | None, dict[str, str]]:
    """(relation comment, {column: comment}) that persist_docs asks for."""
    docs = node.config.get("persist_docs") or {}
    relation = (node.description or None) if docs.get("relation") else None
    columns = {}
    if docs.get("columns"):
        columns = {c.name.lower(): c.description for c in node.columns.values() if c.description}
    return relation, columns


class HiveCatalog:
    """Registers each published relation in the session's Hive metastore."""

    enabled = True

    def __init__(self, spark, target: Target, *, fresh_session: bool = False):
        self.spark = spark
        self.target = target
        # A session started for this run has resolved no catalog table it did not register itself,
        # so a table registered for the first time in it has no cached file listing to refresh.
        self.fresh_session = fresh_session
        self._known: dict[str, dict[str, Registered] | None] = {}  # schema -> its relations (known.py)
        self._touched: set[str] = set()  # tables this run registered (a session may have read them since)
        self._schemas: dict[str, tuple[str, str]] = {}  # session name -> (catalog schema, name)
        self._databases: set[str] = set()

    @property
    def shared_readers(self) -> bool:
        """Whether other sessions may query the metastore while this run publishes: a Connect
        server's (`sparkmodels server --jdbc-port`, JDBC clients in the same JVM) or a remote
        metastore's. An embedded Derby opened by this run's own JVM has no other user meanwhile."""
        return _over_connect(self.spark) or "spark.hadoop.hive.metastore.uris" in self.target.conf

    def _sql(self, text: str, node: Node | None = None):
        try:
            return self.spark.sql(text)
        except Exception as exc:  # noqa: BLE001 - a metastore problem becomes one clear paragraph
            problem = metastore_problem(exc, self.target)
            if problem is not None:
                raise problem from None
            raise ExecutionError(
                f"registering {node.name if node else 'a relation'} in the metastore failed: "
                f"{str(exc).strip().splitlines()[0][:300]}",
                node=node.name if node else None, path=node.path if node else None) from exc

    def connect(self) -> None:
        """Open the metastore before anything is written: a held or unreachable one fails the run
        before its first table, not after."""
        if _over_connect(self.spark):
            # The Connect server owns the metastore (and holds Derby's lock): it is the session
            # that registers, so what matters is that it has Hive support at all.
            self._check_server_has_hive()
        else:
            self._check_not_held()
        self._sql("SHOW DATABASES").collect()

    def _check_server_has_hive(self) -> None:
        """A Connect server started without Hive support would register every model in its own
        in-memory catalog, which no other engine sees and which is gone when it stops."""
        try:
            kind = self.spark.conf.get("spark.sql.catalogImplementation", "in-memory")
        except Exception:  # noqa: BLE001 - a server that will not say: SHOW DATABASES decides
            return
        if kind != "hive":
            where = self.target.remote or "the sparkmodels server"
            raise EnvironmentProblem(
                f"target '{self.target.name}' has catalog: hive, but its Spark Connect server ({where}) "
                f"runs without Hive support (spark.sql.catalogImplementation={kind}), so nothing it "
                "registered would be visible to other engines.",
                hint="Start the Connect server with --conf spark.sql.catalogImplementation=hive and the "
                     "metastore's conf, or use `sparkmodels server start` for a classic catalog: hive target.")

    def _check_not_held(self) -> None:
        """An embedded Derby held by another JVM: Hive would retry for ~20 s and then fail with a
        generic "Unable to instantiate" error. Derby holds an OS lock on dbex.lck while booted (Java's
        FileChannel lock, fcntl on Linux), so one non-blocking try tells at once."""
        import fcntl

        home = embedded_home(self.target)
        if home is None:
            return
        lock = f"{home}/metastore_db/dbex.lck"
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            return  # a new metastore (or one never booted): nobody holds it
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            raise metastore_problem(Exception(_HELD[0]), self.target) from None
        finally:
            os.close(fd)

    def release_at_exit(self) -> None:
        """Shut the embedded Derby database down when this process exits, which releases its lock at
        once: the JVM outlives the process by as long as it takes to dump its class archive (the
        first runs on a machine, a minute or more), and the next run would find the metastore held.
        At exit, not at the engine's stop, because another engine of this process may still use it."""
        home = embedded_home(self.target)
        jvm = getattr(self.spark, "_jvm", None)
        if home is None or jvm is None:
            return
        import atexit
        import contextlib

        url = f"jdbc:derby:;databaseName={home / 'metastore_db'};shutdown=true"

        def release() -> None:
            with contextlib.suppress(Exception):  # success is an SQLException too ("... shutdown")
                jvm.java.sql.DriverManager.getConnection(url)

        atexit.register(release)

    def has(self, node: Node, schema: str) -> bool:
        """Whether node's relation is registered, with the comments persist_docs asks for (a cached
        table must be, to be skipped: a description edited since the build rebuilds it)."""
        from sparkmodels.plan.compiler import identifier

        try:
            known = self._registered(schema)
            if known is not None:
                entry = known.get(identifier(node).lower())
                relation_comment, column_comments = _comment_of(node)
                return entry is not None and not entry.view and entry.same_comments(relation_comment, column_comments)
            return bool(self.spark.catalog.tableExists(f"{_q(schema)}.{_q(identifier(node))}"))
        except Exception:  # noqa: BLE001 - unknown: rebuild, which registers it
            return False

    def _registered(self, schema: str) -> dict[str, Registered] | None:
        """What the metastore records of schema's relations, fetched on first use (known.py); None
        over Spark Connect, where each registration asks for its table."""
        if schema not in self._known:
            try:
                self._known[schema] = fetch(self.spark, schema)
            except Exception as exc:  # noqa: BLE001 - a metastore problem is one paragraph; else ask per table
                problem = metastore_problem(exc, self.target)
                if problem is not None:
                    raise problem from None
                self._known[schema] = None
        return self._known[schema]

    def set_schemas(self, schemas: Mapping[str, tuple[str, str]]) -> None:
        """What each session name of the run means in the catalog, (schema, name): a model's table or
        view, or an external source's files as (format, location) (Spark's `parquet.`path``), so
        views' SQL can be qualified with it."""
        self._schemas.update({k.lower(): v for k, v in schemas.items()})

    def _database(self, schema: str, node: Node | None) -> None:
        if schema not in self._databases:
            self._sql(f"CREATE DATABASE IF NOT EXISTS {_q(schema)}", node)
            self._databases.add(schema)

    def _existing_schema(self, fq: str):
        try:
            return self.spark.table(fq).schema
        except Exception:  # noqa: BLE001 - not registered yet (or unreadable: replaced below)
            return None

    def register_table(self, node: Node, schema: str, location: str, read_schema, partition_by=(),
                       *, stable: bool = True, partitions=None) -> None:
        """Make `<schema>.<name>` name the version just published at `location` (idempotent).
        stable: `location` always names the current version (a local symlink), so it never moves.
        partitions: a moving partitioned table's partition folders in the new version (`k=v/...`)."""
        from sparkmodels.plan.compiler import identifier

        self._database(schema, node)
        name = identifier(node)
        fq = f"{_q(schema)}.{_q(name)}"
        relation_comment, column_comments = _comment_of(node)
        known = self._registered(schema)
        if known is not None:  # a classic session: the schema's definitions were fetched at once
            entry = known.get(name.lower())
            if entry is not None and entry.same_definition(read_schema, relation_comment, column_comments):
                self._republish(fq, node, entry, location, partition_by,
                                moved=not stable or not same_location(entry.location, location),
                                partitions=partitions)
                return
        else:
            entry = None
            current = self._existing_schema(fq)
            if current is not None and read_schema is not None and _same_columns(current, read_schema):
                # Over Connect (`sparkmodels server`, JDBC clients reading meanwhile) the registration
                # stays, so a reader never finds the table missing: comments are set in place.
                self._set_comments(fq, current, relation_comment, column_comments, partition_by, node)
                self._republish(fq, node, None, location, partition_by, moved=not stable,
                                partitions=partitions)
                return
        # A new table, or its columns or comments changed: the metastore's schema must follow the data's.
        if entry is not None and entry.view:  # the model was a view: DROP TABLE refuses views
            self._sql(f"DROP VIEW IF EXISTS {fq}", node)
        elif known is None or entry is not None:
            self._sql(f"DROP TABLE IF EXISTS {fq}", node)  # external: the data stays
        columns = ""
        if read_schema is not None:
            cols = []
            for f in read_schema.fields:
                col = f"{_q(f.name)} {f.dataType.simpleString()}"
                if f.name.lower() in column_comments:
                    col += f" COMMENT {_lit(column_comments[f.name.lower()])}"
                cols.append(col)
            columns = " (" + ", ".join(cols) + ")"
        parts = f" PARTITIONED BY ({', '.join(_q(c) for c in partition_by)})" if partition_by else ""
        comment = f" COMMENT {_lit(relation_comment)}" if relation_comment else ""
        self._sql(f"CREATE TABLE {fq}{columns} USING parquet{parts} LOCATION {_lit(location)}{comment}", node)
        if partition_by:
            self._sql(f"ALTER TABLE {fq} RECOVER PARTITIONS", node)
        if known is not None:
            known[name.lower()] = defined(read_schema, location, relation_comment, column_comments)
        self._touched.add(fq)

    def _republish(self, fq: str, node: Node, entry: Registered | None, location: str, partition_by, *,
                   moved: bool, partitions=None) -> None:
        """A registered table with the same definition: point it at the new version and drop what
        this session has cached of the old one. On a local warehouse the location (the stable link)
        already names it: in a session started for this run that never read the table, nothing at all."""
        if moved:  # a hadoop warehouse: the table moves to the new version in one call (it refreshes)
            self._sql(f"ALTER TABLE {fq} SET LOCATION {_lit(location)}", node)
            if entry is not None:
                entry.location = location
            if partition_by:
                self._move_partitions(fq, node, location, partitions)
        if partition_by:  # new partitions; the command refreshes the table's listing too
            self._sql(f"ALTER TABLE {fq} RECOVER PARTITIONS", node)
        elif not moved and (not self.fresh_session or fq in self._touched):
            self._sql(f"REFRESH TABLE {fq}", node)
        self._touched.add(fq)

    def _move_partitions(self, fq: str, node: Node, location: str, partitions) -> None:
        """A partition's location is its own, not derived from the table's: after the table moved
        to a new version, each registered partition moves to its folder there (one call each, so
        every partition stays readable throughout: the old version's files stay until the next
        publish), and one the new version lacks is dropped (external: no data is touched). RECOVER
        PARTITIONS then adds the new ones."""
        import urllib.parse

        rows = self._sql(f"SHOW PARTITIONS {fq}", node).collect()
        for (spec_path,) in rows:
            spec = ", ".join(f"{_q(k)} = {_lit(urllib.parse.unquote(v))}"
                             for k, _, v in (part.partition("=") for part in spec_path.split("/")))
            if partitions is None or spec_path in partitions:
                self._sql(f"ALTER TABLE {fq} PARTITION ({spec}) SET LOCATION "
                          f"{_lit(location.rstrip('/') + '/' + spec_path)}", node)
            else:
                self._sql(f"ALTER TABLE {fq} DROP IF EXISTS PARTITION ({spec})", node)

    def _set_comments(self, fq: str, current, relation_comment, column_comments, partition_by, node) -> None:
        """persist_docs on a registered table: the comments that differ, set in place."""
        if relation_comment:
            self._sql(f"ALTER TABLE {fq} SET TBLPROPERTIES ('comment' = {_lit(relation_comment)})", node)
        parts = {c.lower() for c in partition_by}
        for f in current.fields:
            want = column_comments.get(f.name.lower())
            if want and want != f.metadata.get("comment") and f.name.lower() not in parts:
                self._sql(f"ALTER TABLE {fq} ALTER COLUMN {_q(f.name)} COMMENT {_lit(want)}", node)

    def register_view(self, node: Node, schema: str, sql: str) -> None:
        """A persistent view over catalog relations (the session's names qualified)."""
        from sparkmodels.plan.compiler import identifier

        self._database(schema, node)
        relation_comment, _ = _comment_of(node)
        comment = f" COMMENT {_lit(relation_comment)}" if relation_comment else ""
        body = qualify(sql, self._schemas)
        entry = (self._registered(schema) or {}).get(identifier(node).lower())
        if entry is not None and not entry.view:  # the model was a table: CREATE OR REPLACE VIEW refuses it
            self._sql(f"DROP TABLE IF EXISTS {_q(schema)}.{_q(identifier(node))}", node)
        self._sql(f"CREATE OR REPLACE VIEW {_q(schema)}.{_q(identifier(node))}{comment} AS {body}", node)
        known = self._registered(schema)
        if known is not None:
            known[identifier(node).lower()] = Registered([], view=True)

    def drop(self, schema: str, name: str) -> None:
        self._sql(f"DROP TABLE IF EXISTS {_q(schema)}.{_q(name)}")
        (self._known.get(schema) or {}).pop(name.lower(), None)

    def describe(self, schema: str, name: str) -> dict | None:
        """What the metastore records of `<schema>.<name>` (docs generate's catalog): its columns
        (name, type, comment, in the table's order), type, owner, comment, location and creation
        time, and its statistics when it has them (bytes; rows after ANALYZE TABLE). None when the
        metastore does not name it."""
        fq = f"{_q(schema)}.{_q(name)}"
        if not self.spark.catalog.tableExists(fq):
            return None
        return describe_rows(self._sql(f"DESCRIBE TABLE EXTENDED {fq}").collect())


_DETAILS = {"Owner": "owner", "Type": "type", "Comment": "comment", "Location": "location",
            "Created Time": "created", "Provider": "provider"}


def describe_rows(rows) -> dict:
    """DESCRIBE TABLE EXTENDED's rows as {"columns": [...], "metadata": {...}, "stats": {...} | None}:
    the column rows come first (partition columns included, in the table's order), then after
    "# Detailed Table Information" one (key, value) row per detail."""
    columns, details, section = [], {}, "columns"
    for row in rows:
        key, value, comment = (str(row[0] or "").strip(), row[1], row[2])
        if key.startswith("#"):
            section = "details" if key == "# Detailed Table Information" else "other"
            continue
        if not key:
            if section == "columns":
                section = "other"
            continue
        if section == "columns":
            columns.append({"name": key, "type": str(value), "comment": comment or None})
        elif section == "details":
            details[key] = value
    metadata = {ours: details.get(theirs) for theirs, ours in _DETAILS.items()}
    return {"columns": columns, "metadata": metadata, "stats": _statistics(details.get("Statistics"))}


def _statistics(text) -> dict | None:
    """Spark's "Statistics" detail ("1234 bytes, 10 rows") as {"bytes", "rows"}; None without one."""
    import re

    if not text:
        return None
    found = {unit: int(n) for n, unit in re.findall(r"(\d+)\s+(bytes|rows)", str(text))}
    return {"bytes": found.get("bytes"), "rows": found.get("rows")} if found else None


def _same_columns(a, b) -> bool:
    def cols(s):
        return [(f.name.lower(), f.dataType.simpleString()) for f in s.fields]
    return sorted(cols(a)) == sorted(cols(b))


def qualify(sql: str, schemas: Mapping[str, tuple[str, str]]) -> str:
    """`sql` with every unqualified table name that is one of the run's session relations replaced by
    its catalog name (schema, name); CTE names (an ephemeral's inlined body) are left alone."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="spark")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not table.args.get("db") and name not in ctes and name in schemas:
            db, real = schemas[name]
            table.set("db", exp.to_identifier(db, quoted=True))
            table.set("this", exp.to_identifier(real, quoted=True))
    return tree.sql(dialect="spark")


def catalog_for(spark, target: Target, *, fresh_session: bool = False):
    """The run's catalog for its target's `catalog:` option (fresh_session: a session started for
    this run, not a caller's or a server's)."""
    if getattr(target, "catalog", "none") == "hive":
        return HiveCatalog(spark, target, fresh_session=fresh_session)
    return NoCatalog()
