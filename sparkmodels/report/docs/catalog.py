"""The catalog: every model, seed and source with Spark's analyzed columns and types (target/catalog.json).

Relations are registered the way a run does (external sources and built seeds through
Engine.ensure_relation; every model's compiled SQL as a temp view in dependency order), so views and
tables alike get `spark.sql(compiled).schema` without writing anything. Python models are executed to
get their DataFrame (lazy: nothing is computed), whose analyzed plan also gives their column lineage.
Optional stats (--stats): row count, size on disk and last build time of tables, seeds and sources.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
from collections.abc import Mapping

from sparkmodels.project.manifest import Node
from sparkmodels.report.lineage.columns import ModelLineage, plan_column_lineage, relation_key

CATALOG_SCHEMA = "https://sparkmodels.dev/schemas/catalog/v1.json"
CATALOG_TYPES = ("source", "seed", "snapshot", "model")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]


def _columns(schema) -> dict:
    return {f.name: {"name": f.name, "type": f.dataType.simpleString(), "index": i, "nullable": f.nullable}
            for i, f in enumerate(schema.fields)}


def _iso(ts: float | None) -> str | None:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds") if ts else None


class CatalogBuilder:
    """Registers relations in dependency order and records each node's schema (one Engine, one pass)."""

    def __init__(self, project, engine, *, stats: bool = False):
        self.p = project
        self.engine = engine
        self.stats = stats
        self.entries: dict[str, dict] = {}
        self.python_lineage: dict[str, ModelLineage] = {}

    def schema_of(self, node: Node) -> str:
        from sparkmodels.project.config import schema_for

        return schema_for(self.p.config, node.config)

    def build(self) -> dict:
        from sparkmodels.execute.python.models import register_udfs

        errors: dict[str, str] = {}
        try:
            register_udfs(self.engine, self.p.config)
        except Exception as exc:  # noqa: BLE001 - a broken UDF file fails only the models that call it
            errors["udfs"] = _one_line(exc)
        nodes = self.p.manifest.nodes
        for uid in self.p.graph.topo_order():
            node = nodes[uid]
            if node.resource_type not in CATALOG_TYPES:
                continue
            entry = {"unique_id": uid, "name": node.name, "resource_type": node.resource_type,
                     "materialized": node.materialized if node.resource_type == "model" else node.resource_type,
                     "relation": self.engine.relation_sql(node).replace("`", ""), "columns": {}, "stats": None,
                     "error": None}
            described = self.metastore(node)
            try:
                df = self.dataframe(node)
                entry["columns"] = _columns(df.schema)
                if self.stats:
                    entry["stats"] = self.node_stats(node, df, described)
            except Exception as exc:  # noqa: BLE001 - one node's problem must not hide the others
                if described is None:
                    entry["error"] = _one_line(exc)
                    errors[uid] = entry["error"]
                else:  # what was built is described; its children read it by its session name
                    self.register_from_metastore(node)
            if described is not None:
                self.use_metastore(entry, described)
            self.entries[uid] = entry
        spark = self.engine.spark
        return {
            "metadata": {"dbt_schema_version": CATALOG_SCHEMA,
                         "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                         "spark_version": spark.version},
            "nodes": {u: e for u, e in self.entries.items() if e["resource_type"] != "source"},
            "sources": {u: e for u, e in self.entries.items() if e["resource_type"] == "source"},
            "errors": errors,
        }

    # -- the metastore (catalog: hive) ------------------------------------------------------------
    def metastore(self, node: Node) -> dict | None:
        """What the target's metastore records of node's relation (catalog: hive), else None: a
        catalog-free target, an ephemeral, a source read from files, or a relation never built."""
        catalog = self.engine.catalog
        if not catalog.enabled:
            return None
        if node.resource_type == "source":
            if node.external or not node.config.get("schema"):
                return None
            schema, name = str(node.config["schema"]), str(node.identifier or node.name)
        elif self.p.compiler.kinds.of(node).inlined:
            return None
        else:
            from sparkmodels.plan.compiler import identifier

            schema, name = self.schema_of(node), identifier(node)
        try:
            return catalog.describe(schema, name)
        except Exception:  # noqa: BLE001 - an unreadable entry: the session's analysis stands
            return None

    def use_metastore(self, entry: dict, described: dict) -> None:
        """The catalog entry as the metastore has it: a BI tool's columns, types and comments, and its
        statistics where it has them (the files fill in the rest with --stats)."""
        entry["columns"] = {c["name"]: {"name": c["name"], "type": c["type"], "index": i, "comment": c["comment"]}
                            for i, c in enumerate(described["columns"])}
        entry["metadata"] = {**described["metadata"], "source": "metastore"}
        stats = described.get("stats")
        if stats:
            have = entry.get("stats") or {}
            entry["stats"] = {**have, **{k: v for k, v in stats.items() if v is not None}, "from_metastore":
                              sorted(k for k, v in stats.items() if v is not None)}

    def register_from_metastore(self, node: Node) -> None:
        """A node whose SQL no longer analyzes but that the metastore names: its children read the
        built relation."""
        from sparkmodels.plan.compiler import identifier

        if node.resource_type == "source":
            return
        fq = f"`{self.schema_of(node)}`.`{identifier(node)}`"
        self.engine.spark.table(fq).createOrReplaceTempView(identifier(node))
        self.engine.mark_registered(identifier(node))

    # -- one node ------------------------------------------------------------------------------
    def dataframe(self, node: Node):
        engine, spark = self.engine, self.engine.spark
        if node.resource_type == "source":
            engine.ensure_relation(node, self.schema_of(node))
            return spark.table(engine.relation_sql(node))
        if node.resource_type == "seed":
            if engine.location(node, self.schema_of(node)).current() is not None:
                engine.ensure_relation(node, self.schema_of(node))
                return spark.table(f"`{node.name}`")
            from sparkmodels.execute.materializations.seed import (
                seed_dataframe,  # not built yet: read the CSV itself
            )

            options = {k: str(v) for k, v in {"delimiter": node.config.get("delimiter")}.items() if v}
            df = seed_dataframe(spark, str(engine.project_root / node.path),
                                dict(node.config.get("column_types") or {}), options)
            df.createOrReplaceTempView(node.name)
            engine.mark_registered(node.name)
            return df
        if node.language == "python":
            df = self.python_dataframe(node)
        else:
            df = spark.sql(self.p.compiler.compile(node.unique_id).sql)
        if not self.p.compiler.kinds.of(node).inlined:  # ephemerals are inlined into their children's SQL
            df.createOrReplaceTempView(node.name)
            engine.mark_registered(node.name)
        return df

    def python_dataframe(self, node: Node):
        from sparkmodels.execute.python.models import python_model_dataframe
        from sparkmodels.plan.compiler import CompiledNode
        from sparkmodels.plan.steps import PlanStep

        step = PlanStep(node.unique_id, node, CompiledNode(node.raw_code, ()), ())
        df = python_model_dataframe(self.engine, self.p.manifest, self.p.config, step)
        nodes = self.p.manifest.nodes
        relations = {relation_key(nodes[d]).rsplit(".", 1)[-1]: d for d in node.depends_on if d in nodes}
        try:
            plan = df._jdf.queryExecution().analyzed().toJSON()
            self.python_lineage[node.unique_id] = plan_column_lineage(plan, relations)
        except Exception as exc:  # noqa: BLE001 - e.g. Spark Connect has no _jdf: no lineage, schema still fine
            self.python_lineage[node.unique_id] = ModelLineage({}, False, f"no analyzed plan: {_one_line(exc)}")
        return df

    def node_stats(self, node: Node, df, described: dict | None = None) -> dict | None:
        if node.resource_type == "source":
            ext: Mapping = node.external or {}
            location = str(ext.get("location", ""))
            files = [f for f in glob.glob(location) if os.path.isfile(f)] if location and "://" not in location else []
            size = sum(os.path.getsize(f) for f in files) if files else None
            latest = max((os.path.getmtime(f) for f in files), default=None)
            return {"rows": df.count(), "bytes": size, "built_at": _iso(latest), "files": len(files)}
        if self.p.compiler.kinds.of(node).stored:
            loc = self.engine.location(node, self.schema_of(node))
            current = loc.current()
            if current is None:
                return {"rows": None, "bytes": None, "built_at": None, "built": False}
            size, latest = loc.usage(current)
            known = (described or {}).get("stats") or {}
            # rows the metastore records (ANALYZE TABLE) need no scan of the files
            rows = known["rows"] if known.get("rows") is not None else self.engine.spark.read.parquet(str(current)).count()
            return {"rows": rows, "bytes": size, "built_at": _iso(latest), "built": True}
        return None  # views and ephemerals hold no data of their own


def build_catalog(project, *, spark=None, stats: bool = False) -> tuple[dict, dict[str, ModelLineage]]:
    """(catalog dict, Python models' plan lineage) for a loaded project; starts/attaches Spark."""
    from sparkmodels.execute.engine import Engine

    engine = Engine(project.config.target, spark, project_root=project.config.root,
                    app_name="sparkmodels docs generate", kinds=project.compiler.kinds)
    try:
        builder = CatalogBuilder(project, engine, stats=stats)
        catalog = builder.build()
        return catalog, builder.python_lineage
    finally:
        engine.stop()


def known_columns(catalog: Mapping) -> dict[str, list[str]]:
    """Complete column lists by unique_id from a catalog dict (nodes without errors)."""
    out = {}
    for section in ("nodes", "sources"):
        for uid, entry in (catalog.get(section) or {}).items():
            if not entry.get("error") and entry.get("columns"):
                out[uid] = sorted(entry["columns"], key=lambda c: entry["columns"][c].get("index", 0))
    return out
