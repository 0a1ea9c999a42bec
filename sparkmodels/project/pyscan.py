"""Python model scanning: find ctx.ref/ctx.source/ctx.config calls by AST, never importing user code."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from sparkmodels.errors import CompilationError
from sparkmodels.project.kinds import BUILTIN
from sparkmodels.project.manifest import RefCall


@dataclass
class ScannedPythonModel:
    calls: tuple[RefCall, ...] = ()
    config: dict = field(default_factory=dict)
    vars_used: tuple[str, ...] = ()


def _literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def scan_python_model(source: str, path: str) -> ScannedPythonModel:
    """Dependencies and config of a Python model, from literal ctx.ref()/source()/config() calls."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise CompilationError(f"Python syntax error: {exc.msg}.", path=path, line=exc.lineno) from None
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "model"), None)
    if func is None or not func.args.args:
        raise CompilationError("a Python model must define `def model(ctx):` returning a DataFrame.",
                               path=path, line=1)
    ctx_name = func.args.args[0].arg
    calls: list[RefCall] = []
    config: dict = {}
    vars_used: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id == ctx_name):
            continue
        method = node.func.attr
        if method in ("ref", "source"):
            args = [_literal(a) for a in node.args]
            want = 1 if method == "ref" else 2
            if len(args) != want or not all(isinstance(a, str) for a in args) or node.keywords and method == "source":
                raise CompilationError(
                    f"{ctx_name}.{method}() must be called with literal string arguments "
                    f"so dependencies can be found without running the model.",
                    path=path, line=node.lineno,
                )
            calls.append(RefCall(method, tuple(args), node.lineno))
        elif method == "config":
            for kw in node.keywords:
                value = _literal(kw.value)
                if kw.arg is None or (value is None and not isinstance(kw.value, ast.Constant)):
                    raise CompilationError(f"{ctx_name}.config() needs literal keyword arguments.",
                                           path=path, line=node.lineno)
                if kw.arg == "materialized" and BUILTIN.named(str(value)).inlined:
                    raise CompilationError("Python models cannot be ephemeral (they cannot be inlined into SQL); "
                                           "use 'view' or 'table'.", path=path, line=node.lineno)
                config[kw.arg] = value
        elif method == "var" and node.args and isinstance(_literal(node.args[0]), str):
            vars_used.append(_literal(node.args[0]))
    return ScannedPythonModel(tuple(calls), config, tuple(sorted(set(vars_used))))
