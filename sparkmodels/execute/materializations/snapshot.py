"""The snapshot materialisation (SCD type 2): read the previous version, write the next one atomically.

Each run writes the snapshot's whole next version (history kept, current rows closed or kept, new
rows added; scd2.py computes it) through the run's VersionWriter (ctx.writer), so a failed or killed run leaves the
previous version current and readable, exactly as for tables. The previous version stays on disk
(storage's KEEP_PREVIOUS) while the new one is written from it.
"""

from __future__ import annotations

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext
from sparkmodels.project.kinds import SNAPSHOT
from sparkmodels.project.snapshots import snapshot_spec


class SnapshotMaterialization:
    kind = SNAPSHOT

    def is_incremental(self, ctx: StepContext) -> bool:
        return ctx.relations.location(ctx.node, ctx.schema).current() is not None

    def execute(self, ctx: StepContext) -> MaterializationResult:
        from sparkmodels.execute.materializations import scd2  # pyspark: not imported while loading

        node = ctx.node
        spec = snapshot_spec(node.config, node=node.name, path=node.path)
        source = ctx.dataframe()
        missing = [c for c in (*spec.unique_key, spec.updated_at or "",
                               *(spec.check_cols if spec.check_cols != "all" else ()))
                   if c and c not in source.columns]
        if missing:
            from sparkmodels.errors import ExecutionError

            raise ExecutionError(f"snapshot '{node.name}': its query has no column(s) {', '.join(missing)} "
                                 f"(its columns: {', '.join(source.columns)}).", node=node.name, path=node.path)
        current = ctx.relations.location(node, ctx.schema).current()
        if current is None:
            df, verb = scd2.first_version(source, spec), "created snapshot"
        else:
            previous = ctx.relations.read_version(current)
            df, verb = scd2.next_version(previous, source, spec), "updated snapshot"
        stats = ctx.writer.write(df, node, ctx.schema)
        return MaterializationResult(verb, rows=stats["rows"], extra=stats)
