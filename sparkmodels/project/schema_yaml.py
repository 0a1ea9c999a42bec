"""Schema YAML files: model/seed descriptions, columns, configs and tests, and source definitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sparkmodels.errors import ProjectError
from sparkmodels.project.config import ProjectConfig
from sparkmodels.project.frozen import freeze
from sparkmodels.project.manifest import Column, Node
from sparkmodels.project.yamlio import line_of, load_yaml

SOURCE_FORMATS = ("parquet", "csv", "json", "orc", "delta", "text", "avro")


@dataclass
class ParsedSchema:
    """What all schema files declare, before it is merged into nodes."""

    sources: list[Node] = field(default_factory=list)
    model_patches: dict[str, dict] = field(default_factory=dict)
    seed_patches: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    raw: list[tuple[str, Mapping]] = field(default_factory=list)  # (path, document) for later stages

    def check_patches(self, nodes: Mapping[str, Node]) -> None:
        names = {n.name for n in nodes.values()}
        for kind, patches in (("model", self.model_patches), ("seed", self.seed_patches)):
            for name, patch in patches.items():
                if name not in names:
                    self.warnings.append(
                        f"{patch['patch_path']}:{patch.get('line') or ''} describes {kind} '{name}', "
                        "which does not exist."
                    )


def _tests_of(entry: Mapping) -> tuple:
    tests = entry.get("data_tests")
    if tests is None:
        tests = entry.get("tests")
    return freeze(list(tests or []))


def _columns(entry: Mapping, path: str) -> Mapping[str, Column]:
    columns = {}
    for col in entry.get("columns") or []:
        if not isinstance(col, Mapping) or "name" not in col:
            raise ProjectError("each column needs a 'name'.", path=path, line=line_of(col, line_of(entry)))
        name = str(col["name"])
        columns[name] = Column(
            name=name,
            description=str(col.get("description") or ""),
            data_type=col.get("data_type"),
            tests=_tests_of(col),
            meta=freeze(col.get("meta") or {}),
        )
    return MappingProxyType(columns)


def _patch(entry: Mapping, path: str, kind: str) -> dict:
    if not isinstance(entry, Mapping) or not entry.get("name"):
        raise ProjectError(f"each entry under '{kind}s:' needs a 'name'.", path=path, line=line_of(entry))
    config = dict(entry.get("config") or {})
    if kind == "seed" and entry.get("column_types") and "column_types" not in config:
        config["column_types"] = entry["column_types"]
    return {
        "description": str(entry.get("description") or ""),
        "columns": _columns(entry, path),
        "config": config,
        "tests": _tests_of(entry),
        "patch_path": path,
        "line": line_of(entry),
    }


def _external(table: Mapping, source: Mapping, root: Path, path: str) -> Mapping | None:
    ext = table.get("external") or source.get("external")
    if not ext:
        return None
    if isinstance(ext, Mapping) and isinstance(source.get("external"), Mapping) and ext is not source["external"]:
        ext = {**source["external"], **ext}  # a table's external refines its source's (format, options)
    if not isinstance(ext, Mapping) or not ext.get("location"):
        raise ProjectError("external needs a 'location'.", path=path, line=line_of(ext, line_of(table)))
    fmt = str(ext.get("format") or "parquet").lower()
    if fmt not in SOURCE_FORMATS:
        raise ProjectError(
            f"external format '{fmt}' is not supported; use one of {', '.join(SOURCE_FORMATS)}.",
            path=path, line=line_of(ext, line_of(table)),
        )
    location = str(ext["location"])
    if "://" not in location and not location.startswith("file:") and not Path(location).is_absolute():
        location = str(root / location)
    return freeze({"location": location, "format": fmt, "options": dict(ext.get("options") or {})})


def _sources(doc: Mapping, config: ProjectConfig, path: str) -> list[Node]:
    nodes = []
    for source in doc.get("sources") or []:
        if not isinstance(source, Mapping) or not source.get("name"):
            raise ProjectError("each source needs a 'name'.", path=path, line=line_of(source))
        sname = str(source["name"])
        for table in source.get("tables") or []:
            if not isinstance(table, Mapping) or not table.get("name"):
                raise ProjectError(f"each table of source '{sname}' needs a 'name'.", path=path,
                                   line=line_of(table, line_of(source)))
            tname = str(table["name"])
            uid = f"source.{config.name}.{sname}.{tname}"
            nodes.append(Node(
                unique_id=uid, name=tname, resource_type="source", package=config.name, path=path,
                fqn=(config.name, sname, tname), description=str(table.get("description") or ""),
                columns=_columns(table, path),
                config=freeze({"schema": source.get("schema", sname), "tests": list(_tests_of(table)),
                               "loaded_at_field": table.get("loaded_at_field"),
                               # microbatch models read this source one batch window at a time
                               "event_time": (table.get("config") or {}).get("event_time")
                               or (source.get("config") or {}).get("event_time")}),
                source_name=sname, identifier=str(table.get("identifier") or tname),
                external=_external(table, source, config.root, path),
                patch_path=path,
            ))
    return nodes


def parse_schema_files(config: ProjectConfig, files: list[Path]) -> ParsedSchema:
    """Parse every schema YAML file into sources and model/seed patches."""
    parsed = ParsedSchema()
    for file in files:
        path = file.relative_to(config.root).as_posix()
        doc = load_yaml(file, path)
        if not isinstance(doc, Mapping):
            raise ProjectError("a schema file must be a YAML mapping (version: 2, models:, sources:...).", path=path)
        parsed.raw.append((path, doc))
        for source in _sources(doc, config, path):
            twin = next((s for s in parsed.sources if s.unique_id == source.unique_id), None)
            if twin is not None:
                raise ProjectError(
                    f"source table '{source.source_name}.{source.name}' is defined twice: in {twin.path} and here.",
                    path=path,
                )
            parsed.sources.append(source)
        for kind, target in (("model", parsed.model_patches), ("seed", parsed.seed_patches)):
            for entry in doc.get(f"{kind}s") or []:
                patch = _patch(entry, path, kind)
                name = str(entry["name"])
                if name in target:
                    raise ProjectError(
                        f"{kind} '{name}' is described twice: in {target[name]['patch_path']} and here.",
                        path=path, line=line_of(entry),
                    )
                target[name] = patch
    return parsed
