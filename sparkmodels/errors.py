"""The error hierarchy: every user-facing failure is a SparkModelsError carrying node, path and line."""

from __future__ import annotations


class SparkModelsError(Exception):
    """Root of all sparkmodels errors; renders as one paragraph naming node, file and line."""

    kind = "Error"

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.path = path
        self.line = line
        self.hint = hint

    def located(self, *, node: str | None = None, path: str | None = None, line: int | None = None):
        """Fill in location fields that are still unknown; returns self for chaining."""
        self.node = self.node or node
        self.path = self.path or path
        self.line = self.line or line
        return self

    @property
    def location(self) -> str:
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        head = self.kind
        if self.node:
            head += f" in {self.node}"
        if self.location:
            head += f" ({self.location})"
        text = f"{head}: {self.message}"
        if self.hint:
            text += f" {self.hint}"
        return text


class ProjectError(SparkModelsError):
    """project.yml, targets, schema YAML or file layout is wrong."""

    kind = "Project error"


class CompilationError(SparkModelsError):
    """A Jinja template, ref() or source() could not be rendered."""

    kind = "Compilation error"


class GraphError(SparkModelsError):
    """The dependency graph is invalid (cycles)."""

    kind = "Graph error"


class SelectionError(SparkModelsError):
    """A selector could not be parsed."""

    kind = "Selection error"


class UsageError(SparkModelsError):
    """Options that cannot be used as given (an unknown option, --defer without --state)."""

    kind = "Usage error"


class ExecutionError(SparkModelsError):
    """Spark rejected or failed a model's statement."""

    kind = "Runtime error"


class EnvironmentProblem(SparkModelsError):
    """Java, Spark or the target cannot be used on this machine."""

    kind = "Environment error"


class WarehouseError(SparkModelsError):
    """A table cannot be written safely: a path outside the warehouse, a foreign folder, a concurrent publish."""

    kind = "Warehouse error"


def did_you_mean(name: str, candidates) -> str:
    """A ' Did you mean ...?' suffix for the closest candidate names, or ''."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
