"""The manifest: frozen node dataclasses for everything in a project, and their JSON form."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sparkmodels.project.frozen import thaw

MANIFEST_SCHEMA = "https://sparkmodels.dev/schemas/manifest/v1.json"
EMPTY: Mapping = MappingProxyType({})


def checksum(text: str) -> str:
    """sha256 of a node's raw code, as dbt's checksum."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_line(line_map: tuple[int, ...], rendered_line: int | None) -> int | None:
    """The source file's line behind a line of rendered or compiled SQL (line_map[i]: line i+1's)."""
    if rendered_line is None or not line_map:
        return rendered_line
    return line_map[min(max(rendered_line, 1), len(line_map)) - 1]


def constraints_dict(constraints) -> list[dict]:
    """Constraints as manifest.json writes them (dbt's keys; the YAML line is ours, left out)."""
    return [{k: v for k, v in thaw(c).items() if k != "line"} for c in constraints]


@dataclass(frozen=True)
class Column:
    """A documented column of a model, seed or source."""

    name: str
    description: str = ""
    data_type: str | None = None
    tests: tuple = ()
    meta: Mapping = field(default_factory=lambda: EMPTY)
    constraints: tuple = ()  # dbt's column constraints (project/contracts.py), each with its YAML line
    quote: bool | None = None  # `quote: true`: the name is quoted where sparkmodels writes it (tests)
    line: int | None = None  # where the column is declared in schema YAML (errors point at it)


@dataclass(frozen=True)
class RefCall:
    """One ref()/source() call found while parsing, with the line it appears on."""

    kind: str  # "ref" or "source"
    args: tuple[str, ...]  # ref: (name,) or (package, name); source: (source, table)
    line: int | None = None
    target: str | None = None  # the unique_id it resolved to (set when the manifest is linked)


@dataclass(frozen=True)
class UnitInput:
    """One `given:` input of a unit test: the rows that stand in for a ref()/source()."""

    input: str  # as written, e.g. "ref('orders')"
    key: tuple[str, ...]  # ("ref", name) or ("source", source, table)
    view: str  # the temp view the test's SQL reads instead of the relation
    node: str | None = None  # unique_id of the mocked node, when it exists
    rows: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class TestSpec:
    """What a test node is, beside its user-facing config: kind, tested node, arguments, mocks.

    kind is "generic" (a {% test %} macro applied in schema YAML), "singular" (a .sql file) or
    "unit" (a model run over given rows). These are test internals: they are written to
    manifest.json as dbt writes them (test_metadata, attached_node, column_name, unit_tests), never
    as config, so `state:modified.configs` compares only what the user configured.
    """

    __test__ = False  # not a pytest test class

    kind: str
    name: str  # the generic test's name (not_null, ...), or the singular/unit test's own name
    attached_node: str | None = None
    column_name: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    namespace: str | None = None  # dbt_utils in dbt_utils.unique_combination_of_columns
    builtin: bool = False  # sparkmodels' own macro (its SQL is known, so it may share a scan)
    yaml_line: int | None = None  # where the test is declared, for errors (not compared by state)
    given: tuple[UnitInput, ...] = ()
    expect: tuple[Mapping[str, Any], ...] = ()
    var_overrides: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    @property
    def is_unit(self) -> bool:
        return self.kind == "unit"

    def to_dict(self, target: Node | None = None) -> dict:
        """The generic test's manifest fields, as dbt writes them (singular tests have none)."""
        if self.kind != "generic":
            return {}
        kwargs = {**({"column_name": self.column_name} if self.column_name is not None else {}),
                  **thaw(self.kwargs)}
        if target is not None:
            call = (f"source('{target.source_name}', '{target.name}')" if target.resource_type == "source"
                    else f"ref('{target.name}')")
            kwargs["model"] = "{{ get_where_subquery(" + call + ") }}"
        return {"test_metadata": {"name": self.name, "kwargs": kwargs, "namespace": self.namespace},
                "attached_node": self.attached_node, "column_name": self.column_name}


@dataclass(frozen=True)
class Node:
    """A model, seed, source or test. Everything the later stages need, read-only."""

    unique_id: str
    name: str
    resource_type: str
    package: str
    path: str  # relative to the project root
    fqn: tuple[str, ...]
    raw_code: str = ""
    language: str = "sql"
    config: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    description: str = ""
    columns: Mapping[str, Column] = field(default_factory=lambda: EMPTY)
    calls: tuple[RefCall, ...] = ()
    depends_on: tuple[str, ...] = ()
    depends_on_macros: tuple[str, ...] = ()
    # Rendered SQL with one placeholder per ref()/source() call; compile() resolves them.
    rendered: str = ""
    # line_map[i] = source line of rendered line i+1 (maps Spark errors back to the file).
    line_map: tuple[int, ...] = ()
    # Incremental models: the SQL rendered with is_incremental() true (placeholders numbered after
    # `rendered`'s calls), when it differs; the run picks one of the two (project/incremental.py).
    rendered_incremental: str | None = None
    line_map_incremental: tuple[int, ...] = ()
    checksum: str = ""
    patch_path: str | None = None
    patch_line: int | None = None  # the line of the node's entry in its schema YAML file (patch_path)
    # Sources: external location/format/options; seeds: the CSV path.
    source_name: str | None = None
    identifier: str | None = None
    external: Mapping[str, Any] | None = None
    uses_vars: tuple[str, ...] = ()
    uses_env_vars: tuple[str, ...] = ()
    test: TestSpec | None = None  # tests only: what kind of test, of what, with which arguments
    constraints: tuple = ()  # models: dbt's model-level constraints (project/contracts.py)
    # Rendered again when it runs (it reads `execute` or introspects: project/render/introspect.py)
    runtime_render: bool = False
    # What a run-time render renders when it is not raw_code: a generic test's one-line template and
    # its extra context values, a snapshot block's body (raw_code is its whole file)
    runtime_template: Mapping[str, Any] | None = None

    @property
    def is_unit_test(self) -> bool:
        return self.test is not None and self.test.is_unit

    @property
    def materialized(self) -> str:
        return str(self.config.get("materialized", "view"))

    @property
    def enabled(self) -> bool:
        return bool(self.config.get("enabled", True))

    def source_line(self, rendered_line: int | None) -> int | None:
        """The line in the source file that produced a line of rendered SQL."""
        return source_line(self.line_map, rendered_line)

    def contract_dict(self) -> dict:
        """manifest.json's `contract`: enforced, alias_types, and dbt's checksum of an enforced contract
        (each column's |name + data_type + version, by name)."""
        contract = self.config.get("contract")
        enforced = bool(isinstance(contract, Mapping) and contract.get("enforced"))
        digest = None
        if enforced:
            state = "".join(f"|{c.name}{c.data_type}None" for c in sorted(self.columns.values(), key=lambda c: c.name))
            digest = hashlib.sha256(state.encode("utf-8")).hexdigest()
        return {"enforced": enforced, "alias_types": True, "checksum": digest}

    def evolve(self, **changes) -> Node:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        out = {
            "unique_id": self.unique_id,
            "name": self.name,
            "resource_type": self.resource_type,
            "package_name": self.package,
            "original_file_path": self.path,
            "fqn": list(self.fqn),
            "language": self.language,
            "raw_code": self.raw_code,
            "config": thaw(self.config),
            "description": self.description,
            "columns": {
                c.name: {"name": c.name, "description": c.description, "data_type": c.data_type,
                         "meta": thaw(c.meta), "constraints": constraints_dict(c.constraints),
                         "quote": c.quote}
                for c in self.columns.values()
            },
            "depends_on": {"nodes": list(self.depends_on), "macros": list(self.depends_on_macros)},
            # dbt 1.5+'s shape: {name, package (ref('pkg', 'm')), version}
            "refs": [{"name": c.args[-1], "package": c.args[0] if len(c.args) > 1 else None, "version": None}
                     for c in self.calls if c.kind == "ref"],
            "sources": [list(c.args) for c in self.calls if c.kind == "source"],
            "checksum": {"name": "sha256", "checksum": self.checksum},
            "patch_path": self.patch_path,
        }
        if self.resource_type == "model":  # dbt 1.5+: the contract and the model-level constraints
            out.update(contract=self.contract_dict(), constraints=constraints_dict(self.constraints))
        if self.resource_type == "source":
            out.update(source_name=self.source_name, identifier=self.identifier,
                       external=thaw(self.external) if self.external else None)
        return out

    def unit_test_dict(self, model: Node | None) -> dict:
        """A unit test as dbt 1.8+ writes it in manifest.json's `unit_tests` section."""
        spec = self.test
        assert spec is not None and spec.is_unit
        return {
            "unique_id": self.unique_id,
            "name": self.name,
            "resource_type": "unit_test",
            "package_name": self.package,
            "original_file_path": self.path,
            "path": self.path,
            "fqn": list(self.fqn),
            "model": model.name if model is not None else None,
            "attached_node": spec.attached_node,
            "given": [{"input": g.input, "rows": thaw(g.rows), "format": "dict"} for g in spec.given],
            "expect": {"rows": thaw(spec.expect), "format": "dict"},
            "overrides": {"vars": thaw(spec.var_overrides)} if spec.var_overrides else None,
            "description": self.description,
            "config": thaw(self.config),
            "depends_on": {"nodes": list(self.depends_on), "macros": list(self.depends_on_macros)},
            "checksum": {"name": "sha256", "checksum": self.checksum},
        }


@dataclass(frozen=True)
class Macro:
    """A Jinja macro from macro-paths."""

    unique_id: str
    name: str
    path: str
    template_name: str
    checksum: str = ""
    depends_on_macros: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"unique_id": self.unique_id, "name": self.name, "original_file_path": self.path,
                "depends_on": {"macros": list(self.depends_on_macros)},
                "checksum": {"name": "sha256", "checksum": self.checksum}}


@dataclass(frozen=True)
class Manifest:
    """All nodes of a project by unique_id, plus macros and metadata."""

    project_name: str
    nodes: Mapping[str, Node]
    macros: Mapping[str, Macro] = field(default_factory=lambda: EMPTY)
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Problems worth telling the user that do not stop the run (e.g. YAML describing no model).
    warnings: tuple[str, ...] = ()
    # The Renderer that loaded it (its macros compiled): models rendered again at run time reuse it
    # rather than compiling every macro file again (execute/runtime/models.py). Not part of equality.
    renderer: Any = field(default=None, compare=False, repr=False)

    def by_name(self, name: str, resource_types=("model", "seed", "snapshot")) -> Node | None:
        for rtype in resource_types:
            node = self.nodes.get(f"{rtype}.{self.project_name}.{name}")
            if node is not None:
                return node
        return None

    def of_type(self, *resource_types: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.resource_type in resource_types]

    def to_dict(self, compiled: Mapping[str, str] | None = None,
                column_lineage: Mapping[str, Mapping] | None = None) -> dict:
        """dbt-shaped manifest.json content (compiled SQL and column lineage added when given)."""
        nodes, sources, unit_tests = {}, {}, {}
        for uid, node in self.nodes.items():
            if node.is_unit_test:
                unit_tests[uid] = node.unit_test_dict(self.nodes.get(node.test.attached_node or ""))
                continue
            data = node.to_dict()
            if node.test is not None:
                data.update(node.test.to_dict(self.nodes.get(node.test.attached_node or "")))
            if compiled is not None and uid in compiled:
                data["compiled_code"] = compiled[uid]
            if column_lineage is not None and uid in column_lineage:
                data["column_lineage"] = column_lineage[uid]  # see report/lineage/columns.py for the shape
            (sources if node.resource_type == "source" else nodes)[uid] = data
        child_map: dict[str, list[str]] = {uid: [] for uid in self.nodes}
        for uid, node in self.nodes.items():
            for dep in node.depends_on:
                child_map.setdefault(dep, []).append(uid)
        return {
            "metadata": {"dbt_schema_version": MANIFEST_SCHEMA, **thaw(self.metadata)},
            "nodes": nodes,
            "sources": sources,
            "macros": {uid: m.to_dict() for uid, m in self.macros.items()},
            "unit_tests": unit_tests,
            "parent_map": {uid: list(n.depends_on) for uid, n in self.nodes.items()},
            "child_map": child_map,
        }
