"""The materialisation protocol, its result, the registry, and Spark error translation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sparkmodels.errors import ExecutionError, ProjectError
from sparkmodels.plan.compiler import CompiledNode
from sparkmodels.project.manifest import Node


@dataclass(frozen=True)
class StepContext:
    """What a materialisation gets: the node, its compiled code, where it goes, and the engine."""

    node: Node
    compiled: CompiledNode
    schema: str
    engine: Any
    dataframe: Callable[[], Any]  # builds the model's DataFrame (SQL or Python)


@dataclass(frozen=True)
class MaterializationResult:
    """What happened: a verb for the console ('created table'), rows written, and extras."""

    message: str
    rows: int | None = None
    extra: dict = field(default_factory=dict)


class Materialization(Protocol):
    name: str

    def execute(self, ctx: StepContext) -> MaterializationResult: ...


class Registry:
    """Materialisations by name; a model naming an unknown one gets a located error."""

    def __init__(self) -> None:
        self._items: dict[str, Materialization] = {}

    def register(self, item: Materialization) -> None:
        self._items[item.name] = item

    def get(self, name: str, node: Node) -> Materialization:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items) + ["ephemeral"])
            raise ProjectError(f"unknown materialization '{name}'; known: {known}.",
                               node=node.name, path=node.path) from None


registry = Registry()

_LINE = re.compile(r"line (\d+),? pos(?:ition)? (\d+)", re.I)
_SQL_BLOCK = re.compile(r"\n== SQL.*", re.S)


def spark_error(exc: BaseException, node: Node, compiled: CompiledNode) -> ExecutionError:
    """A Spark exception as a one-paragraph ExecutionError at the model's source line."""
    text = str(exc)
    line = None
    ctx = []
    getter = getattr(exc, "getQueryContext", None)
    if callable(getter):
        try:
            ctx = getter() or []
        except Exception:  # noqa: BLE001
            ctx = []
    for qc in ctx:
        start = _call(qc, "startIndex")
        if isinstance(start, int) and start >= 0 and compiled.sql:
            line = compiled.sql.count("\n", 0, start) + 1
            break
    if line is None:
        m = _LINE.search(text)
        if m:
            line = int(m.group(1))
    message = _SQL_BLOCK.sub("", text).strip()
    message = re.sub(r"\s*\n\s*", " ", message)
    if len(message) > 600:
        message = message[:600] + "..."
    src_line = compiled.source_line(line) if node.language == "sql" else line
    return ExecutionError(message, node=node.name, path=node.path, line=src_line)


def _call(obj, name):
    attr = getattr(obj, name, None)
    try:
        return attr() if callable(attr) else attr
    except Exception:  # noqa: BLE001
        return None
