"""`adapter` introspection at run time, answered by the run's Spark session (dbt-spark's methods).

sparkmodels' relations are the session's: a model or seed is a temp view over its current table
version (or a view's query), named by its alias or name (execute/relations.py). So a relation is
found by that name, its columns are the schema Spark reports for it, and dropping one drops the
session's view (the warehouse's table versions are the run's to manage, never a macro's).
`create_schema` and `expand_target_column_types` have nothing to do on Spark here (no-ops, as in
dbt-spark for the latter); `dispatch`, `quote` and `type` are the load-time adapter's
(project/render/namespace.py), which hands everything else to this object at run time.
"""

from __future__ import annotations

from sparkmodels.errors import CompilationError
from sparkmodels.project.render.dbt_context import Column
from sparkmodels.project.render.introspect import Relation
from sparkmodels.project.render.introspect import quote as _quote


class RuntimeAdapter:
    def __init__(self, context):
        self._ctx = context  # runtime.context.RunContext

    # -- finding relations -----------------------------------------------------------------------
    def _table_name(self, relation) -> str:
        if isinstance(relation, Relation) and relation.type == "cte":
            raise CompilationError(f"'{relation.identifier}' is ephemeral: it has no relation to introspect "
                                   "(dbt refuses the same); make it a view or a table.")
        if isinstance(relation, Relation):
            return relation.render()
        return str(relation)

    def _queryable(self, relation) -> str:
        """The relation's SQL name, after making a project node of that name queryable."""
        name = self._table_name(relation)
        ident = getattr(relation, "identifier", None) or name.strip("`")
        node = self._ctx.node_named(str(ident))
        if node is not None and not self._ctx.engine.is_registered(str(ident)):
            self._ctx.relation_of(node)
        return name

    def get_columns_in_relation(self, relation) -> list[Column]:
        name = self._queryable(relation)
        return [Column(n, t) for n, t in self._ctx.columns(name)]

    def get_missing_columns(self, from_relation, to_relation) -> list[Column]:
        """Columns of from_relation that to_relation lacks (by name, case-insensitively, as dbt)."""
        have = {c.name.lower() for c in self.get_columns_in_relation(to_relation)}
        return [c for c in self.get_columns_in_relation(from_relation) if c.name.lower() not in have]

    def get_relation(self, database=None, schema=None, identifier=None):
        """The relation of that name if it exists (a project node built, a view this run made, any
        table or view the session knows), else None, as dbt's."""
        if identifier is None:
            return None
        ctx, name = self._ctx, str(identifier)
        node = ctx.node_named(name)
        if node is None:
            return Relation(name, schema, database, type="view") if self._exists(name) else None
        relation = ctx.relation_of(node, ensure=False)
        if relation.type == "cte":
            return None
        if ctx.engine.is_registered(name) or self._exists(name):
            return relation
        if relation.type == "table" and ctx.engine.stored_version(node, ctx.schema_of(node)) is not None:
            return ctx.relation_of(node)
        return None

    def load_relation(self, relation):
        return self.get_relation(getattr(relation, "database", None), getattr(relation, "schema", None),
                                 getattr(relation, "identifier", None))

    def _exists(self, name: str) -> bool:
        try:
            return bool(self._ctx.engine.spark.catalog.tableExists(name))
        except Exception:  # noqa: BLE001 - an unusual name Spark cannot parse: not there
            return False

    def list_relations_without_caching(self, schema_relation=None) -> list[Relation]:
        """The session's temp views and the current database's tables (dbt-spark lists a schema)."""
        out = []
        for t in self._ctx.engine.spark.catalog.listTables():
            kind = "view" if (t.tableType or "").upper() in ("TEMPORARY", "VIEW") else "table"
            out.append(Relation(t.name, getattr(schema_relation, "schema", None) or t.database, None, type=kind))
        return out

    def list_relations(self, database=None, schema=None) -> list[Relation]:
        return self.list_relations_without_caching(Relation(None, schema, database))

    def list_schemas(self, database=None) -> list[str]:
        return sorted({str(self._ctx.config.target.schema), *(str(n.config.get("relation_schema"))
                       for n in self._ctx.manifest.nodes.values() if n.config.get("relation_schema"))})

    def check_schema_exists(self, database=None, schema=None) -> bool:
        return schema in self.list_schemas(database)

    def drop_relation(self, relation) -> None:
        """Drops the session's view of that name (the stored table versions stay: publish owns them)."""
        name = self._table_name(relation)
        self._ctx.query(f"drop view if exists {name}", what="drop_relation")
        self._ctx.forget(name)
        return None

    def create_schema(self, relation=None) -> None:
        return None  # a schema is a warehouse folder, made when a table is first written

    def drop_schema(self, relation=None) -> None:
        return None

    def expand_target_column_types(self, from_relation=None, to_relation=None) -> None:
        return None  # Spark's strings have no length to widen (dbt-spark does nothing either)

    def rename_relation(self, from_relation, to_relation) -> None:
        raise CompilationError("adapter.rename_relation is not supported: sparkmodels names relations itself.")

    def truncate_relation(self, relation) -> None:
        raise CompilationError("adapter.truncate_relation is not supported: write a model or a hook instead.")

    def execute(self, sql, auto_begin=False, fetch=False, limit=None):
        """dbt's adapter.execute: (response, table)."""
        table = self._ctx.query(sql, what="adapter.execute")
        from types import SimpleNamespace

        response = SimpleNamespace(_message="OK", code="OK", rows_affected=len(table))
        return response, (table if fetch else None)

    @staticmethod
    def quote(identifier) -> str:
        return _quote(identifier)
