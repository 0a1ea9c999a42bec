"""The view materialisation: a temp view in the run's SparkSession (lives as long as the session)."""

from __future__ import annotations

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext
from sparkmodels.plan.compiler import identifier
from sparkmodels.project.kinds import VIEW


class ViewMaterialization:
    kind = VIEW

    def is_incremental(self, ctx: StepContext) -> bool:
        return False

    def execute(self, ctx: StepContext) -> MaterializationResult:
        from sparkmodels.execute.checks.contracts import conform

        df = conform(ctx.dataframe(), ctx.node, constraints=False)  # a contract: names and types only
        df.createOrReplaceTempView(identifier(ctx.node))  # the alias config, else the name
        ctx.relations.mark_registered(identifier(ctx.node))
        catalog = ctx.engine.catalog
        if catalog.enabled and ctx.compiled.sql and ctx.node.language != "python":
            catalog.register_view(ctx.node, ctx.schema, ctx.compiled.sql)  # a persistent view by name
        return MaterializationResult("created view")
