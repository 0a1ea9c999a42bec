"""What the metastore already records of a schema's tables, read once per run in two metastore calls.

Registering a table whose columns, comments and location did not change needs no metastore call at
all (on a local warehouse the stable link moves, not the location), but finding that out table by
table costs a metastore round trip or two each: with 200 tables, more than the run's own per-table
work. So on a classic session the first registration in a schema lists its tables and fetches all
of their definitions in one call (ExternalCatalog.getTablesByName, one Hive `get_table_objects_by_name`);
later registrations compare against that and update it. Over Spark Connect there is no JVM to ask
(`known()` gives None): the catalog then asks table by table with SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Registered:
    """One relation as the metastore records it (names lower-cased, as Hive keeps them)."""

    columns: list[tuple[str, str]]  # (name, simpleString type) in the table's order
    column_comments: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    location: str | None = None
    view: bool = False

    def same_definition(self, read_schema, relation_comment: str | None, column_comments: dict[str, str]) -> bool:
        """Whether registering read_schema with these comments would change nothing but the data."""
        if self.view or read_schema is None:
            return False
        wanted = [(f.name.lower(), f.dataType.simpleString()) for f in read_schema.fields]
        return sorted(wanted) == sorted(self.columns) and self.same_comments(relation_comment, column_comments)

    def same_comments(self, relation_comment: str | None, column_comments: dict[str, str]) -> bool:
        return ((relation_comment or None) == (self.comment or None)
                and {k: v for k, v in column_comments.items() if v} == self.column_comments)


def same_location(a: str | None, b: str | None) -> bool:
    """Locations equal up to the `file:` scheme Hive adds and trailing slashes."""
    def norm(x: str) -> str:
        if x.startswith("file:"):
            x = "/" + x[len("file:"):].lstrip("/")
        return x.rstrip("/")
    return a is not None and b is not None and norm(a) == norm(b)


def defined(read_schema, location: str, relation_comment: str | None, column_comments: dict[str, str]) -> Registered:
    """The record of a table just created with these columns and comments."""
    return Registered([(f.name.lower(), f.dataType.simpleString()) for f in read_schema.fields] if read_schema else [],
                      {k: v for k, v in column_comments.items() if v}, relation_comment or None, location)


def fetch(spark, schema: str) -> dict[str, Registered] | None:
    """name -> Registered for every relation of `schema` (empty when the schema does not exist), in
    two metastore calls; None over Spark Connect (no JVM session to ask)."""
    jsession = getattr(spark, "_jsparkSession", None)
    if jsession is None:
        return None
    from pyspark.sql.types import StructType

    external = jsession.sessionState().catalog().externalCatalog()
    if not external.databaseExists(schema):
        return {}
    tables = external.getTablesByName(schema, external.listTables(schema)).iterator()
    out: dict[str, Registered] = {}
    while tables.hasNext():
        table = tables.next()
        name = str(table.identifier().table()).lower()
        struct = StructType.fromJson(json.loads(table.schema().json()))
        comments = {f.name.lower(): str(f.metadata["comment"]) for f in struct.fields
                    if f.metadata.get("comment")}
        comment = table.comment()
        uri = table.storage().locationUri()
        out[name] = Registered(
            [(f.name.lower(), f.dataType.simpleString()) for f in struct.fields], comments,
            str(comment.get()) if comment.isDefined() else None,
            str(uri.get().toString()) if uri.isDefined() else None,
            view=str(table.tableType().name()) == "VIEW")
    return out
