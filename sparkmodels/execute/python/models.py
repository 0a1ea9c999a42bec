"""Python execution: runs Python models (`def model(ctx)`) and registers the project's Python UDFs.

User code is only ever executed here, at execution time: the loader scans Python models by AST
(pyscan.py) and never imports UDF files. Files are compiled with their absolute path so tracebacks,
including those raised in Spark's Python workers, name the user's file and line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.errors import ExecutionError, ProjectError, SparkModelsError, did_you_mean
from sparkmodels.execute.materializations.base import spark_error
from sparkmodels.execute.spark.errors import is_spark_error
from sparkmodels.plan.compiler import CompiledNode, relation_name
from sparkmodels.plan.steps import PlanStep
from sparkmodels.project.config import ProjectConfig, schema_for
from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node
from sparkmodels.project.render.introspect import PlainRelation
from sparkmodels.udfs import UdfSpec, map_batches, spec_of

_MISSING = object()


# -- running user files ------------------------------------------------------------------------
def _exec_file(source: str, abs_path: Path, module_name: str) -> dict:
    """Execute a file's source in a fresh namespace that is not in sys.modules.

    Keeping it out of sys.modules makes cloudpickle ship its functions to Spark's Python workers by
    value (workers cannot import the project's folders), code objects and file names included.
    """
    namespace = {"__name__": module_name, "__file__": str(abs_path), "__builtins__": __builtins__}
    exec(compile(source, str(abs_path), "exec"), namespace)  # noqa: S102 - running user code is the point
    return namespace


def _line_in(exc: BaseException, abs_path: Path) -> int | None:
    """The innermost traceback line that lies in abs_path."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename) == abs_path:
            line = lineno
    if line is None and isinstance(exc, SyntaxError) and exc.filename == str(abs_path):
        line = exc.lineno
    return line


def _user_error(exc: BaseException, node: Node, abs_path: Path, root: Path,
                what: str = "") -> SparkModelsError:
    """Any exception from user code as one located paragraph (no Py4J stack)."""
    line = _line_in(exc, abs_path)
    if isinstance(exc, SparkModelsError):
        return exc.located(node=node.name, path=node.path, line=line)
    if is_spark_error(exc):
        worker = python_worker_error(exc, node, root)
        if worker is not None:
            return worker
        err = spark_error(exc, node, CompiledNode("", ()))
        err.path, err.line = node.path, line
        return err
    return ExecutionError(f"{what}{type(exc).__name__}: {exc}", node=node.name, path=node.path, line=line)


# -- Python models ---------------------------------------------------------------------------
class ModelConfig:
    """`ctx.config`: read the node's config (`ctx.config.get('k')`); calling it is a no-op at run time.

    `ctx.config(materialized='table')` is read from the file's AST when the project loads.
    """

    def __init__(self, config: Mapping):
        self._config = config

    def __call__(self, **_kwargs) -> str:
        return ""

    def get(self, key: str, default=None):
        return thaw(self._config.get(key, default))

    def __getitem__(self, key: str):
        return thaw(self._config[key])

    def __contains__(self, key: str) -> bool:
        return key in self._config


class ModelContext:
    """The `ctx` a Python model's `model(ctx)` receives."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, node: Node, *,
                 inputs: Mapping[tuple, str] | None = None, variables: Mapping | None = None):
        self._engine = engine
        self._manifest = manifest
        self._project = config
        self._node = node
        # A unit test replaces each ref()/source() by a temp view of given rows, keyed
        # ("ref", name) or ("source", source, table), and may override vars.
        self._inputs = inputs
        self._vars = config.vars if variables is None else variables
        self.config = ModelConfig(node.config)
        self.this = PlainRelation(node.name, schema_for(config, node.config))

    @property
    def spark(self):
        return self._engine.spark

    def _upstream(self, kind: str, args: tuple[str, ...]) -> Node:
        nodes = self._manifest.nodes
        for uid in self._node.depends_on:
            dep = nodes[uid]
            if kind == "ref" and dep.resource_type in ("model", "seed", "snapshot") and dep.name == args[0]:
                return dep
            if kind == "source" and dep.resource_type == "source" and (dep.source_name, dep.name) == args:
                return dep
        shown = f"ref('{args[0]}')" if kind == "ref" else f"source('{args[0]}', '{args[1]}')"
        raise ExecutionError(
            f"ctx.{shown} was not found when the file was scanned, so it is not a dependency.",
            hint=f"Call ctx.{kind}() directly with literal strings, e.g. ctx.{shown}.")

    def ref(self, name: str, version=None):
        """The upstream model or seed as a DataFrame."""
        dep = self._upstream("ref", (name,))
        if self._engine.kinds.of(dep).inlined:
            raise ExecutionError(
                f"ctx.ref('{name}'): '{name}' is ephemeral, and ephemeral models cannot be read from "
                "Python models.", hint=f"Materialize '{name}' as a view or table.")
        return self._read(("ref", name), relation_name(dep))

    def source(self, source_name: str, table_name: str):
        """A declared source table as a DataFrame."""
        dep = self._upstream("source", (source_name, table_name))
        return self._read(("source", source_name, table_name), relation_name(dep))

    def _read(self, key: tuple, relation: str):
        if self._inputs is None:
            return self._engine.spark.table(relation)
        if key not in self._inputs:
            shown = f"ref('{key[1]}')" if key[0] == "ref" else f"source('{key[1]}', '{key[2]}')"
            raise ExecutionError(f"the unit test gives no rows for {shown}, which the model reads.",
                                 hint="Add it under given: (rows: [] for an empty input).")
        return self._engine.spark.table(f"`{self._inputs[key]}`")

    def var(self, name: str, default=_MISSING):
        """A project/--vars variable, as var() in SQL models."""
        variables = self._vars
        if name in variables:
            return thaw(variables[name])
        if default is _MISSING:
            raise ExecutionError(f"required var '{name}' is not set." + did_you_mean(name, variables),
                                 hint="Set it under vars: in project.yml or with --vars.")
        return default

    def is_incremental(self) -> bool:
        """True while an incremental model builds on its existing table (as is_incremental() in SQL)."""
        return bool(getattr(self._engine, "incremental", {}).get(self._node.unique_id, False))

    def map_batches(self, df, fn, schema: str):
        """sparkmodels.udfs.map_batches: fn over each partition's batches as pandas DataFrames."""
        return map_batches(df, fn, schema)


def python_model_dataframe(engine, manifest: Manifest, config: ProjectConfig, step: PlanStep):
    """Execute a Python model file and return the DataFrame its model(ctx) builds."""
    return model_dataframe(engine, manifest, config, step.node)


def model_dataframe(engine, manifest: Manifest, config: ProjectConfig, node: Node, *,
                    inputs: Mapping[tuple, str] | None = None, variables: Mapping | None = None):
    """Run a Python model's model(ctx); `inputs`/`variables` replace its upstreams and vars (unit tests)."""
    abs_path = (config.root / node.path).resolve()
    try:
        namespace = _exec_file(node.raw_code, abs_path, f"sparkmodels_model_{node.name}")
    except Exception as exc:  # noqa: BLE001 - user code
        raise _user_error(exc, node, abs_path, config.root, "while loading the file: ") from None
    model = namespace.get("model")
    if not callable(model):
        raise ExecutionError("a Python model must define `def model(ctx):` returning a DataFrame.",
                             node=node.name, path=node.path, line=1)
    ctx = ModelContext(engine, manifest, config, node, inputs=inputs, variables=variables)
    code = getattr(model, "__code__", None)
    args = (ctx, engine.spark) if code is not None and code.co_argcount >= 2 else (ctx,)
    try:
        df = model(*args)
    except Exception as exc:  # noqa: BLE001 - user code
        raise _user_error(exc, node, abs_path, config.root) from None
    if not (hasattr(df, "createOrReplaceTempView") and hasattr(df, "schema")):
        raise ExecutionError(f"model() must return a Spark DataFrame, but returned {type(df).__name__}.",
                             node=node.name, path=node.path,
                             line=code.co_firstlineno if code is not None else None)
    return df


# -- Python UDFs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedUdf:
    """A decorated function found in a UDF file."""

    spec: UdfSpec
    func: object
    path: str  # relative to the project root
    line: int | None


def udf_files(config: ProjectConfig) -> list[Path]:
    """UDF files under udf-paths (files starting with '_' or '.' are skipped)."""
    out = []
    for rel in config.udf_paths:
        base = config.root / rel
        if base.is_dir():
            out.extend(p for p in sorted(base.rglob("*.py"))
                       if not any(part.startswith(("_", ".")) for part in p.relative_to(base).parts))
    return out


def load_udfs(config: ProjectConfig) -> list[LoadedUdf]:
    """Import every UDF file (user code: execution time only) and collect its decorated functions."""
    found: dict[str, LoadedUdf] = {}
    for path in udf_files(config):
        rel = path.relative_to(config.root).as_posix()
        abs_path = path.resolve()
        try:
            namespace = _exec_file(path.read_text(encoding="utf-8"), abs_path,
                                   f"sparkmodels_udfs.{rel[:-3].replace('/', '.')}")
        except Exception as exc:  # noqa: BLE001 - user code
            raise ExecutionError(f"loading the UDF file failed: {type(exc).__name__}: {exc}",
                                 path=rel, line=_line_in(exc, abs_path)) from None
        seen: set[int] = set()
        for value in namespace.values():
            spec = spec_of(value)
            if spec is None or id(value) in seen:
                continue
            seen.add(id(value))
            code = getattr(value, "__code__", None)
            line = code.co_firstlineno if code is not None else None
            if spec.name in found:
                other = found[spec.name]
                raise ProjectError(f"two UDFs are named '{spec.name}': {other.path}:{other.line} and "
                                   f"{rel}:{line}.", path=rel, line=line)
            found[spec.name] = LoadedUdf(spec, value, rel, line)
    return list(found.values())


def spark_udf(spec: UdfSpec, func):
    """The pyspark UDF object for a spec.

    The default form (arrow) of a deterministic UDF with arguments is a scalar Arrow UDF that calls
    func once per distinct argument tuple of each batch (distinct_udf.py); deterministic=False (or
    a function of no arguments) keeps pyspark's Arrow-optimised row UDF, one call per row. arrow=False
    is the classic pickled row UDF, vectorized=True a pandas UDF.
    """
    from pyspark.sql.functions import arrow_udf, pandas_udf
    from pyspark.sql.functions import udf as row_udf

    if spec.form == "pandas":
        made = pandas_udf(func, spec.returns)
    elif spec.form == "arrow" and spec.deterministic and _takes_arguments(func):
        from sparkmodels.execute.python.distinct_udf import DistinctCalls

        calls = DistinctCalls(func, None)
        made = arrow_udf(calls, spec.returns)
        calls.return_type = made.returnType  # parsed by the session; raises here for a bad DDL
    else:
        made = row_udf(func, spec.returns, useArrow=spec.form == "arrow")
    return made if spec.deterministic else made.asNondeterministic()


def _takes_arguments(func) -> bool:
    """Scalar Arrow UDFs need at least one input column to know a batch's length."""
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def register_udfs(engine, config: ProjectConfig) -> list[str]:
    """Register the project's UDFs in the engine's session; returns their names."""
    names = []
    for item in load_udfs(config):
        try:
            engine.spark.udf.register(item.spec.name, spark_udf(item.spec, item.func))
        except Exception as exc:  # noqa: BLE001 - a bad return type is the usual cause
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ProjectError(f"UDF '{item.spec.name}' (returns '{item.spec.returns}') could not be "
                               f"registered: {first}", path=item.path, line=item.line,
                               hint="returns= must be a Spark DDL type such as 'string' or "
                               "'struct<a:int,b:string>'.") from None
        names.append(item.spec.name)
    return names


# -- errors from Spark's Python workers ------------------------------------------------------
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def python_worker_error(exc: BaseException, node: Node, root: Path) -> ExecutionError | None:
    """A PythonException from a UDF or map_batches function, located at the user's file and line."""
    if "PythonException" not in {c.__name__ for c in type(exc).__mro__}:
        return None
    text = str(exc)
    tail = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    cause = tail[-1] if tail else "the Python worker failed"
    root = root.resolve()
    where, path, line = "", node.path, None
    for file, lineno, func in _FRAME.findall(text):
        p = Path(file)
        if p.is_relative_to(root):
            path, line, where = p.relative_to(root).as_posix(), int(lineno), f" in {func}()"
    return ExecutionError(f"Python code failed in a Spark worker{where}: {cause}",
                          node=node.name, path=path, line=line)


__all__ = ["ModelContext", "model_dataframe", "python_model_dataframe", "load_udfs", "register_udfs", "spark_udf",
           "python_worker_error", "udf_files"]
