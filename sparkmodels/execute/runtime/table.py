"""run_query's result: a small agate-like table (`.rows`, `.columns`, `.column_names`, `print_table()`).

dbt hands macros an agate.Table; the parts dbt macros and projects use are here: `rows[0][0]`,
`rows[0]['n']`, `columns[0].values()`, `columns['n']`, `column_names`, iteration and len().
"""

from __future__ import annotations

from collections.abc import Sequence


class Column:
    """One column of a Table: its name and values (agate's `.values()`, `.name`)."""

    def __init__(self, name: str, values: Sequence, data_type: str | None = None):
        self.name = name
        self.data_type = data_type
        self._values = tuple(values)

    def values(self) -> tuple:
        return self._values

    def values_distinct(self) -> tuple:
        return tuple(dict.fromkeys(self._values))

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index):
        return self._values[index]


class Row(tuple):
    """A row: by position (`row[0]`) or by column name (`row['n']`, `row.n`)."""

    def __new__(cls, names: Sequence[str], values: Sequence):
        obj = super().__new__(cls, tuple(values))
        obj._names = tuple(names)
        return obj

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def keys(self) -> tuple[str, ...]:
        return self._names

    def values(self) -> tuple:
        return tuple(self)

    def items(self):
        return zip(self._names, self, strict=True)

    def dict(self) -> dict:
        return dict(self.items())


class _Columns(tuple):
    """Columns by position or by name (`table.columns['n']`)."""

    def __getitem__(self, key):
        if isinstance(key, str):
            for column in self:
                if column.name == key:
                    return column
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self)

    def items(self):  # agate's MappedSequence: (name, column) pairs (dbt_utils.get_query_results_as_dict)
        return [(c.name, c) for c in self]

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


class Table:
    """A query's rows (tuples, also readable by column name) and columns."""

    def __init__(self, names: Sequence[str], rows: Sequence[Sequence], types: Sequence[str] | None = None):
        self.column_names = tuple(names)
        self.column_types = tuple(types or (None,) * len(self.column_names))
        self.rows = tuple(Row(self.column_names, r) for r in rows)
        self.columns = _Columns(Column(n, [r[i] for r in self.rows], self.column_types[i])
                                for i, n in enumerate(self.column_names))

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __bool__(self) -> bool:
        return True  # an empty result is still a result (agate's Table is always truthy)

    def print_table(self, max_rows: int = 20, max_columns: int = 6, **_ignored) -> str:
        lines = [" | ".join(self.column_names[:max_columns])]
        lines += [" | ".join("null" if v is None else str(v) for v in r[:max_columns]) for r in self.rows[:max_rows]]
        print("\n".join(lines))  # noqa: T201 - agate's print_table prints
        return ""

    def to_dict(self) -> dict:
        return {n: list(c.values()) for n, c in zip(self.column_names, self.columns, strict=True)}
