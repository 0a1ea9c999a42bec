"""Relation objects and the parse-time side of run-time Jinja: `execute`, run_query, statement, adapter introspection.

dbt renders a model twice: at parse time with `execute` false, where introspective calls return
empty values (dbt-core's `available.parse_none` / `parse_list` replacements: get_relation is None,
get_columns_in_relation is [], run_query and load_result give None), and again at run time. The
parse-time stand-ins here do what dbt's do and also mark the render as needing run time
(`RenderResult.runtime`); a template that touches none of them keeps the render-once path.
Reading `execute` marks the render too: `{% if execute %}` is how dbt macros say "run time only".

At run time the renderer hands these calls to a backend (sparkmodels/execute/runtime/), which
answers them in the run's session; the names and signatures are the same.
"""

from __future__ import annotations

from collections.abc import Mapping

# What dbt's parse-time adapter returns for each introspective method (the rest return None).
PARSE_EMPTY_LISTS = frozenset({"get_columns_in_relation", "get_missing_columns", "list_relations_without_caching",
                               "list_relations", "list_schemas"})
PARSE_NONE = frozenset({"get_relation", "drop_relation", "create_schema", "drop_schema", "rename_relation",
                        "truncate_relation", "expand_target_column_types", "load_relation", "check_schema_exists",
                        "execute", "cache_added", "cache_dropped", "cache_renamed", "already_exists"})
INTROSPECTIVE = PARSE_EMPTY_LISTS | PARSE_NONE


def quote(identifier) -> str:
    return "`" + str(identifier).replace("`", "``") + "`"


class Relation(str):
    """A relation as Jinja sees it (ref(), source(), this, api.Relation.create): dbt's attributes,
    and a string form that is what the SQL needs (the session's name of the relation; at parse
    time the placeholder resolve() later swaps for it). A str, so every string use keeps working;
    a Mapping to Jinja's `is mapping` test with dbt's `metadata.type`, as dbt_utils checks."""

    def __new__(cls, identifier, schema=None, database=None, *, type=None, text=None, include=None):
        if text is None:
            text = quote(identifier) if identifier is not None else quote(schema)
        obj = super().__new__(cls, text)
        obj.identifier, obj.schema, obj.database, obj.type = identifier, schema, database, type
        obj._include = include  # None: everything included (the common case: no dict per ref())
        return obj

    # -- dbt's attributes -----------------------------------------------------------------------
    @property
    def name(self):
        return self.identifier

    @property
    def table(self):
        return self.identifier

    @property
    def path(self) -> dict:
        return {"database": self.database, "schema": self.schema, "identifier": self.identifier}

    @property
    def metadata(self) -> dict:
        return {"type": "SparkRelation"}

    @property
    def is_table(self) -> bool:
        return self.type == "table"

    @property
    def is_view(self) -> bool:
        return self.type == "view"

    @property
    def is_cte(self) -> bool:
        return self.type == "cte"

    @property
    def is_materialized_view(self) -> bool:
        return False

    def render(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return str.__str__(self)

    def get(self, key, default=None):
        """Mapping access (dbt's Relation is a dict-like object): `rel.get('metadata')`."""
        return getattr(self, key, default) if isinstance(key, str) and not key.startswith("_") else default

    def __getitem__(self, key):
        if isinstance(key, str) and not key.startswith("_") and hasattr(self, key):
            return getattr(self, key)
        return str.__getitem__(self, key)

    def keys(self):
        return ("database", "schema", "identifier", "type", "metadata")

    # -- new relations from this one ------------------------------------------------------------
    def _copy(self, **changes) -> Relation:
        fields = {"identifier": self.identifier, "schema": self.schema, "database": self.database,
                  "type": self.type, "include": self._include}
        moved = any(k in changes for k in ("identifier", "schema", "database"))
        fields.update(changes)
        # The same relation keeps its SQL name; another one is named by its identifier.
        text = None if moved and changes.get("identifier", self.identifier) != self.identifier else str(self)
        return Relation(fields["identifier"], fields["schema"], fields["database"], type=fields["type"],
                        include=fields["include"], text=text)

    def include(self, database=None, schema=None, identifier=None) -> Relation:
        policy = dict(self._include or {"database": True, "schema": True, "identifier": True})
        for key, value in (("database", database), ("schema", schema), ("identifier", identifier)):
            if value is not None:
                policy[key] = bool(value)
        return self._copy(include=policy)

    def incorporate(self, path: Mapping | None = None, type=None, **_ignored) -> Relation:
        changes = {k: v for k, v in (path or {}).items() if k in ("database", "schema", "identifier")}
        if type is not None:
            changes["type"] = str(type)
        return self._copy(**changes)

    def quote(self, database=None, schema=None, identifier=None) -> Relation:
        return self._copy()  # Spark names are always backquoted

    def replace_path(self, **path) -> Relation:
        return self.incorporate(path=path)

    @classmethod
    def create(cls, database=None, schema=None, identifier=None, type=None, **_ignored) -> Relation:
        """`api.Relation.create(...)`: a relation by name (the session's temp view of that name)."""
        if identifier is None:
            return cls(None, schema, database, type=type)
        return cls(identifier, schema, database, type=type)

    def __repr__(self) -> str:
        return f"<SparkRelation {self.render()}>"


Mapping.register(Relation)


class PlainRelation(str):
    """A relation name with .name/.schema/.identifier and no Mapping face: for Python code (a Python
    model's `this`), where py4j would hand a Mapping to Spark as a Java HashMap."""

    def __new__(cls, identifier: str, schema: str | None = None):
        obj = super().__new__(cls, quote(identifier))
        obj.name = obj.identifier = identifier
        obj.schema = schema
        return obj


class ExecuteFlag:
    """`execute` at parse time: false, and reading it marks the render as needing run time."""

    __slots__ = ("_mark",)

    def __init__(self, mark):
        self._mark = mark

    def __bool__(self) -> bool:
        self._mark()
        return False

    def __eq__(self, other) -> bool:
        self._mark()
        return other is False or other == 0

    def __hash__(self) -> int:
        return hash(False)

    def __str__(self) -> str:
        self._mark()
        return "False"


class ParseTime:
    """The parse-time answers of one render; `mark()` records that the template needs run time."""

    def __init__(self, mark):
        self.mark = mark

    def run_query(self, sql=None):
        self.mark()
        return None

    def statement(self, name=None, fetch_result=False, auto_begin=True, language="sql", caller=None, **_kw):
        self.mark()
        return ""

    def load_result(self, name=None):
        self.mark()
        return None

    def load_relation(self, relation=None):
        self.mark()
        return None

    def adapter_call(self, name: str):
        empty = name in PARSE_EMPTY_LISTS

        def call(*_args, **_kwargs):
            self.mark()
            return [] if empty else None

        return call
