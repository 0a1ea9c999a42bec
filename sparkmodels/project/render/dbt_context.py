"""dbt's load-time Jinja globals: api.Column, modules, fromjson/tojson/fromyaml/toyaml, zip, set, flags...

Each behaves as dbt's own (dbt-core's context/base.py): the conversion helpers return `default`
instead of raising on bad input, `print` writes to stdout and renders nothing, `local_md5` is the
hex md5 of a string. `invocation_id` is one uuid per loaded project.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import yaml

from sparkmodels.project.render.introspect import Relation


class Column:
    """dbt-spark's `api.Column`, at load time and in run-time introspection (get_columns_in_relation):
    type translation, quoting and dbt's type predicates. Spark's `string` counts as a string type,
    `decimal(p,s)` as numeric (dbt's base Column knows only other warehouses' spellings)."""

    # dbt-spark's SparkColumn.TYPE_LABELS: only `long` is renamed; every other type passes through.
    TYPE_LABELS = {"LONG": "BIGINT"}
    _STRINGS = ("string", "text", "character varying", "character", "varchar", "char")
    _INTEGERS = ("signed", "unsigned", "integer", "int", "bigint", "smallint", "tinyint", "long", "short", "byte")
    _FLOATS = ("real", "float4", "float", "double precision", "float8", "double")

    def __init__(self, column: str, dtype: str | None = None, char_size: int | None = None,
                 numeric_precision: int | None = None, numeric_scale: int | None = None, **_ignored):
        self.column, self.name, self.dtype = column, column, dtype
        self.char_size, self.numeric_precision, self.numeric_scale = char_size, numeric_precision, numeric_scale

    @classmethod
    def translate_type(cls, dtype: str) -> str:
        return cls.TYPE_LABELS.get(str(dtype).upper(), dtype)

    @classmethod
    def create(cls, name: str, label_or_dtype: str) -> Column:
        return cls(name, cls.translate_type(label_or_dtype))

    @property
    def quoted(self) -> str:
        return "`" + str(self.column).replace("`", "``") + "`"

    @property
    def data_type(self) -> str | None:
        return self.dtype

    def _base(self) -> str:
        return str(self.dtype or "").lower().split("(")[0].strip()

    def is_string(self) -> bool:
        return self._base() in self._STRINGS

    def is_integer(self) -> bool:
        return self._base() in self._INTEGERS

    def is_float(self) -> bool:
        return self._base() in self._FLOATS

    def is_numeric(self) -> bool:
        return self._base() in ("numeric", "decimal", "dec")

    def is_number(self) -> bool:
        return self.is_integer() or self.is_float() or self.is_numeric()

    def string_size(self) -> int:
        if not self.is_string():
            raise ValueError(f"Called string_size() on non-string field: {self.name} {self.dtype}")
        return 256 if self.char_size is None else int(self.char_size)

    def can_expand_to(self, other: Column) -> bool:
        return self.is_string() and other.is_string() and self.string_size() < other.string_size()

    def literal(self, value) -> str:
        return f"cast({value} as {self.dtype})"

    def __repr__(self) -> str:
        return f"<Column {self.name} ({self.dtype})>"


def _tojson(value, default=None, sort_keys=False):
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except (TypeError, ValueError):
        return default


def _fromjson(string, default=None):
    try:
        return json.loads(string)
    except (TypeError, ValueError):
        return default


def _toyaml(value, default=None, sort_keys=False):
    try:
        return yaml.safe_dump(_plain(value), sort_keys=sort_keys)
    except yaml.YAMLError:
        return default


def _fromyaml(value, default=None):
    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, AttributeError):
        return default


def _plain(value):
    """Frozen mappings/tuples (vars are frozen) as dicts/lists, which yaml.safe_dump can write."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _set(value, default=None):
    try:
        return set(value)
    except TypeError:
        return default


def _zip(*args, default=None):
    try:
        return zip(*args)  # noqa: B905 - dbt's zip: plain zip()
    except TypeError:
        return default


def _local_md5(value) -> str:
    return hashlib.md5(str(value).encode("utf-8")).hexdigest()  # noqa: S324 - dbt's name: not security


def _print(msg) -> str:
    print(msg)
    return ""


def flags(full_refresh: bool = False, which: str = "compile", project: Mapping | None = None) -> SimpleNamespace:
    """dbt's `flags` as models read them at load time; project: dbt_project.yml's `flags:` on top."""
    out = SimpleNamespace(FULL_REFRESH=full_refresh, STORE_FAILURES=False, WHICH=which, DEBUG=False,
                          FAIL_FAST=False, WARN_ERROR=False, USE_COLORS=True, INTROSPECT=True,
                          STATE_MODIFIED_COMPARE_MORE_UNRENDERED_VALUES=False)
    for key, value in (project or {}).items():
        setattr(out, str(key).upper(), value)
    return out


def constants(invocation_id: str | None = None) -> dict[str, Any]:
    """The globals every render sees (the ones that do not depend on the node being rendered)."""
    modules = SimpleNamespace(datetime=datetime, re=re, itertools=itertools)
    try:
        import pytz  # dbt offers it; only when installed

        modules.pytz = pytz
    except ImportError:
        pass
    return {
        "api": SimpleNamespace(Column=Column, Relation=Relation),
        "modules": modules,
        "fromjson": _fromjson, "tojson": _tojson, "fromyaml": _fromyaml, "toyaml": _toyaml,
        "zip": _zip, "set": _set, "local_md5": _local_md5, "print": _print,
        "invocation_id": invocation_id or str(uuid.uuid4()),
        "flags": flags(),
    }
