"""Test nodes: schema-YAML generic tests, singular test files and unit tests -> frozen `test` Nodes.

Every test is a Node with resource_type "test". Its config is what the user configures (severity,
warn_if, error_if, where, limit, store_failures, ...); what the test is (generic, singular or unit,
the tested node, column, arguments, a unit test's given and expected rows) is its `Node.test`, a
frozen TestSpec, so editing a schema file's layout changes no config. Generic tests are rendered once by
calling their `test_<name>` macro with a ref()/source() to the tested relation, so ref()
placeholders, linking and did-you-mean errors work as for models.
"""

from __future__ import annotations

import copy
import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.errors import CompilationError, ProjectError, did_you_mean
from sparkmodels.project.config import ProjectConfig, merge_config
from sparkmodels.project.frozen import freeze, thaw
from sparkmodels.project.generic_tests import (
    BUILTIN,
    builtin_template,
    has_test_blocks,
    parse_condition,
    test_node_name,
)
from sparkmodels.project.manifest import Node, RefCall, TestSpec, UnitInput, checksum
from sparkmodels.project.render.jinja import Renderer, resolve
from sparkmodels.project.yamlio import line_of

# Test config keys that may be written next to a test's arguments (dbt < 1.8 style) or under config:.
CONFIG_KEYS = frozenset({"severity", "warn_if", "error_if", "where", "limit", "store_failures", "tags",
                         "enabled", "meta", "schema", "alias", "fail_calc", "store_failures_as", "database"})
DEFAULTS = {"severity": "error", "warn_if": "!= 0", "error_if": "!= 0", "materialized": "test"}
_REF_CALL = re.compile(r"^\s*(ref|source)\s*\(.*\)\s*$", re.S)
_INPUT_REF = re.compile(r"""^\s*ref\(\s*(?:['"][^'"]+['"]\s*,\s*)?['"]([^'"]+)['"]\s*(?:,[^)]*)?\)\s*$""")
# ref('x') or source('a', 'b') with plain quoted names: passed to the template as values.
_SIMPLE_INPUT = re.compile(r"""^\s*(?:(ref)\(\s*'([^'\\]+)'\s*\)|(source)\(\s*'([^'\\]+)'\s*,\s*'([^'\\]+)'\s*\))\s*$""")
_INPUT_SOURCE = re.compile(r"""^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$""")


def _tests_list(entry: Mapping):
    tests = entry.get("data_tests")
    return entry.get("tests") if tests is None else tests


def _validate(cfg: Mapping, path: str, line: int | None) -> None:
    severity = str(cfg.get("severity", "error")).lower()
    if severity not in ("warn", "error"):
        raise ProjectError(f"severity must be 'warn' or 'error', not '{cfg.get('severity')}'.", path=path, line=line)
    for key in ("warn_if", "error_if"):
        parse_condition(cfg.get(key, "!= 0"), path=path, line=line, key=key)
    if cfg.get("limit") is not None:
        try:
            int(cfg["limit"])
        except (TypeError, ValueError):
            raise ProjectError(f"limit must be an integer, not '{cfg['limit']}'.", path=path, line=line) from None


def _finish_config(base: Mapping, own: Mapping, path: str, line: int | None, *, unit: bool = False) -> dict:
    cfg = merge_config({**DEFAULTS, **base}, own)
    cfg["severity"] = str(cfg.get("severity", "error")).lower()
    cfg["materialized"] = "unit_test" if unit else "test"
    _validate(cfg, path, line)
    return cfg


def _with_limit(sql: str, line_map: tuple, limit) -> tuple[str, tuple]:
    if limit is None:
        return sql, line_map
    wrapped = f"select * from (\n{sql.rstrip()}\n) dbt_internal_test\nlimit {int(limit)}"
    if not line_map:
        return wrapped, ()
    return wrapped, (line_map[0], *line_map, line_map[-1], line_map[-1])


with_limit = _with_limit  # a test's `limit:` applied to SQL rendered at run time too (execute/runtime/)


class TestBuilder:
    """Collects the test nodes of one project while the loader still holds its Renderer."""

    def __init__(self, config: ProjectConfig, renderer: Renderer, nodes: Mapping[str, Node]):
        self.config = config
        self.renderer = renderer
        self.nodes = nodes
        self.out: dict[str, Node] = {}
        self._twins: set[str] | None = None  # names that several packages define (two-argument refs)

    def add(self, node: Node, line: int | None = None) -> None:
        if node.unique_id in self.out:
            raise ProjectError(
                f"two tests are named '{node.name}' (the second in {node.path}).",
                path=node.path, line=line, hint="Give one of them a distinct `name:`.",
            )
        self.out[node.unique_id] = node

    # -- generic tests in schema YAML ----------------------------------------------------------
    def schema_tests(self, path: str, doc: Mapping) -> None:
        for kind in ("models", "seeds", "snapshots"):
            rtype = kind[:-1]
            for entry in doc.get(kind) or []:
                if not isinstance(entry, Mapping) or not entry.get("name"):
                    continue
                name = str(entry["name"])
                uid = f"{rtype}.{self.config.name}.{name}"
                if uid in self.nodes:
                    self._target_tests(path, entry, self.nodes[uid], self._ref_call(self.nodes[uid]))
        for source in doc.get("sources") or []:
            if not isinstance(source, Mapping):
                continue
            for table in source.get("tables") or []:
                if not isinstance(table, Mapping) or not table.get("name"):
                    continue
                uid = f"source.{self.config.name}.{source['name']}.{table['name']}"
                if uid in self.nodes:
                    expr = ("source", str(source["name"]), str(table["name"]))
                    self._target_tests(path, table, self.nodes[uid], expr)

    def _target_tests(self, path: str, entry: Mapping, target: Node, expr: tuple) -> None:
        if not target.enabled:
            return  # tests of a disabled model are disabled with it, as in dbt
        for test in _tests_list(entry) or []:
            self.generic(path, test, target, expr, None, line_of(test, line_of(entry)))
        for col in entry.get("columns") or []:
            if isinstance(col, Mapping) and col.get("name"):
                column = str(col["name"])
                if col.get("quote") is True:  # dbt passes adapter.quote(name) to the test: `my col`
                    column = "`" + column.replace("`", "``") + "`"
                for test in _tests_list(col) or []:
                    self.generic(path, test, target, expr, column, line_of(test, line_of(col)))

    def generic(self, path: str, spec, target: Node, target_call: tuple, column: str | None,
                line: int | None) -> None:
        """One entry of a `tests:`/`data_tests:` list."""
        test_name, kwargs, own, custom_name = _parse_entry(spec, path, line)
        namespace, _, test_name = test_name.rpartition(".")  # dbt_utils.x: the package's own test_x
        macro = f"{namespace}.test_{test_name}" if namespace else f"test_{test_name}"
        if not self.renderer.has_macro(f"test_{test_name}", namespace or None):
            known = [m[5:] for m in self.renderer.macro_names if m.startswith("test_")]
            raise ProjectError(
                f"unknown generic test '{test_name}'." + did_you_mean(test_name, known),
                path=path, line=line,
                hint="Define it with {% test " + test_name + "(model, column_name) %} in macro-paths or test-paths.",
            )
        if column is not None and "column_name" in kwargs:
            column = str(kwargs.pop("column_name"))
        elif column is None and "column_name" in kwargs:
            column = str(kwargs.pop("column_name"))
        for value in kwargs.values():
            if isinstance(value, str) and _REF_CALL.match(value):
                parent = _parse_input(value)
                dep = self._input_node(parent) if parent else None
                if dep is not None and not dep.enabled:
                    return  # points at a disabled model
        name = custom_name or test_node_name(f"{namespace}_{test_name}" if namespace else test_name, target.name if target.resource_type != "source"
                                             else f"{target.source_name}_{target.name}", column, kwargs)
        folders = Path(path).parent.parts[1:]
        fqn = (self.config.name, *folders, name)
        cfg = _finish_config(self.config.node_config("test", fqn), own, path, line)
        if not cfg.get("enabled", True):
            return
        builtin = test_name in BUILTIN and self.renderer.macro_names.get(macro, "").startswith("sparkmodels/")
        test = TestSpec(kind="generic", name=test_name, attached_node=target.unique_id, column_name=column,
                        kwargs=freeze(kwargs), namespace=namespace or None, builtin=builtin, yaml_line=line)
        rendered, calls, macros, set_config, again = self._render_generic(path, line, name, macro, target_call, column,
                                                                   kwargs, cfg.get("where"), builtin)
        for key in ("fail_calc", "warn_if", "error_if"):  # config() in the test's macro (dbt_utils sets fail_calc)
            if key in set_config and key not in own:
                cfg[key] = set_config[key]
        sql, _ = _with_limit(rendered, (), cfg.get("limit"))
        raw = f"{{{{ {macro}(**_dbt_generic_test_kwargs) }}}}"
        self.add(Node(
            unique_id=f"test.{self.config.name}.{name}", name=name, resource_type="test",
            package=self.config.name, path=path, fqn=fqn, raw_code=raw, config=freeze(cfg), test=test,
            calls=tuple(RefCall(c.kind, c.args, line) for c in calls), rendered=sql,
            depends_on_macros=tuple(sorted(f"macro.{self.config.name}.{m}" for m in macros)),
            checksum=checksum(f"{path}:{name}:{sorted(map(str, kwargs.items()))}"), patch_path=path,
            runtime_render=again is not None, runtime_template=again,
        ), line)

    def _render_generic(self, path, line, name, macro, target, column, kwargs, where, builtin=False):
        text = builtin_template(macro[5:], target, column, kwargs, where) if builtin else None
        if text is not None:  # sparkmodels' own macro, expanded without Jinja (same text and calls)
            result = self.renderer.render(text, filename=path, node_name=name)
            return result.text.strip() + "\n", result.calls, {macro, *result.macros_used}, {}, None
        # The template text names no model and no argument value, only their kind, so every test of
        # one kind in one YAML file shares a text the Renderer compiles once. target: ("ref", model)
        # or ("source", source, table), called as ref()/source() so placeholders and calls are recorded.
        plain = {k: v for k, v in kwargs.items() if not (isinstance(v, str) and _REF_CALL.match(v))}
        exprs, inputs = [], []
        for k, v in kwargs.items():
            if k in plain:
                continue
            simple = _SIMPLE_INPUT.match(v)
            if simple:
                call = ("ref", simple.group(2)) if simple.group(1) else ("source", simple.group(4), simple.group(5))
                inputs.append(call[1:])
                exprs.append(f"{k}={call[0]}(*__sm_inputs[{len(inputs) - 1}])")
            else:
                exprs.append(f"{k}={v.strip()}")
        model = f"{target[0]}(*__sm_target)"
        if where:
            model = f"'(select * from ' ~ {model} ~ ' where ' ~ __sm_where ~ ') dbt_subquery'"
        args = [f"model={model}"] + (["column_name=__sm_column"] if column is not None else []) + exprs
        template = f"{{{{ {macro}({', '.join(args)}, **__sm_kwargs) }}}}"
        extra = {"__sm_kwargs": thaw(plain), "__sm_column": column, "__sm_where": where,
                 "__sm_target": target[1:], "__sm_inputs": inputs}
        try:
            result = self.renderer.render(template, filename=path, node_name=name, extra=extra)
        except CompilationError as exc:
            if exc.path == path:
                exc.line = line
            raise
        # A test whose macro introspects (dbt_utils.equality) is rendered again at run time from these.
        again = freeze({"template": template, "extra": extra}) if result.runtime else None
        return result.text.strip() + "\n", result.calls, result.macros_used, result.config, again

    def _ref_call(self, target: Node) -> tuple:
        """("ref", name), or ("ref", package, name) when another package has a node of that name."""
        if self._twins is None:
            packages: dict[str, set] = {}
            for n in self.nodes.values():
                if n.resource_type in ("model", "seed", "snapshot"):
                    packages.setdefault(n.name, set()).add(n.package)
            self._twins = {name for name, found in packages.items() if len(found) > 1}
        return ("ref", target.package, target.name) if target.name in self._twins else ("ref", target.name)

    def _input_node(self, key: tuple) -> Node | None:
        if key[0] == "ref":
            return (self.nodes.get(f"model.{self.config.name}.{key[1]}")
                    or self.nodes.get(f"seed.{self.config.name}.{key[1]}"))
        return self.nodes.get(f"source.{self.config.name}.{key[1]}.{key[2]}")

    # -- singular tests ----------------------------------------------------------------------------
    def singular(self, base: Path, path: Path) -> None:
        rel = path.relative_to(self.config.root).as_posix()
        text = path.read_text(encoding="utf-8")
        name = path.stem
        fqn = (self.config.name, *path.relative_to(base).parent.parts, name)
        result = self.renderer.render(text, filename=rel, node_name=name)
        cfg = _finish_config(self.config.node_config("test", fqn), result.config, rel, None)
        if not cfg.get("enabled", True):
            return
        sql, line_map = _with_limit(result.text, result.line_map, cfg.get("limit"))
        self.add(Node(
            unique_id=f"test.{self.config.name}.{name}", name=name, resource_type="test",
            package=self.config.name, path=rel, fqn=fqn, raw_code=text, config=freeze(cfg),
            test=TestSpec(kind="singular", name=name), calls=tuple(result.calls), rendered=sql, line_map=line_map, checksum=checksum(text),
            depends_on_macros=tuple(sorted(f"macro.{self.config.name}.{m}" for m in result.macros_used)),
            uses_vars=tuple(sorted(result.vars_used)), runtime_render=result.runtime,
        ))

    # -- unit tests --------------------------------------------------------------------------------
    def unit_tests(self, path: str, doc: Mapping) -> None:
        for entry in doc.get("unit_tests") or []:
            line = line_of(entry)
            if not isinstance(entry, Mapping) or not entry.get("name") or not entry.get("model"):
                raise ProjectError("each unit test needs a 'name' and a 'model'.", path=path, line=line)
            self.unit(path, entry, line)

    def unit(self, path: str, entry: Mapping, line: int | None) -> None:
        name, model_name = str(entry["name"]), str(entry["model"])
        model = self.nodes.get(f"model.{self.config.name}.{model_name}")
        if model is None:
            models = [n.name for n in self.nodes.values() if n.resource_type == "model"]
            raise ProjectError(f"unit test '{name}' tests model '{model_name}', which does not exist."
                               + did_you_mean(model_name, models), path=path, line=line)
        if not model.enabled:
            return
        fqn = (*model.fqn, name)
        own = dict(entry.get("config") or {})
        cfg = _finish_config(self.config.node_config("test", fqn), own, path, line, unit=True)
        if not cfg.get("enabled", True):
            return
        uid = f"unit_test.{self.config.name}.{model_name}.{name}"
        rendered, calls = self._unit_model_sql(model, entry.get("overrides") or {}, path, line)
        tag = re.sub(r"\W", "_", f"{model_name}__{name}")[:40]
        given, views = [], {}
        for i, spec in enumerate(entry.get("given") or []):
            gline = line_of(spec, line)
            if not isinstance(spec, Mapping) or not spec.get("input"):
                raise ProjectError(f"unit test '{name}': each 'given' needs an 'input' such as ref('x').",
                                   path=path, line=gline)
            key = _parse_input(str(spec["input"]))
            if key is None:
                raise ProjectError(f"unit test '{name}': input '{spec['input']}' must be ref('...') or "
                                   "source('...', '...').", path=path, line=gline)
            dep = self._input_node(key)
            view = f"__sm_ut_{tag}_{i}"
            views[key] = view
            given.append(UnitInput(input=str(spec["input"]), key=key, view=view,
                                   node=dep.unique_id if dep else None,
                                   rows=freeze(self._rows(spec, name, path, gline))))
        missing = [c for c in calls if _call_key(c) not in views]
        if missing:
            c = missing[0]
            call = f"{c.kind}({', '.join(repr(a) for a in c.args)})"
            raise ProjectError(f"unit test '{name}' gives no rows for {call}, which {model_name} reads.",
                               path=path, line=line, hint="Add it under given: (rows: [] for an empty input).")
        var_overrides = {}
        if model.language == "sql":
            rendered = resolve(rendered, [f"`{views[_call_key(c)]}`" for c in calls])
        elif (entry.get("overrides") or {}).get("vars"):
            var_overrides = dict(entry["overrides"]["vars"])  # ctx.var() reads them at run time
        expect = entry.get("expect") or {}
        if not isinstance(expect, Mapping):
            raise ProjectError(f"unit test '{name}': expect needs rows.", path=path, line=line)
        test = TestSpec(kind="unit", name=name, attached_node=model.unique_id, yaml_line=line,
                        given=tuple(given), expect=freeze(self._rows(expect, name, path, line_of(expect, line))),
                        var_overrides=freeze(var_overrides))
        self.add(Node(
            unique_id=uid, name=name, resource_type="test", package=self.config.name, path=path, fqn=fqn,
            raw_code=model.raw_code, language=model.language, config=freeze(cfg), test=test,
            description=str(entry.get("description") or ""),
            calls=tuple(RefCall(c.kind, c.args, line) for c in calls), rendered=rendered,
            checksum=checksum(f"{uid}:{entry!r}"), patch_path=path,
        ), line)

    def _unit_model_sql(self, model: Node, overrides: Mapping, path: str, line: int | None):
        """The model's rendered SQL and calls; re-rendered when the test overrides vars."""
        extra_keys = set(overrides) - {"vars", "macros"}
        macros = dict(overrides.get("macros") or {})
        if extra_keys or any(k != "is_incremental" for k in macros):
            raise ProjectError("unit test overrides support vars (and macros: {is_incremental: false}).",
                               path=path, line=line)
        if not overrides.get("vars") or model.language != "sql":
            return model.rendered, list(model.calls)
        from sparkmodels.project.config import schema_for
        from sparkmodels.project.render.jinja import Relation

        renderer = copy.copy(self.renderer)
        renderer.vars = freeze({**dict(self.renderer.vars), **dict(overrides["vars"])})
        this = Relation(model.name, schema_for(self.config, model.config))
        result = renderer.render(model.raw_code, filename=model.path, node_name=model.name, this=this)
        return result.text, list(result.calls)

    def _rows(self, spec: Mapping, test: str, path: str, line: int | None) -> list:
        fmt = str(spec.get("format") or "dict").lower()
        rows = spec.get("rows")
        if spec.get("fixture"):
            rows = self._fixture(str(spec["fixture"]), fmt, path, line)
        if fmt == "dict":
            rows = rows or []
            if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
                raise ProjectError(f"unit test '{test}': rows must be a list of mappings "
                                   "(or set format: csv).", path=path, line=line)
            return [{str(k): v for k, v in r.items()} for r in rows]
        if fmt == "csv":
            reader = csv.DictReader(io.StringIO(str(rows or "").strip() + "\n"))
            return [{k.strip(): (v if v != "" else None) for k, v in r.items()} for r in reader]
        raise ProjectError(f"unit test '{test}': format '{fmt}' is not supported; use dict or csv.",
                           path=path, line=line)

    def _fixture(self, name: str, fmt: str, path: str, line: int | None) -> str:
        suffix = ".csv" if fmt == "csv" else ".yml"
        for test_dir in self.config.test_paths:
            for found in sorted((self.config.root / test_dir).rglob(name + suffix)):
                return found.read_text(encoding="utf-8")
        raise ProjectError(f"fixture '{name}{suffix}' not found under {', '.join(self.config.test_paths)}.",
                           path=path, line=line)


def _parse_entry(spec, path: str, line: int | None) -> tuple[str, dict, dict, str | None]:
    """(test name, arguments, config, custom node name) of one YAML test entry."""
    if isinstance(spec, str):
        return spec, {}, {}, None
    if not isinstance(spec, Mapping) or not spec:
        raise ProjectError("a test must be a name (e.g. - unique) or a mapping (e.g. - accepted_values: {...}).",
                           path=path, line=line)
    if "test_name" in spec:
        test_name, body = str(spec["test_name"]), spec
    elif len(spec) == 1:
        test_name, body = next(iter(spec.items()))
        body = body or {}
    else:
        raise ProjectError(f"cannot read the test {dict(spec)}: expected one test name as the key.",
                           path=path, line=line)
    if not isinstance(body, Mapping):
        raise ProjectError(f"the arguments of test '{test_name}' must be a mapping.", path=path, line=line)
    skip = {"config", "name", "description", "arguments", "test_name"}
    kwargs = {k: v for k, v in body.items() if k not in skip and k not in CONFIG_KEYS}
    kwargs.update(dict(body.get("arguments") or {}))
    own = {k: v for k, v in body.items() if k in CONFIG_KEYS}
    own.update(dict(body.get("config") or {}))
    return str(test_name), dict(kwargs), own, (str(body["name"]) if body.get("name") else None)


def _parse_input(text: str) -> tuple | None:
    m = _INPUT_REF.match(text)
    if m:
        return ("ref", m.group(1))
    m = _INPUT_SOURCE.match(text)
    return ("source", m.group(1), m.group(2)) if m else None


def _call_key(call) -> tuple:
    return ("source", *call.args) if call.kind == "source" else ("ref", call.args[-1])


def build_test_nodes(config: ProjectConfig, renderer: Renderer, nodes: Mapping[str, Node],
                     schema_docs, test_files) -> dict[str, Node]:
    """All test nodes: generic tests and unit tests from schema docs, singular tests from test-paths."""
    builder = TestBuilder(config, renderer, nodes)
    for path, doc in schema_docs:
        builder.schema_tests(path, doc)
    for base, file in test_files:
        if file.suffix == ".sql" and not has_test_blocks(file.read_text(encoding="utf-8")):
            builder.singular(base, file)
    for path, doc in schema_docs:
        builder.unit_tests(path, doc)
    return builder.out
