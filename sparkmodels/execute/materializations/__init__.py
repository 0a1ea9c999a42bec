"""Materialisation strategies behind one protocol, looked up by name in a registry."""

from __future__ import annotations

from sparkmodels.execute.materializations.base import (
    Materialization,
    MaterializationResult,
    StepContext,
    registry,
)
from sparkmodels.execute.materializations.incremental import IncrementalMaterialization
from sparkmodels.execute.materializations.seed import SeedMaterialization
from sparkmodels.execute.materializations.table import TableMaterialization
from sparkmodels.execute.materializations.view import ViewMaterialization

registry.register(ViewMaterialization())
registry.register(TableMaterialization())
registry.register(SeedMaterialization())
registry.register(IncrementalMaterialization())

__all__ = ["Materialization", "MaterializationResult", "StepContext", "registry"]
