"""A loaded project: config, manifest, graph and compiler, made once and handed to every command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sparkmodels.plan.compiler import Compiler
from sparkmodels.project.config import ProjectConfig, load_config, parse_cli_vars
from sparkmodels.project.kinds import BUILTIN
from sparkmodels.project.loader import load_manifest
from sparkmodels.project.manifest import Manifest
from sparkmodels.select.graph import Graph

if TYPE_CHECKING:
    from sparkmodels.execute.materializations import Registry


@dataclass(frozen=True)
class Project:
    """A loaded project: config, manifest, graph, the compiler over them, and the strategies it builds with."""

    config: ProjectConfig
    manifest: Manifest
    graph: Graph
    compiler: Compiler
    # Strategies given to load_project (None: the built-ins); the compiler was made with their kinds.
    custom_materializations: Registry | None = None

    @cached_property
    def materializations(self) -> Registry:
        """This project's materialisation strategies. Made on first use, so that loading, `ls` and
        `compile` (which need only the kinds, project.kinds.BUILTIN) do not import execute/."""
        if self.custom_materializations is not None:
            return self.custom_materializations
        from sparkmodels.execute.materializations import default_registry

        return default_registry()

    @property
    def secrets(self) -> list[str]:
        """Values to mask in everything written: secret-named env vars and vars (report/redact.py)."""
        from sparkmodels.project.secrets import secret_values

        return secret_values(vars=self.config.vars)

    def compiled(self, uids, *, full_refresh: bool = False) -> dict[str, str]:
        return {uid: self.shown_sql(uid, full_refresh=full_refresh) for uid in uids
                if self.manifest.nodes[uid].resource_type in ("model", "test", "snapshot", "analysis")}

    def shown_sql(self, uid: str, *, full_refresh: bool = False) -> str:
        """The compiled SQL to show: for an incremental model, the is_incremental() branch the
        warehouse's current state implies (read without Spark on `local` storage; a `hadoop`
        warehouse cannot be looked at without a JVM, so it shows the full-build branch)."""
        compiled = self.compiler.compile(uid)
        if compiled.incremental is None:
            return compiled.sql
        node = self.manifest.nodes[uid]
        configured = node.config.get("full_refresh")
        if (full_refresh if configured is None else bool(configured)):
            return compiled.sql
        from sparkmodels.execute.storage import open_warehouse
        from sparkmodels.project.config import schema_for

        target = self.config.target
        try:
            storage = open_warehouse(target.warehouse, target.warehouse_storage, remote=target.remote,
                                     target=target.name)
        except Exception:  # noqa: BLE001 - an unusable warehouse is reported when a run starts
            return compiled.sql
        if storage.kind != "local":
            return compiled.sql
        loc = storage.table(schema_for(self.config, node.config), node.name)
        current = loc.current()
        return compiled.incremental.sql if current is not None and loc.is_complete(current) else compiled.sql


def config_for(project_dir, target, vars, threads) -> ProjectConfig:
    cli_vars = parse_cli_vars(vars) if isinstance(vars, str) else dict(vars or {})
    return load_config(project_dir, target=target, cli_vars=cli_vars, threads=threads)


def load_project(project_dir: str | Path = ".", *, target: str | None = None,
                 vars: Mapping | str | None = None, threads: int | None = None,
                 config: ProjectConfig | None = None, materializations: Registry | None = None) -> Project:
    """Load a project folder into config, manifest and graph (no Spark); `config`: already read.

    `materializations`: the strategies models may name (default: the built-ins); pass
    `default_registry().with_strategy(...)` to add one for this project only."""
    config = config or config_for(project_dir, target, vars, threads)
    manifest = load_manifest(config)
    kinds = materializations.kinds if materializations is not None else BUILTIN
    return Project(config, manifest, Graph(manifest), Compiler(manifest, kinds), materializations)


def ensure_project(project_dir, target, vars, threads=None, project: Project | None = None) -> Project:
    return project or load_project(project_dir, target=target, vars=vars, threads=threads)
