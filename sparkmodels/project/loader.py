"""Loading: project files -> an immutable Manifest (no Spark, user Python code is never imported).

Owns the order of a load and the nodes of each resource (models, seeds, snapshots, analyses; tests
come from testnodes.py), each rendered once with the project's Renderer after every macro file is
registered. Finding and reading files is files.py's; turning calls into dependencies is linker.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from sparkmodels.errors import ProjectError, SparkModelsError
from sparkmodels.project import contracts, docblocks, hooks, linker, schema_yaml
from sparkmodels.project.config import ProjectConfig, merge_config, schema_for
from sparkmodels.project.files import file_checksum, package_prefix, project_files, read_source, walk
from sparkmodels.project.frozen import freeze
from sparkmodels.project.generic_tests import has_test_blocks, to_macros
from sparkmodels.project.identifiers import check_nodes
from sparkmodels.project.incremental import shift_placeholders, static_output_columns
from sparkmodels.project.incremental import validate as validate_incremental
from sparkmodels.project.kinds import BUILTIN
from sparkmodels.project.manifest import Column, Macro, Manifest, Node, checksum
from sparkmodels.project.render.jinja import Relation, Renderer
from sparkmodels.project.render.namespace import INTERNAL
from sparkmodels.project.snapshots import finish_config, relation_sql, snapshot_blocks, snapshot_spec
from sparkmodels.project.testnodes import build_test_nodes
from sparkmodels.version import __version__

BUILTIN_MACROS = Path(__file__).parents[1] / "include" / "macros"
NAMING = "{{ generate_schema_name(__sm_schema, __sm_node) }}\n{{ generate_alias_name(__sm_alias, __sm_node) }}"


def package_macro_files(loader: _Loader) -> list[tuple[str, list[tuple[str, Path]]]]:
    """(package name, [(display path, file)]) of every installed package (config.packages, packages.py).

    Each package's macro files and the generic tests of its test-paths, registered in its own
    namespace (`dbt_utils.star`); display paths are relative to the root project.
    """
    found = []
    for pkg in loader.config.packages:
        sub = _Loader(pkg, loader)
        prefix = package_prefix(pkg.root, loader.root)
        generic = [p for _b, p in sub.files(pkg.test_paths, (".sql",)) if has_test_blocks(read_source(p))]
        files = [p for _b, p in sub.files(pkg.macro_paths, (".sql",))]
        found.append((pkg.name, [(prefix + sub.rel(p), p) for p in [*files, *generic]]))
    return found


class _Loader:
    def __init__(self, config: ProjectConfig, shared: _Loader | None = None):
        self.config = config
        self.root = config.root
        # A package's loader shares the root loader's nodes and names (one manifest, one namespace).
        self.nodes: dict[str, Node] = shared.nodes if shared else {}
        self.seen_names: dict[str, str] = shared.seen_names if shared else {}  # model/seed name -> path
        self.listings: dict[str, list[Path]] = shared.listings if shared else {}
        self.macro_uids: dict[str, str] = shared.macro_uids if shared else {}  # name as called -> macro uid
        self.renderer: Renderer | None = shared.renderer if shared else None
        self.warnings: list[str] = shared.warnings if shared else []
        self.prefix = package_prefix(config.root, shared.root) if shared else ""  # a package's folder, for warnings

    def files(self, dirs, suffixes: tuple[str, ...]) -> list[tuple[Path, Path]]:
        return project_files(self.root, dirs, suffixes, self.listings)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def load_macros(self) -> tuple[Renderer, dict[str, Macro]]:
        target = {**self.config.target.describe(), "project_name": self.config.name}
        renderer = Renderer(vars=self.config.vars, target=target, dispatch=self.config.dispatch,
                            flags=self.config.flags)
        macros: dict[str, Macro] = {}
        # Generic tests ({% test %} blocks) may also live in test-paths, e.g. tests/generic/.
        generic = [p for _b, p in self.files(self.config.test_paths, (".sql",)) if has_test_blocks(read_source(p))]
        own = [p for _b, p in self.files(self.config.macro_paths, (".sql",))]
        # The root project first, then installed packages, then sparkmodels' internal `dbt` package.
        packages = [(self.config.name, [(self.rel(p), p) for p in [*own, *generic]]),
                    *package_macro_files(self),
                    (INTERNAL, [(f"sparkmodels/{p.relative_to(BUILTIN_MACROS).as_posix()}", p)
                                for p in sorted(BUILTIN_MACROS.rglob("*.sql"))])]
        for package, files in packages:
            for display, path in files:
                text = to_macros(read_source(path))
                uid_package = "sparkmodels" if package == INTERNAL else package
                for name in renderer.add_macro_file(display, text, package=package):
                    uid = f"macro.{uid_package}.{name}"
                    self.macro_uids.setdefault(f"{package}.{name}", uid)
                    self.macro_uids.setdefault(name, uid)
                    macros.setdefault(uid, Macro(uid, name, display, display, checksum(text)))
        return renderer, macros

    def name_relation(self, renderer: Renderer, node_config: dict, resource_type: str, name: str,
                      rel: str, fqn: tuple) -> None:
        """Schema and identifier from the generate_schema_name / generate_alias_name macros (dbt's, or
        the project's overrides); recorded in the config only where they differ from the defaults."""
        node = {"name": name, "resource_type": resource_type, "package_name": self.config.name,
                "original_file_path": rel, "path": rel, "fqn": list(fqn), "config": node_config,
                "unique_id": f"{resource_type}.{self.config.name}.{name}", "version": None}
        custom_schema, custom_alias = node_config.get("schema"), node_config.get("alias")
        out = renderer.render(NAMING, filename="sparkmodels/naming", node_name=name, package=self.config.name, extra={
            "__sm_schema": custom_schema, "__sm_alias": custom_alias, "__sm_node": node}).text
        schema, _, alias = out.partition("\n")
        schema, alias = schema.strip(), alias.strip()
        if schema and schema != schema_for(self.config, node_config):
            node_config["relation_schema"] = schema
        if alias and alias != name:
            node_config["alias"] = alias

    def claim_name(self, name: str, path: str) -> None:
        """One model/seed/snapshot name per package (dbt's rule; across packages see check_relations)."""
        key = f"{self.config.name}.{name}"
        if key in self.seen_names:
            raise ProjectError(
                f"two resources are named '{name}': {self.seen_names[key]} and {path}. Since they have the "
                f"same name, ref('{name}') could not tell them apart; rename one of them (model, seed and "
                "snapshot names are unique within a project or package).",
                node=name, path=path,
            )
        self.seen_names[key] = path

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
                runtime = False
                language = "python"
            else:
                this = Relation(name, schema_for(self.config, base_config))
                result = renderer.render(text, filename=rel, node_name=name, this=this, package=self.config.name)
                final_schema = schema_for(self.config, merge_config(base_config, result.config))
                if final_schema != this.schema and "this" in text:
                    # An in-file config(schema=...) changes `this.schema`; rare, so render again.
                    this = Relation(name, final_schema)
                    result = renderer.render(text, filename=rel, node_name=name, this=this, package=self.config.name)
                result_config, calls = hooks.model_hooks(result.config, rel, text), tuple(result.calls)
                rendered, line_map = result.text, result.line_map
                runtime = result.runtime
                # exceptions.warn() while rendering: shown with the load's other warnings
                self.warnings.extend(f"{name} ({rel}): {m[9:]}" for m in result.logs if m.startswith("Warning: "))
                vars_used, env_used = tuple(sorted(result.vars_used)), tuple(sorted(result.env_vars_used))
                macros_used = tuple(sorted(self.macro_uids.get(m, f"macro.{self.config.name}.{m}")
                                           for m in result.macros_used))
                language = "sql"
            node_config = merge_config(base_config, result_config)
            node_config.setdefault("materialized", "view")
            self.name_relation(renderer, node_config, "model", name, rel, fqn)
            if language == "sql" and "this" in text and (node_config.get("alias") or "relation_schema" in node_config):
                # `this` is the relation the naming macros chose (alias, schema): render once more.
                this = Relation(str(node_config.get("alias") or name), schema_for(self.config, node_config))
                result = renderer.render(text, filename=rel, node_name=name, this=this)
                calls, rendered, line_map = tuple(result.calls), result.text, result.line_map
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
                constraints=patch.get("constraints", ()), patch_line=patch.get("line"),
                runtime_render=runtime,
            )
            # dbt's contract rules (ephemeral, Python, untyped columns...) and unenforced-constraint warnings
            self.warnings.extend(self.prefix + w for w in contracts.validate(self.nodes[f"model.{self.config.name}.{name}"]))

    def load_snapshots(self, renderer: Renderer, raw_docs) -> None:
        """`{% snapshot %}` blocks in snapshot-paths and YAML `snapshots:` entries with a `relation`;
        a YAML entry without one describes (and configures) a block snapshot of that name."""
        from sparkmodels.project.yamlio import line_of

        defined, patches = [], {}
        for base, path in self.files(self.config.snapshot_paths, (".sql",)):
            rel = self.rel(path)
            text = read_source(path)
            folders = path.relative_to(base).parent.parts
            for block in snapshot_blocks(text, rel):
                defined.append((block.name, rel, folders, text, block.body, block.line, {}))
        for rel, doc in raw_docs:
            for entry in doc.get("snapshots") or []:
                if not isinstance(entry, Mapping) or not entry.get("name"):
                    raise ProjectError("each entry under 'snapshots:' needs a 'name'.", path=rel, line=line_of(entry))
                name, line = str(entry["name"]), line_of(entry)
                if entry.get("relation") is not None:
                    sql = relation_sql(entry["relation"], rel, line, name)
                    body = "\n" * ((line or 1) - 1) + sql
                    defined.append((name, rel, (), sql, body, line, hooks.normalize(entry.get("config") or {}, rel)))
                patches[name] = {"description": str(entry.get("description") or ""),
                                 "columns": schema_yaml._columns(entry, rel), "patch_path": rel,
                                 "config": hooks.normalize(entry.get("config") or {}, rel)
                                 if entry.get("relation") is None else {}}
        for name, rel, folders, raw, body, line, yaml_config in defined:
            self.claim_name(name, rel)
            fqn = (self.config.name, *folders, name)
            patch = patches.get(name, {})
            base_config = merge_config(merge_config(self.config.node_config("snapshot", fqn), yaml_config),
                                       patch.get("config", {}))
            this = Relation(name, schema_for(self.config, base_config))
            result = renderer.render(body, filename=rel, node_name=name, this=this)
            node_config = merge_config(base_config, hooks.model_hooks(result.config, rel, raw))
            snapshot_spec(node_config, node=name, path=rel, line=line)  # located errors before Spark
            uid = f"snapshot.{self.config.name}.{name}"
            self.nodes[uid] = Node(
                unique_id=uid, name=name, resource_type="snapshot", package=self.config.name, path=rel,
                fqn=fqn, raw_code=raw, config=finish_config(node_config),
                description=patch.get("description", ""), columns=patch.get("columns", MappingProxyType({})),
                calls=tuple(result.calls), rendered=result.text, line_map=result.line_map,
                depends_on_macros=tuple(sorted(f"macro.{self.config.name}.{m}" for m in result.macros_used)),
                checksum=checksum(raw), patch_path=patch.get("patch_path"),
                uses_vars=tuple(sorted(result.vars_used)), uses_env_vars=tuple(sorted(result.env_vars_used)),
                # introspects: rendered again when it runs, from its block's body (raw_code is the file)
                runtime_render=result.runtime,
                runtime_template=freeze({"template": body, "extra": {}}) if result.runtime else None,
            )
        for name, patch in patches.items():
            if f"snapshot.{self.config.name}.{name}" not in self.nodes:
                raise ProjectError(f"snapshots: entry '{name}' has no `relation:` and no {{% snapshot {name} %}} "
                                   "block defines it.", node=name, path=patch["patch_path"])

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

    def load_analyses(self, renderer: Renderer) -> None:
        """analyses/**/*.sql: rendered and compiled like models (ref, macros), never run (dbt's analyses)."""
        for base, path in self.files(self.config.analysis_paths, (".sql",)):
            rel, name = self.rel(path), path.stem
            fqn = (self.config.name, "analysis", *path.relative_to(base).parent.parts, name)
            text = read_source(path)
            result = renderer.render(text, filename=rel, node_name=name, package=self.config.name)
            config = merge_config(self.config.node_config("analysis", fqn), result.config)
            config.setdefault("materialized", "view")
            uid = f"analysis.{self.config.name}.{name}"
            self.nodes[uid] = Node(
                unique_id=uid, name=name, resource_type="analysis", package=self.config.name, path=rel,
                fqn=fqn, raw_code=text, config=freeze(config), calls=tuple(result.calls),
                rendered=result.text, line_map=result.line_map, checksum=checksum(text),
                depends_on_macros=tuple(sorted(f"macro.{self.config.name}.{m}" for m in result.macros_used)),
                runtime_render=result.runtime,  # compile (and show) render it again in a session
            )

    def load_seeds(self, patches: Mapping) -> None:
        for base, path in self.files(self.config.seed_paths, (".csv",)):
            rel = self.rel(path)
            name = path.stem
            self.claim_name(name, rel)
            fqn = (self.config.name, *path.relative_to(base).parent.parts, name)
            patch = patches.get(name, {})
            node_config = merge_config(self.config.node_config("seed", fqn), patch.get("config", {}))
            node_config["materialized"] = "seed"
            if self.renderer is not None:
                self.name_relation(self.renderer, node_config, "seed", name, rel, fqn)
            self.nodes[f"seed.{self.config.name}.{name}"] = Node(
                unique_id=f"seed.{self.config.name}.{name}", name=name, resource_type="seed",
                package=self.config.name, path=rel, fqn=fqn, config=freeze(node_config),
                description=patch.get("description", ""),
                columns=patch.get("columns", MappingProxyType({})),
                checksum=file_checksum(path), patch_path=patch.get("patch_path"),
            )


def project_renderer(config: ProjectConfig) -> Renderer:
    """The project's Renderer with every macro (its own, its packages', the built-ins) registered:
    for text rendered after loading (`show --inline`, hooks, `run-operation`)."""
    return _Loader(config).load_macros()[0]


def inline_node(config: ProjectConfig, manifest: Manifest, text: str, *, name: str = "inline",
                renderer: Renderer | None = None) -> Node:
    """An ad-hoc query (`show --inline`) as a node over the manifest: rendered with ref()/source() and
    macros like a model of the root project, its calls linked to the manifest's nodes (located errors)."""
    renderer = renderer or project_renderer(config)
    path = f"<{name}>"
    result = renderer.render(text, filename=path, node_name=name, package=config.name)
    uid = f"sql_operation.{config.name}.{name}"
    node = Node(unique_id=uid, name=name, resource_type="analysis", package=config.name, path=path,
                fqn=(config.name, name), raw_code=text, config=freeze({"materialized": "view", **result.config}),
                calls=tuple(result.calls), rendered=result.text, line_map=result.line_map, checksum=checksum(text),
                runtime_render=result.runtime)  # it introspects: `show` renders it again in its session
    nodes = {**manifest.nodes, uid: node}
    linker.link(nodes, config.name, only=uid)
    return nodes[uid]


def _located(pkg: ProjectConfig, root: Path, step):
    """Run one loading step of a package; errors name the file relative to the root project."""
    try:
        return step()
    except SparkModelsError as exc:
        prefix = package_prefix(pkg.root, root)
        if prefix and exc.path and not Path(exc.path).is_absolute() and not exc.path.startswith(prefix):
            exc.path = prefix + exc.path
        raise


def load_manifest(config: ProjectConfig) -> Manifest:
    """Read every project file, and every installed package's, and return the frozen Manifest."""
    loader = _Loader(config)
    renderer, macros = loader.load_macros()
    loader.renderer = renderer
    warnings: list[str] = list(config.warnings)
    tests_todo = []
    docs: dict[str, dict] = {}
    for project in (config, *config.packages):
        sub = loader if project is config else _Loader(project, loader)
        renderer.vars = project.vars  # var() in a package's nodes sees the package's scope
        before = set(loader.nodes)

        def load(project=project, sub=sub):
            yml_files = [p for _, p in sub.files((*project.model_paths, *project.seed_paths, *project.snapshot_paths),
                                                 (".yml", ".yaml"))]
            parsed = schema_yaml.parse_schema_files(project, yml_files)
            for source in parsed.sources:
                loader.nodes[source.unique_id] = source
            sub.load_models(renderer, parsed.model_patches)
            sub.load_seeds(parsed.seed_patches)
            sub.load_snapshots(renderer, parsed.raw)
            sub.load_analyses(renderer)
            return parsed

        parsed = _located(project, config.root, load)
        # every package's docs blocks, in its own namespace (dbt's doc('pkg', 'name'))
        docs_dirs = project.docs_paths or (*project.model_paths, *project.seed_paths, *project.test_paths,
                                           *project.macro_paths, *project.analysis_paths)
        docs[project.name] = docblocks.find_docs(docblocks.doc_files(
            project.root, dict.fromkeys(docs_dirs), walk, package_prefix(project.root, config.root)))
        parsed.check_patches({u: n for u, n in loader.nodes.items() if n.package == project.name})
        warnings.extend(parsed.warnings)
        tests_todo.append((project, parsed, sub.files(project.test_paths, (".sql",)), before))
    docblocks.resolve(loader.nodes, docs, renderer, config.name)
    for project, parsed, test_files, before in tests_todo:
        renderer.vars = project.vars
        loader.nodes.update(_located(project, config.root, lambda project=project, parsed=parsed, files=test_files:
                                     build_test_nodes(project, renderer, loader.nodes, parsed.raw, files)))
        if project is not config:  # a package's paths are relative to it: make them the root project's
            prefix = package_prefix(project.root, config.root)
            for uid in set(loader.nodes) - before:
                node = loader.nodes[uid]
                if node.package == project.name and prefix:
                    loader.nodes[uid] = node.evolve(path=prefix + node.path,
                                                    patch_path=prefix + node.patch_path if node.patch_path else None)
    renderer.vars = config.vars
    linker.check_relations(loader.nodes)
    linker.link(loader.nodes, config.name)
    linker.drop_disabled(loader.nodes)
    # schema/alias/names become warehouse folders: a path in one must fail here, before Spark starts
    check_nodes(config.root, config.config_file, loader.nodes.values())
    metadata = {
        "project_name": config.name,
        "generated_at": renderer.run_started_at.isoformat(),
        # the `invocation_id` templates saw; run_results.json of a run of this manifest records it too
        "invocation_id": renderer.invocation_id,
        "target": config.target.name,
        # --defer --state reads upstream tables from here
        "warehouse": str(config.target.warehouse),
        "warehouse_storage": config.target.warehouse_storage,
        "schema": config.target.schema,
        "sparkmodels_version": __version__,
    }
    manifest = Manifest(
        project_name=config.name,
        nodes=MappingProxyType(dict(loader.nodes)),
        macros=MappingProxyType(macros),
        metadata=MappingProxyType(metadata),
        warnings=(*warnings, *loader.warnings),
        renderer=renderer,
    )
    return manifest


__all__ = ["load_manifest", "Column"]
