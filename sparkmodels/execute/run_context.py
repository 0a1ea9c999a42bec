"""A minimal run-time Jinja context for hooks and run-operation: `run_query`, `this`, `execute`, logging.

TO BE REPLACED by runtime18's context (sparkmodels/execute/runtime/: Relation-returning ref/this,
adapter, run_query, statement/load_result), which was not on main when hooks and run-operation were
written. Everything hooks and operations need from a run-time render comes from `RunContext.extra()`,
so switching is one change in execute/hooks.py (`render_hook`) and execute/operations.py.

`run_query(sql)` runs one statement in the run's session and returns a `Table` with dbt's usual
access (`.rows`, `.columns`, `.column_names`, `columns[0].values()`, `rows[0][0]`, `print_table()`);
a SQL error is an ExecutionError, which the render locates at the template line that called it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sparkmodels.errors import ExecutionError


class Column:
    """One column of a Table: its name and values (dbt's agate column: `.values()`, `.name`)."""

    def __init__(self, name: str, values: Sequence):
        self.name = name
        self._values = tuple(values)

    def values(self) -> tuple:
        return self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class Table:
    """run_query's result: rows (tuples, also readable by column name) and columns."""

    def __init__(self, names: Sequence[str], rows: Sequence[Sequence]):
        self.column_names = tuple(names)
        self.rows = tuple(Row(self.column_names, r) for r in rows)
        self.columns = _Columns(Column(n, [r[i] for r in self.rows]) for i, n in enumerate(self.column_names))

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def print_table(self, max_rows: int = 20, **_ignored) -> str:
        lines = [" | ".join(self.column_names)]
        lines += [" | ".join("null" if v is None else str(v) for v in r) for r in self.rows[:max_rows]]
        print("\n".join(lines))  # noqa: T201 - dbt's print_table prints
        return ""


class Row(tuple):
    """A row: by position (`row[0]`) or by column name (`row['n']`, `row.n`)."""

    def __new__(cls, names: Sequence[str], values: Sequence):
        obj = super().__new__(cls, tuple(values))
        obj._names = tuple(names)
        return obj

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str):
        try:
            return self[name]
        except ValueError:
            raise AttributeError(name) from None

    def keys(self) -> tuple[str, ...]:
        return self._names

    def values(self) -> tuple:
        return tuple(self)

    def dict(self) -> dict:
        return dict(zip(self._names, self, strict=True))


class _Columns(tuple):
    """Columns by position or by name (`table.columns['n']`)."""

    def __new__(cls, columns):
        return super().__new__(cls, tuple(columns))

    def __getitem__(self, key):
        if isinstance(key, str):
            for column in self:
                if column.name == key:
                    return column
            raise KeyError(key)
        return tuple.__getitem__(self, key)


class RunContext:
    """The run-time additions to a render: run_query over the session, execute=True, log printing."""

    def __init__(self, run_sql: Callable[[str], Any], *, log: Callable[[str], None] | None = None):
        self._run_sql = run_sql  # one statement -> a DataFrame
        self._log = log

    def run_query(self, sql) -> Table:
        text = str(sql).strip().rstrip(";")
        try:
            df = self._run_sql(text)
            rows = df.collect()
            names = [f.name for f in df.schema.fields]
        except ExecutionError:
            raise
        except Exception as exc:  # noqa: BLE001 - Spark's error, located at the call
            from sparkmodels.execute.spark.failures import plain_message

            raise ExecutionError(f"run_query failed: {plain_message(str(exc))}") from None
        return Table(names, [tuple(r) for r in rows])

    def log(self, msg, info: bool = False) -> str:
        if self._log is not None:
            self._log(str(msg))
        return ""

    def extra(self) -> dict:
        """Context entries for Renderer.render(extra=...)."""
        return {"run_query": self.run_query, "execute": True, "log": self.log}
