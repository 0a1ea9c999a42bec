"""`docs generate` and `lineage`: the catalog, manifest and static site of a project, and lineage trees (no Spark for lineage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.app.project import Project, ensure_project
from sparkmodels.report.artifacts import write_manifest


@dataclass(frozen=True)
class DocsResult:
    project: Project
    site: Path  # target/docs/index.html
    catalog_path: Path | None
    catalog: Mapping | None
    column_lineage: Mapping[str, Mapping]


def docs_generate(project_dir: str | Path = ".", *, target: str | None = None, vars=None, catalog: bool = True,
                  stats: bool = False, spark=None, project: Project | None = None) -> DocsResult:
    """Write target/catalog.json (Spark schemas; skipped with catalog=False), manifest.json and target/docs/."""
    from sparkmodels.report.artifacts import _write_json
    from sparkmodels.report.docs.site import run_results_for, site_data, write_site
    from sparkmodels.report.lineage.columns import project_column_lineage
    from sparkmodels.report.redact import redact

    p = ensure_project(project_dir, target, vars, project=project)
    compiled = p.compiled(p.manifest.nodes)
    cat, py_lineage, known = None, {}, None
    if catalog:
        from sparkmodels.report.docs.catalog import build_catalog, known_columns

        cat, py_lineage = build_catalog(p, spark=spark, stats=stats)
        known = known_columns(cat)
    by_model = project_column_lineage(p.manifest, compiled, known_columns=known, python_lineage=py_lineage,
                                     order=p.graph.topo_order(), kinds=p.compiler.kinds)
    lineage_data = {uid: ml.to_dict() for uid, ml in by_model.items()}
    target_dir = p.config.target_dir
    catalog_path = None
    if cat is not None:
        cat = {**cat, "column_lineage": lineage_data}
        catalog_path = target_dir / "catalog.json"
        _write_json(catalog_path, cat, p.secrets)
    write_manifest(target_dir, p.manifest, compiled, column_lineage=lineage_data, secrets=p.secrets)
    data = site_data(p.manifest, compiled, catalog=cat, column_lineage=lineage_data,
                     run_results=run_results_for(target_dir))
    site = write_site(target_dir / "docs", redact(data, p.secrets))  # data.js: the compiled SQL, vars...
    return DocsResult(p, site, catalog_path, cat, lineage_data)


def lineage(project_dir: str | Path = ".", node: str = "", *, upstream: bool = True, depth: int | None = None,
            target: str | None = None, vars=None, project: Project | None = None) -> dict:
    """Model- or column-level lineage of `model[.column]` as a tree dict (no Spark).

    Column edges come from the compiled SQL; target/catalog.json, when present, adds Spark's schemas
    and the lineage of Python models.
    """
    from sparkmodels.report.lineage.tree import lineage_tree

    return lineage_tree(ensure_project(project_dir, target, vars, project=project), node, upstream=upstream,
                        depth=depth)
