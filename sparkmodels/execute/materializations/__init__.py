"""Materialisation strategies behind one protocol (see base.py), looked up by name in a registry."""

from __future__ import annotations

from sparkmodels.execute.materializations.base import (
    Materialization,
    MaterializationResult,
    Registry,
    StepContext,
)
from sparkmodels.execute.materializations.ephemeral import EphemeralMaterialization
from sparkmodels.execute.materializations.incremental import IncrementalMaterialization
from sparkmodels.execute.materializations.seed import SeedMaterialization
from sparkmodels.execute.materializations.snapshot import SnapshotMaterialization
from sparkmodels.execute.materializations.table import TableMaterialization
from sparkmodels.execute.materializations.view import ViewMaterialization


def default_registry() -> Registry:
    """A new registry of the built-in strategies (its kinds are project.kinds.BUILTIN)."""
    return Registry((ViewMaterialization(), TableMaterialization(), SeedMaterialization(),
                     SnapshotMaterialization(), EphemeralMaterialization(), IncrementalMaterialization()))


__all__ = ["Materialization", "MaterializationResult", "Registry", "StepContext", "default_registry"]
