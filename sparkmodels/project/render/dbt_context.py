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


class Column:
    """dbt-spark's `api.Column` at load time: type translation and quoting."""

    # dbt-spark's SparkColumn.TYPE_LABELS: only `long` is renamed; every other type passes through.
    TYPE_LABELS = {"LONG": "BIGINT"}

    def __init__(self, column: str, dtype: str | None = None):
        self.column, self.name, self.dtype = column, column, dtype

    @classmethod
    def translate_type(cls, dtype: str) -> str:
        return cls.TYPE_LABELS.get(str(dtype).upper(), dtype)

    @classmethod
    def create(cls, name: str, label_or_dtype: str) -> Column:
        return cls(name, cls.translate_type(label_or_dtype))

    @property
    def quoted(self) -> str:
        return f"`{self.column}`"

    @property
    def data_type(self) -> str | None:
        return self.dtype


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
        "api": SimpleNamespace(Column=Column),
        "modules": modules,
        "fromjson": _fromjson, "tojson": _tojson, "fromyaml": _fromyaml, "toyaml": _toyaml,
        "zip": _zip, "set": _set, "local_md5": _local_md5, "print": _print,
        "invocation_id": invocation_id or str(uuid.uuid4()),
        "flags": flags(),
    }
