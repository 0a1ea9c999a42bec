"""Project configuration: project.yml (or dbt_project.yml), targets and vars, frozen for the run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sparkmodels.errors import ProjectError
from sparkmodels.project import hooks
from sparkmodels.project.frozen import freeze
from sparkmodels.project.identifiers import check_identifier
from sparkmodels.project.packages import installed_packages, satisfies
from sparkmodels.project.profiles import ProfileTargets, read_profile_targets, render_value
from sparkmodels.project.yamlio import line_of, load_yaml, parse_yaml
from sparkmodels.version import DBT_VERSION

PROJECT_FILES = ("project.yml", "dbt_project.yml")
SEED_TYPINGS = ("spark", "dbt")
DBT_SPARK_CONF_KEY = "spark.sql.ansi.enabled"

# Config keys that may appear without a leading '+' in the project.yml trees (dbt accepts both).
KNOWN_CONFIG_KEYS = frozenset(
    {
        "materialized", "schema", "tags", "enabled", "partition_by", "column_types", "alias",
        "full_refresh", "persist_docs", "docs", "meta", "quote_columns", "delimiter", "header",
        "severity", "store_failures", "where", "limit", "warn_if", "error_if", "file_format",
        "incremental_strategy", "unique_key", "on_schema_change", "cluster_by", "buckets",
        "location_root", "deterministic", "description", "strategy", "updated_at", "check_cols",
        "hard_deletes", "invalidate_hard_deletes", "dbt_valid_to_current",
        "merge_update_columns", "merge_exclude_columns",
        "incremental_predicates", "event_time", "batch_size", "begin", "lookback", "concurrent_batches",
        *hooks.HOOK_KEYS,
    }
)
# Keys whose values add up from folder to folder instead of replacing each other (as in dbt).
ADDITIVE_KEYS = frozenset({"tags"})


def merge_config(base: Mapping, override: Mapping) -> dict:
    """Overlay one config on another; tags accumulate, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if key in hooks.NODE_HOOKS and key in out:
            out[key] = hooks.merge(out[key], value)  # hooks add up, in order, duplicates kept (dbt)
        elif key in ADDITIVE_KEYS and key in out:
            old = out[key] if isinstance(out[key], (list, tuple)) else [out[key]]
            new = value if isinstance(value, (list, tuple)) else [value]
            out[key] = list(dict.fromkeys([*old, *new]))
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Target:
    """Where and how models execute: a Spark master or Connect remote plus the warehouse."""

    name: str = "local"
    master: str | None = "local[*]"
    remote: str | None = None
    conf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    warehouse: str = "warehouse"
    # auto (by the warehouse URI's scheme) | local (symlinked versions) | hadoop (FileSystem API + pointers)
    warehouse_storage: str = "auto"
    schema: str = "main"
    threads: int = 1
    # data tests: a unique test over at most this many rows (x tested columns) is checked by
    # collecting 8-byte values to the driver instead of shuffling them (checks/unique.py); 0 = never
    unique_collect_max_rows: int = 16_000_000
    jvm_cds: bool = True  # map a class-data-sharing archive into the driver JVM (jvm_cds.py)
    packages: tuple[str, ...] = ()
    jars: tuple[str, ...] = ()
    type: str = "spark"
    profile_name: str | None = None  # the dbt profile the target came from
    # seeds' column types: "spark" (Spark's CSV inference) or "dbt" (dbt's agate inference, seeds.py)
    seed_typing: str = "spark"
    # "none" (tables are Parquet folders, views live in the run's session) | "hive" (also published
    # to a Hive metastore by name: execute/catalog)
    catalog: str = "none"

    def describe(self) -> dict:
        """The target as the Jinja `target` variable and artifacts show it."""
        return {
            "name": self.name, "type": self.type, "schema": self.schema, "threads": self.threads,
            "profile_name": self.profile_name, "master": self.master, "remote": self.remote,
            "warehouse": self.warehouse, "warehouse_storage": self.warehouse_storage, "catalog": self.catalog,
        }


@dataclass(frozen=True)
class ProjectConfig:
    """Everything project.yml and the chosen target say, resolved to absolute paths."""

    root: Path
    name: str
    version: str
    config_file: str
    model_paths: tuple[str, ...]
    seed_paths: tuple[str, ...]
    macro_paths: tuple[str, ...]
    test_paths: tuple[str, ...]
    udf_paths: tuple[str, ...]
    target_path: str
    vars: Mapping[str, Any]
    models_tree: Mapping[str, Any]
    seeds_tree: Mapping[str, Any]
    tests_tree: Mapping[str, Any]
    target: Target
    # A package: the root project's config trees, which win over the package's own (as in dbt).
    root_trees: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    packages: tuple[ProjectConfig, ...] = ()  # installed packages, each read as a project of its own
    packages_install_path: str = "dbt_packages"
    warnings: tuple[str, ...] = ()  # e.g. require-dbt-version mismatches; shown with the manifest's
    # dbt's `dispatch:` list ({macro_namespace, search_order}), read by the macro namespace
    dispatch: tuple = ()
    # dbt_project.yml `flags:` (dbt 1.8+): fail_fast applies to runs, every flag is `flags.<NAME>` in Jinja
    flags: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    analysis_paths: tuple[str, ...] = ("analyses",)
    docs_paths: tuple[str, ...] | None = None  # None: dbt's default, every resource path
    snapshot_paths: tuple[str, ...] = ("snapshots",)
    snapshots_tree: Mapping[str, Any] = field(default_factory=dict)
    # on-run-start / on-run-end (project/hooks.py): SQL templates run around a run, rendered then
    run_hooks: Mapping[str, tuple] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def target_dir(self) -> Path:
        return self.root / self.target_path

    def node_config(self, resource_type: str, fqn: tuple[str, ...]) -> dict:
        """The config the project.yml tree gives a node at this fqn (project, folders..., name)."""
        tree = {"model": self.models_tree, "seed": self.seeds_tree, "test": self.tests_tree,
                "snapshot": self.snapshots_tree}.get(
            resource_type, {}
        )
        own = resolve_tree(tree, fqn)
        outer = self.root_trees.get(resource_type)
        return merge_config(own, resolve_tree(outer, fqn)) if outer else own


def resolve_tree(tree: Mapping, fqn: tuple[str, ...]) -> dict:
    """Walk a dbt-style config tree along fqn, more specific folders overriding outer ones."""
    config: dict = {}
    level: Mapping | None = tree
    for part in ("", *fqn):
        if part:
            # str(k): a folder named `2020` is an int key in YAML
            nxt = next((v for k, v in level.items() if str(k) == part), None) if level is not None else None
            level = nxt if isinstance(nxt, Mapping) else None
        if level is None:
            break
        own = {}
        for key, value in level.items():
            if not isinstance(key, str):
                continue
            if key.startswith("+"):
                own[key[1:]] = value
            elif key in KNOWN_CONFIG_KEYS and not isinstance(value, Mapping):
                own[key] = value
        if own:
            config = merge_config(config, hooks.normalize(own, None))
    return config


def _flags(value, path: str, data) -> dict:
    """dbt_project.yml's `flags:` mapping (lower-case names, as dbt writes them)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProjectError("`flags:` must be a mapping of flag names to values (fail_fast: true, ...).",
                           path=path, line=(getattr(data, "key_lines", None) or {}).get("flags") or line_of(data))
    return {str(k).lower(): v for k, v in value.items()}


def _as_tuple(value, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def find_project_file(project_dir: Path) -> Path:
    """project.yml, else dbt_project.yml, in project_dir."""
    for name in PROJECT_FILES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
    raise ProjectError(
        f"no project.yml (or dbt_project.yml) in {project_dir}.",
        hint="Run sparkmodels from a project folder or pass --project-dir.",
    )


def _read_targets(root: Path, project: Mapping, project_file: str,
                  profiles_dir: str | os.PathLike | None = None) -> tuple[dict, str | None, ProfileTargets]:
    """Targets from project.yml `targets:` or else profiles.yml (profiles.py finds it as dbt does)."""
    if isinstance(project.get("targets"), Mapping):
        targets = dict(project["targets"])
        return targets, project.get("target"), ProfileTargets(targets, file=project_file)
    profile = str(project["profile"]) if project.get("profile") else None
    found = read_profile_targets(root, profile, profiles_dir)
    return dict(found.targets), found.default, found


def _int_option(data: Mapping, key: str, default: int, target: str, path: str, raw: Mapping) -> int:
    try:
        return int(data.get(key, default))
    except (TypeError, ValueError):
        raise ProjectError(f"target '{target}': {key} must be an integer.", path=path, line=line_of(raw)) from None


def _bool_option(data: Mapping, key: str, default: bool, target: str, path: str, raw: Mapping) -> bool:
    value = data.get(key, default)
    if isinstance(value, bool):
        return value
    raise ProjectError(f"target '{target}': {key} must be true or false, not '{value}'.", path=path, line=line_of(raw))


def build_target(name: str, raw: Mapping, root: Path, default_schema: str, path: str) -> Target:
    """A Target from its YAML mapping (env_var rendered, warehouse made absolute)."""
    if not isinstance(raw, Mapping):
        raise ProjectError(f"target '{name}' must be a mapping.", path=path)
    data = render_value(raw, path, line_of(raw))
    warehouse = str(data.get("warehouse") or data.get("warehouse_path") or "warehouse")
    if "://" not in warehouse and not warehouse.startswith("file:"):
        warehouse = str((root / warehouse).resolve())
    storage = str(data.get("warehouse_storage") or "auto")
    if storage not in ("auto", "local", "hadoop"):
        raise ProjectError(f"target '{name}': warehouse_storage must be auto, local or hadoop, not '{storage}'.",
                           path=path, line=line_of(raw))
    seed_typing = str(data.get("seed_typing") or "spark")
    if seed_typing not in SEED_TYPINGS:
        raise ProjectError(f"target '{name}': seed_typing must be spark or dbt, not '{seed_typing}'.",
                           path=path, line=line_of(raw))
    catalog = str(data.get("catalog") or "none")
    if catalog not in ("none", "hive"):
        raise ProjectError(f"target '{name}': catalog must be none or hive, not '{catalog}'.",
                           path=path, line=line_of(raw))
    remote = data.get("remote")
    master = data.get("master") or (None if remote else "local[*]")
    threads = _int_option(data, "threads", 1, name, path, raw)
    schema = str(data.get("schema") or default_schema)
    check_identifier(schema, f"target '{name}': schema", path=path, line=line_of(raw))
    collect_rows = _int_option(data, "unique_collect_max_rows", Target.unique_collect_max_rows, name, path, raw)
    return Target(
        name=name,
        master=master,
        remote=remote,
        # YAML `true` must reach Spark as "true", not Python's "True".
        conf=freeze({str(k): str(v).lower() if isinstance(v, bool) else str(v)
                     for k, v in (data.get("conf") or {}).items()}),
        warehouse=warehouse,
        warehouse_storage=storage,
        schema=schema,
        threads=max(1, threads),
        unique_collect_max_rows=max(0, collect_rows),
        jvm_cds=_bool_option(data, "jvm_cds", True, name, path, raw),
        packages=_as_tuple(data.get("packages"), ()),
        jars=_as_tuple(data.get("jars"), ()),
        seed_typing=seed_typing,
        catalog=catalog,
    )


def dbt_spark_defaults(target: Target, raw: Mapping) -> Target:
    """What dbt-spark does where Spark leaves a choice: ANSI mode off, seeds typed as dbt infers them.

    Only for a dbt project (dbt_project.yml) run with a dbt-spark profile output; the output's own
    `server_side_parameters: {spark.sql.ansi.enabled: ...}` and `seed_typing:` win.
    """
    conf = {DBT_SPARK_CONF_KEY: "false", **target.conf}
    return replace(target, conf=freeze(conf), seed_typing=str(raw.get("seed_typing") or "dbt"))


def parse_cli_vars(text: str | None) -> dict:
    """The --vars argument: a YAML (or JSON) mapping."""
    if not text:
        return {}
    data = parse_yaml(text, "--vars")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ProjectError("--vars must be a YAML mapping, e.g. --vars '{start: 2020-01}'.")
    return dict(data)


def load_config(
    project_dir: str | os.PathLike = ".",
    *,
    target: str | None = None,
    cli_vars: Mapping | None = None,
    threads: int | None = None,
    profiles_dir: str | os.PathLike | None = None,
) -> ProjectConfig:
    """Read project.yml and the selected target into a frozen ProjectConfig.

    profiles_dir: dbt's --profiles-dir (else $DBT_PROFILES_DIR, the project folder, ~/.dbt/).
    """
    root = Path(project_dir).resolve()
    project_file = find_project_file(root)
    data = load_yaml(project_file, project_file.name)
    if not isinstance(data, Mapping):
        raise ProjectError("the project file must be a YAML mapping.", path=project_file.name)
    if not data.get("name"):
        raise ProjectError("the project needs a 'name'.", path=project_file.name, line=1)
    name = str(data["name"])

    targets, default_target, profile = _read_targets(root, data, project_file.name, profiles_dir)
    targets_file = profile.file
    wanted = target or os.environ.get("SPARKMODELS_TARGET") or os.environ.get("DBT_TARGET") or default_target
    if wanted and wanted in targets:
        raw = profile.resolve(wanted)
        chosen = replace(build_target(wanted, raw, root, name, targets_file), profile_name=profile.profile_name)
        if project_file.name == "dbt_project.yml" and profile.is_dbt_spark(wanted):
            chosen = dbt_spark_defaults(chosen, raw)
    elif wanted and wanted != "local" and (target or targets):
        # A misspelt default `target:` or SPARKMODELS_TARGET must not silently run somewhere else.
        origin = "--target" if target else next(
            (env for env in ("SPARKMODELS_TARGET", "DBT_TARGET") if os.environ.get(env)), "the default 'target:'")
        raise ProjectError(
            f"target '{wanted}' (from {origin}) is not defined; known targets: {', '.join(targets) or 'none'}.",
            path=targets_file,
        )
    elif targets and not wanted:
        first = next(iter(targets))
        chosen = build_target(first, profile.resolve(first), root, name, targets_file)
    else:
        # No (matching) target: the default local target. A dbt `profile:` naming a profile we
        # cannot use lands here on purpose.
        chosen = build_target("local", {}, root, name, targets_file)
    if threads:
        chosen = Target(**{**chosen.__dict__, "threads": max(1, int(threads))})

    install_path = str(data.get("packages-install-path") or "dbt_packages")
    found = installed_packages(root, install_path)
    names = {name, *(p.name for p in found)}
    root_vars = dict(data.get("vars") or {})
    warnings = [w for w in [check_dbt_version(data, name, project_file.name)] if w]
    packages = []
    for pkg in found:
        pkg_file = pkg.root / "dbt_project.yml"
        pkg_data = load_yaml(pkg_file, str(pkg_file)) or {}
        if not isinstance(pkg_data, Mapping):
            raise ProjectError("the project file must be a YAML mapping.", path=str(pkg_file))
        # dbt's scoping: cli vars > the root project's vars for this package > its global vars > the package's own
        own = dict(pkg_data.get("vars") or {})
        pkg_vars = {**_global_vars(own, names), **dict(own.get(pkg.name) or {}), **_global_vars(root_vars, names),
                    **dict(root_vars.get(pkg.name) or {}), **(cli_vars or {})}
        warnings.extend(w for w in [check_dbt_version(pkg_data, pkg.name, str(pkg_file))] if w)
        shown = os.path.relpath(pkg_file, root).replace(os.sep, "/")  # hooks' errors name it from the root
        packages.append(_project_config(pkg.root, pkg.name, pkg_data, "dbt_project.yml", chosen, pkg_vars,
                                        root_trees=_trees(data, project_file.name), shown_file=shown))
    project_vars = {**_global_vars(root_vars, names), **dict(root_vars.get(name) or {}), **(cli_vars or {})}
    config = _project_config(root, name, data, project_file.name, chosen, project_vars)
    return replace(config, packages=tuple(packages), packages_install_path=install_path, warnings=tuple(warnings))


def _global_vars(variables: Mapping, scopes: set) -> dict:
    """Vars not scoped to a project or package (a key naming one with a mapping value is a scope)."""
    return {k: v for k, v in variables.items() if not (k in scopes and isinstance(v, Mapping))}


def _trees(data: Mapping, path: str) -> Mapping:
    return freeze({"model": hooks.locate_tree(data.get("models") or {}, path),
                   "seed": hooks.locate_tree(data.get("seeds") or {}, path),
                   "test": data.get("data_tests") or data.get("tests") or {}})


def check_dbt_version(data: Mapping, name: str, path: str) -> str | None:
    """A warning when `require-dbt-version` excludes the dbt version whose behaviour sparkmodels follows."""
    spec = data.get("require-dbt-version")
    if not spec:
        return None
    try:
        ok = satisfies(DBT_VERSION, spec)
    except (ValueError, AttributeError):
        return f"{path}: require-dbt-version {spec!r} of '{name}' is not a version range; ignored."
    if ok:
        return None
    return (f"{path}: '{name}' requires dbt {spec}; sparkmodels follows dbt {DBT_VERSION}'s behaviour, "
            "so parts of it may not work as intended.")


def _project_config(root: Path, name: str, data: Mapping, config_file: str, target: Target, variables: Mapping,
                    root_trees: Mapping | None = None, shown_file: str | None = None) -> ProjectConfig:
    shown_file = shown_file or config_file  # the file as errors name it (a package's, from the root project)
    return ProjectConfig(
        root=root,
        name=name,
        version=str(data.get("version", "")),
        config_file=config_file,
        model_paths=_as_tuple(data.get("model-paths") or data.get("source-paths"), ("models",)),
        seed_paths=_as_tuple(data.get("seed-paths") or data.get("data-paths"), ("seeds",)),
        macro_paths=_as_tuple(data.get("macro-paths"), ("macros",)),
        test_paths=_as_tuple(data.get("test-paths"), ("tests",)),
        udf_paths=_as_tuple(data.get("udf-paths"), ("udfs",)),
        snapshot_paths=_as_tuple(data.get("snapshot-paths"), ("snapshots",)),
        target_path=str(data.get("target-path") or "target"),
        vars=freeze(variables),
        models_tree=freeze(hooks.locate_tree(data.get("models") or {}, shown_file)),
        seeds_tree=freeze(hooks.locate_tree(data.get("seeds") or {}, shown_file)),
        tests_tree=freeze(data.get("data_tests") or data.get("tests") or {}),
        snapshots_tree=freeze(hooks.locate_tree(data.get("snapshots") or {}, shown_file)),
        run_hooks=freeze(hooks.project_hooks(data, shown_file)),
        target=target,
        root_trees=root_trees or freeze({}),
        dispatch=freeze(list(data.get("dispatch") or [])),
        flags=freeze(_flags(data.get("flags"), config_file, data)),
        analysis_paths=_as_tuple(data.get("analysis-paths"), ("analyses",)),
        docs_paths=_as_tuple(data.get("docs-paths"), ()) or None,
    )


def schema_for(config: ProjectConfig, node_config: Mapping) -> str:
    """dbt's generate_schema_name: a custom schema is appended to the target schema. A project that
    overrides the macro gets the schema it chose, recorded by the loader as `relation_schema`."""
    chosen = node_config.get("relation_schema")
    if chosen:
        return str(chosen)
    custom = node_config.get("schema")
    return f"{config.target.schema}_{custom}" if custom else config.target.schema
