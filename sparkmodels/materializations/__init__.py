"""Materialisation strategies behind one protocol, looked up by name in a registry."""

from __future__ import annotations

from .base import Materialization, MaterializationResult, StepContext, registry
from .seed import SeedMaterialization
from .table import TableMaterialization
from .view import ViewMaterialization

registry.register(ViewMaterialization())
registry.register(TableMaterialization())
registry.register(SeedMaterialization())

__all__ = ["Materialization", "MaterializationResult", "StepContext", "registry"]
