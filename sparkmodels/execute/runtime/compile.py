"""`compile` of models that need run-time rendering: a Spark session, their inputs made queryable, one render each.

dbt's compile connects to the warehouse for the same reason. Only the selected models marked at
load (`Node.runtime_render`) come here, so a project without them never starts Spark. Each one's
upstream relations are made queryable first: tables (and seeds, snapshots, external sources) read
from the warehouse, views built in the session from their own compiled SQL (rendered at run time
too where they need it), in dependency order. A table never built is a located error naming it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sparkmodels.execute.runtime.models import ModelRenderer
from sparkmodels.plan.compiler import Compiler, identifier, upstream
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.manifest import Manifest, Node


def compile_at_run_time(manifest: Manifest, config: ProjectConfig, compiler: Compiler, uids: Iterable[str], *,
                        spark=None) -> dict[str, str]:
    """{uid: SQL rendered in a session} for the given models (a session started unless `spark`)."""
    from sparkmodels.execute.engine import Engine

    engine = Engine(config.target, spark, project_root=config.root, app_name="sparkmodels compile",
                    kinds=compiler.kinds)
    kinds = compiler.kinds
    try:
        models = ModelRenderer(engine, manifest, config, selected=tuple(uids), which="compile")
        ready: set[str] = set()

        def sql_of(node: Node) -> str:
            schema = schema_for(config, node.config)
            if not models.needs(node):
                return compiler.compile(node.unique_id).sql
            compiled = models.compiled(node, schema)
            # an incremental model: the branch a run would take, as the load-time compile shows it
            if (compiled.incremental is not None and kinds.of(node).incremental
                    and not node.config.get("full_refresh") and engine.stored_version(node, schema) is not None):
                return compiled.incremental.sql
            return compiled.sql

        def prepare(node: Node) -> None:
            for dep in upstream(node, manifest.nodes, kinds).relations:
                if dep.unique_id in ready:
                    continue
                ready.add(dep.unique_id)
                if dep.resource_type == "model" and kinds.of(dep).session_scoped:
                    prepare(dep)
                    engine.sql(sql_of(dep)).createOrReplaceTempView(identifier(dep))
                    engine.mark_registered(identifier(dep))
                else:
                    engine.ensure_relation(dep, schema_for(config, dep.config))

        out = {}
        for uid in uids:
            node = manifest.nodes[uid]
            prepare(node)
            out[uid] = sql_of(node)
        return out
    finally:
        engine.stop()
