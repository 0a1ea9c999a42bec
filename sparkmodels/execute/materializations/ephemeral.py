"""The ephemeral materialisation: no relation of its own; the compiler inlines it into each child as a CTE.

Its kind is `inlined`, so no plan ever holds an ephemeral step; `execute` is only reached if a
caller runs one directly, and says why nothing happens.
"""

from __future__ import annotations

from sparkmodels.execute.materializations.base import MaterializationResult, StepContext
from sparkmodels.project.kinds import EPHEMERAL


class EphemeralMaterialization:
    kind = EPHEMERAL

    def is_incremental(self, ctx: StepContext) -> bool:
        return False

    def execute(self, ctx: StepContext) -> MaterializationResult:
        return MaterializationResult("inlined (ephemeral)")
