"""Loading: project files -> an immutable Manifest (no Spark, user Python code is never imported)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from sparkmodels.errors import CompilationError, ProjectError, did_you_mean
from sparkmodels.project import schema_yaml
from sparkmodels.project.config import ProjectConfig, merge_config, schema_for
from sparkmodels.project.frozen import freeze
from sparkmodels.project.generic_tests import has_test_blocks, to_macros
from sparkmodels.project.incremental import shift_placeholders, static_output_columns
from sparkmodels.project.incremental import validate as validate_incremental
from sparkmodels.project.kinds import BUILTIN
from sparkmodels.project.manifest import Column, Macro, Manifest, Node, checksum
from sparkmodels.project.render.jinja import Relation, Renderer
from sparkmodels.project.testnodes import build_test_nodes


def _files(root: Path, dirs, suffixes: tuple[str, ...], listings: dict | None = None) -> list[tuple[Path, Path]]:
    """(base dir, file) pairs under each dir with one of the suffixes, sorted for determinism.

    Hidden files and directories (a name starting with '.') are skipped, symlinked directories are
    not entered. listings memoises each directory's walk within one load (models/ is read twice).
    """
    found = []
    for d in dirs:
        base = root / d
        key = str(base)
        files = listings.get(key) if listings is not None else None
        if files is None:
            files = [Path(p) for p in _walk(key)] if base.is_dir() else []
            if listings is not None:
                listings[key] = files
        found.extend((base, path) for path in files if path.suffix in suffixes)
    return found


def _walk(directory: str) -> list[str]:
    """Regular files below a directory, depth first in name order (the order of sorted(rglob))."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (PermissionError, FileNotFoundError):
        return []
    out = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            out.extend(_walk(entry.path))
        elif entry.is_file():
            out.append(entry.path)
    return out


def read_source(path: Path) -> str:
    """A text file as Path.read_text(encoding="utf-8") reads it (newlines made \\n), with less overhead."""
    with open(path, "rb") as fh:
        text = fh.read().decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _file_checksum(path: Path) -> str:
    stat = path.stat()
    if stat.st_size <= 1 << 20:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return f"path:{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


class _Loader:
    def __init__(self, config: ProjectConfig):
        self.config = config
        self.root = config.root
        self.nodes: dict[str, Node] = {}
        self.seen_names: dict[str, str] = {}  # model/seed name -> path
        self.listings: dict[str, list[Path]] = {}

    def files(self, dirs, suffixes: tuple[str, ...]) -> list[tuple[Path, Path]]:
        return _files(self.root, dirs, suffixes, self.listings)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def load_macros(self) -> tuple[Renderer, dict[str, Macro]]:
        target = {**self.config.target.describe(), "project_name": self.config.name}
        renderer = Renderer(vars=self.config.vars, target=target)
        macros: dict[str, Macro] = {}
        builtin = Path(__file__).parents[1] / "include" / "macros"
        sources = [(builtin, p) for p in sorted(builtin.glob("*.sql"))] if builtin.is_dir() else []
        # Generic tests ({% test %} blocks) may also live in test-paths, e.g. tests/generic/.
        generic = [(b, p) for b, p in self.files(self.config.test_paths, (".sql",))
                   if has_test_blocks(read_source(p))]
        for _base, path in [*sources, *self.files(self.config.macro_paths, (".sql",)), *generic]:
            display = self.rel(path) if path.is_relative_to(self.root) else f"sparkmodels/{path.name}"
            text = to_macros(read_source(path))
            for name in renderer.add_macro_file(display, text):
                package = self.config.name if path.is_relative_to(self.root) else "sparkmodels"
                uid = f"macro.{package}.{name}"
                macros[uid] = Macro(uid, name, display, display, checksum(text))
        return renderer, macros

    def claim_name(self, name: str, path: str) -> None:
        if name in self.seen_names:
            raise ProjectError(
                f"two resources are named '{name}': {self.seen_names[name]} and {path}. "
                "Model and seed names must be unique across the project.",
                node=name, path=path,
            )
        self.seen_names[name] = path

    def load_models(self, renderer: Renderer, patches: Mapping) -> None:
        for base, path in self.files(self.config.model_paths, (".sql", ".py")):
            rel = self.rel(path)
            name = path.stem
            self.claim_name(name, rel)
            folders = path.relative_to(base).parent.parts
            fqn = (self.config.name, *folders, name)
            text = read_source(path)
            patch = patches.get(name, {})
            base_config = merge_config(self.config.node_config("model", fqn), patch.get("config", {}))
            if path.suffix == ".py":
                from sparkmodels.project.pyscan import scan_python_model

                scanned = scan_python_model(text, rel)
                result_config, calls, rendered, line_map = scanned.config, scanned.calls, "", ()
                vars_used = env_used = macros_used = ()
                language = "python"
            else:
                this = Relation(name, schema_for(self.config, base_config))
                result = renderer.render(text, filename=rel, node_name=name, this=this)
                final_schema = schema_for(self.config, merge_config(base_config, result.config))
                if final_schema != this.schema and "this" in text:
                    # An in-file config(schema=...) changes `this.schema`; rare, so render again.
                    this = Relation(name, final_schema)
                    result = renderer.render(text, filename=rel, node_name=name, this=this)
                result_config, calls = result.config, tuple(result.calls)
                rendered, line_map = result.text, result.line_map
                vars_used, env_used = tuple(sorted(result.vars_used)), tuple(sorted(result.env_vars_used))
                macros_used = tuple(sorted(f"macro.{self.config.name}.{m}" for m in result.macros_used))
                language = "sql"
            node_config = merge_config(base_config, result_config)
            node_config.setdefault("materialized", "view")
            incremental_text, incremental_map = None, ()
            if BUILTIN.named(str(node_config["materialized"])).incremental:
                if language == "sql":
                    calls, incremental_text, incremental_map = self.render_incremental(
                        renderer, text, rel, name, this, result, calls)
                validate_incremental(
                    name, rel, text, node_config, patch_path=patch.get("patch_path"),
                    output_columns=static_output_columns(rendered) if language == "sql" else None)
            self.nodes[f"model.{self.config.name}.{name}"] = Node(
                unique_id=f"model.{self.config.name}.{name}", name=name, resource_type="model",
                package=self.config.name, path=rel, fqn=fqn, raw_code=text, language=language,
                config=freeze(node_config), description=patch.get("description", ""),
                columns=patch.get("columns", MappingProxyType({})), calls=tuple(calls),
                depends_on_macros=macros_used, rendered=rendered, line_map=line_map,
                rendered_incremental=incremental_text, line_map_incremental=incremental_map,
                checksum=checksum(text), patch_path=patch.get("patch_path"),
                uses_vars=tuple(vars_used), uses_env_vars=tuple(env_used),
            )

    @staticmethod
    def render_incremental(renderer: Renderer, text: str, rel: str, name: str, this, first, calls):
        """Render an incremental model again with is_incremental() true; returns (calls of both
        renders, that text or None when it equals the first, its line map)."""
        if "is_incremental" not in text and not first.macros_used:
            return calls, None, ()
        second = renderer.render(text, filename=rel, node_name=name, this=this,
                                 extra={"is_incremental": lambda: True})
        if second.text == first.text:
            return calls, None, ()
        shifted = shift_placeholders(second.text, len(calls))
        return (*calls, *second.calls), shifted, second.line_map

    def load_seeds(self, patches: Mapping) -> None:
        for base, path in self.files(self.config.seed_paths, (".csv",)):
            rel = self.rel(path)
            name = path.stem
            self.claim_name(name, rel)
            fqn = (self.config.name, *path.relative_to(base).parent.parts, name)
            patch = patches.get(name, {})
            node_config = merge_config(self.config.node_config("seed", fqn), patch.get("config", {}))
            node_config["materialized"] = "seed"
            self.nodes[f"seed.{self.config.name}.{name}"] = Node(
                unique_id=f"seed.{self.config.name}.{name}", name=name, resource_type="seed",
                package=self.config.name, path=rel, fqn=fqn, config=freeze(node_config),
                description=patch.get("description", ""),
                columns=patch.get("columns", MappingProxyType({})),
                checksum=_file_checksum(path), patch_path=patch.get("patch_path"),
            )

    def link(self) -> None:
        """Turn ref()/source() calls into depends_on, with located did-you-mean errors."""
        names = {n.name: uid for uid, n in self.nodes.items() if n.resource_type in ("model", "seed")}
        sources = {(n.source_name, n.name): uid for uid, n in self.nodes.items() if n.resource_type == "source"}
        for uid, node in list(self.nodes.items()):
            if not node.calls or not node.enabled:
                continue  # a disabled model's refs may point anywhere: it is dropped next
            deps: list[str] = []
            for call in node.calls:
                if call.kind == "ref":
                    target = names.get(call.args[0])
                    if target is None:
                        raise CompilationError(
                            f"ref('{call.args[0]}') refers to a model or seed that does not exist."
                            + did_you_mean(call.args[0], names),
                            node=node.name, path=node.path, line=call.line,
                        )
                else:
                    target = sources.get(tuple(call.args))
                    if target is None:
                        known = [f"{s}.{t}" for s, t in sources]
                        raise CompilationError(
                            f"source('{call.args[0]}', '{call.args[1]}') is not defined in any schema YAML file."
                            + did_you_mean(".".join(call.args), known),
                            node=node.name, path=node.path, line=call.line,
                        )
                if target == uid:
                    raise CompilationError(f"model '{node.name}' refers to itself.", node=node.name,
                                           path=node.path, line=call.line)
                if target not in deps:
                    deps.append(target)
            self.nodes[uid] = node.evolve(depends_on=tuple(deps))

    def drop_disabled(self) -> None:
        disabled = {uid for uid, n in self.nodes.items() if not n.enabled}
        for uid, node in self.nodes.items():
            for dep in node.depends_on:
                if dep in disabled and uid not in disabled:
                    call = next((c for c in node.calls if dep.endswith("." + c.args[-1])), None)
                    raise CompilationError(
                        f"it depends on '{dep.split('.')[-1]}', which is disabled (enabled: false).",
                        node=node.name, path=node.path, line=call.line if call else None,
                    )
        for uid in disabled:
            del self.nodes[uid]


def load_manifest(config: ProjectConfig) -> Manifest:
    """Read every project file and return the frozen Manifest."""
    loader = _Loader(config)
    renderer, macros = loader.load_macros()
    yml_files = [p for _, p in loader.files((*config.model_paths, *config.seed_paths), (".yml", ".yaml"))]
    parsed = schema_yaml.parse_schema_files(config, yml_files)
    for source in parsed.sources:
        loader.nodes[source.unique_id] = source
    loader.load_models(renderer, parsed.model_patches)
    loader.load_seeds(parsed.seed_patches)
    parsed.check_patches(loader.nodes)
    test_files = loader.files(config.test_paths, (".sql",))
    loader.nodes.update(build_test_nodes(config, renderer, loader.nodes, parsed.raw, test_files))
    loader.link()
    loader.drop_disabled()
    metadata = {
        "project_name": config.name,
        "generated_at": renderer.run_started_at.isoformat(),
        "target": config.target.name,
        # --defer --state reads upstream tables from here
        "warehouse": str(config.target.warehouse),
        "warehouse_storage": config.target.warehouse_storage,
        "schema": config.target.schema,
        "sparkmodels_version": _version(),
    }
    manifest = Manifest(
        project_name=config.name,
        nodes=MappingProxyType(dict(loader.nodes)),
        macros=MappingProxyType(macros),
        metadata=MappingProxyType(metadata),
        warnings=tuple(parsed.warnings),
    )
    return manifest


def _version() -> str:
    from sparkmodels.version import __version__

    return __version__


__all__ = ["load_manifest", "Column"]
