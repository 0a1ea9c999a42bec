"""Schema YAML files: model/seed descriptions, columns, configs and tests, and source definitions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from sparkmodels.errors import ProjectError, did_you_mean
from sparkmodels.project import hooks
from sparkmodels.project.config import ProjectConfig
from sparkmodels.project.contracts import constraint_list
from sparkmodels.project.frozen import freeze
from sparkmodels.project.manifest import Column, Node
from sparkmodels.project.yamlio import line_of, load_yaml

SOURCE_FORMATS = ("parquet", "csv", "json", "orc", "delta", "text", "avro")

# The keys dbt's schema-file validation knows (and ours: external, column_types), per level: a typo
# such as `colums:` would otherwise silently drop the tests under it.
_COMMON = ("name", "description", "config", "meta", "tags", "docs")
_TESTS = ("tests", "data_tests")
KNOWN_KEYS = {
    "file": ("version", "models", "seeds", "sources", "macros", "exposures", "metrics", "semantic_models",
             "saved_queries", "snapshots", "analyses", "unit_tests", "data_tests", "groups"),
    "model": (*_COMMON, *_TESTS, "columns", "access", "constraints", "latest_version", "versions",
              "deprecation_date", "group"),
    "seed": (*_COMMON, *_TESTS, "columns", "column_types"),
    "source": (*_COMMON, "database", "schema", "loader", "loaded_at_field", "overrides", "freshness", "quoting",
               "tables", "external"),
    "table": (*_COMMON, *_TESTS, "identifier", "loaded_at_field", "loader", "columns", "external", "freshness",
              "quoting"),
    "column": (*_COMMON, *_TESTS, "data_type", "quote", "constraints", "granularity", "policy_tags"),
}


def unknown_keys(doc: Mapping, path: str) -> list[tuple[str, int | None]]:
    """(message, line) for every key dbt's schema files do not have, with a did-you-mean."""
    found: list[tuple[str, int | None]] = []

    def check(entry, level: str, what: str) -> None:
        if not isinstance(entry, Mapping):
            return
        for key in entry:
            if str(key) not in KNOWN_KEYS[level]:
                line = (getattr(entry, "key_lines", None) or {}).get(key) or line_of(entry)
                found.append((f"{path}:{line or ''}: unknown key '{key}' in {what}; it is ignored."
                              f"{did_you_mean(str(key), KNOWN_KEYS[level])}", line))

    def columns(entry, owner: str) -> None:
        for col in (entry.get("columns") or []) if isinstance(entry, Mapping) else []:
            if isinstance(col, Mapping):
                check(col, "column", f"column '{col.get('name')}' of {owner}")

    check(doc, "file", "the schema file")
    for kind in ("model", "seed"):
        for entry in doc.get(f"{kind}s") or []:
            if isinstance(entry, Mapping):
                check(entry, kind, f"{kind} '{entry.get('name')}'")
                columns(entry, f"{kind} '{entry.get('name')}'")
    for source in doc.get("sources") or []:
        if isinstance(source, Mapping):
            check(source, "source", f"source '{source.get('name')}'")
            for table in source.get("tables") or []:
                if isinstance(table, Mapping):
                    what = f"table '{source.get('name')}.{table.get('name')}'"
                    check(table, "table", what)
                    columns(table, what)
    return found


def _strict(config: ProjectConfig) -> bool:
    """project.yml `flags: {strict_schema_yaml: true}`: unknown schema keys are errors, not warnings."""
    try:
        raw = load_yaml(config.root / config.config_file, config.config_file)
    except (OSError, ProjectError):
        return False
    flags = raw.get("flags") if isinstance(raw, Mapping) else None
    return bool(isinstance(flags, Mapping) and flags.get("strict_schema_yaml"))


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
        line = line_of(col, line_of(entry))
        quote = col.get("quote")
        columns[name] = Column(
            name=name,
            description=str(col.get("description") or ""),
            data_type=str(col["data_type"]) if col.get("data_type") is not None else None,
            tests=_tests_of(col),
            meta=freeze(col.get("meta") or {}),
            constraints=constraint_list(col.get("constraints"), path, line, column=name),
            quote=bool(quote) if quote is not None else None,
            line=line,
        )
    return MappingProxyType(columns)


def _patch(entry: Mapping, path: str, kind: str) -> dict:
    if not isinstance(entry, Mapping) or not entry.get("name"):
        raise ProjectError(f"each entry under '{kind}s:' needs a 'name'.", path=path, line=line_of(entry))
    config = hooks.normalize(entry.get("config") or {}, path, line_of(entry.get("config")))
    if kind == "seed" and entry.get("column_types") and "column_types" not in config:
        config["column_types"] = entry["column_types"]
    return {
        "description": str(entry.get("description") or ""),
        "columns": _columns(entry, path),
        "config": config,
        "tests": _tests_of(entry),
        "constraints": constraint_list(entry.get("constraints"), path, line_of(entry)) if kind == "model" else (),
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
    strict = None
    for file in files:
        path = file.relative_to(config.root).as_posix()
        doc = load_yaml(file, path)
        if not isinstance(doc, Mapping):
            raise ProjectError("a schema file must be a YAML mapping (version: 2, models:, sources:...).", path=path)
        parsed.raw.append((path, doc))
        unknown = unknown_keys(doc, path)
        if unknown:
            strict = _strict(config) if strict is None else strict
            if strict:
                message, line = unknown[0]
                raise ProjectError(message.split(": ", 1)[1], path=path, line=line,
                                   hint="(flags: strict_schema_yaml in project.yml)")
            parsed.warnings.extend(m for m, _ in unknown)
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
