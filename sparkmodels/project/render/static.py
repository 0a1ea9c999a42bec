"""Static rendering: models whose only Jinja is literal calls such as `{{ ref('x') }}`, without Jinja.

dbt's static parser does the same for ref/source/config. Compiling a Jinja template (parse, code
generation, Python `compile()`) costs ~1 ms per file, most of a 5,000-model compile. A template whose
tags are all calls with literal arguments - ref, source, config, var, env_var, a project macro - or
`{{ this }}` gives the same output when the calls are made directly, in order, and their values
joined with the text between tags (Jinja writes `str(value)` for each `{{ }}`).

`plan()` only accepts what it can evaluate exactly like Jinja and returns None for anything else:
blocks `{% %}`, whitespace control (`{{-`, `-}}`), filters, operators, names other than `this`,
strings with backslashes, tags spanning lines except a `config(...)` call (the only call that
records no line). The caller renders those with Jinja, and also falls back to Jinja when a static
call raises, so error messages stay Jinja's.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# A string literal without backslashes or newlines: its value is its text, in Jinja as here.
_STR = r"'[^'\\\n]*'" "|" r'"[^"\\\n]*"'
_TOKEN = re.compile(rf"""
    \s*(?:
      (?P<str>{_STR})
    | (?P<num>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?)(?![\w.])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>[()\[\]{{}},:=.])
    )""", re.X)
# The common shapes, ref('x') / source('a', 'b') / var('x'), without the general parser (same result).
_SIMPLE = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\(\s*({_STR})\s*(?:,\s*({_STR})\s*)?\)\s*\Z")
_CONSTANTS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None}
_TAG_TEXT = ("{{", "{%", "{#")


@dataclass(frozen=True)
class Call:
    """One `{{ name(args) }}` tag (name None: the tag is `{{ this }}`) and its 1-based source line."""

    name: str | None
    args: tuple
    kwargs: tuple
    line: int


@dataclass(frozen=True)
class Nested:
    """A macro call used as an argument (`dbt.safe_cast('x', dbt.type_string())`): made before the call."""

    name: str
    args: tuple
    kwargs: tuple


class _Reject(Exception):
    pass


class _Parser:
    def __init__(self, text: str):
        self.tokens = []
        pos = 0
        for m in _TOKEN.finditer(text):
            if m.start() != pos:
                raise _Reject  # a character no token matches
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        if text[pos:].strip():
            raise _Reject
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise _Reject
        self.i += 1
        return tok

    def literal(self):
        kind, value = self.take()
        if kind == "str":
            return value[1:-1]
        if kind == "num":
            # Jinja folds `-7` as the negation of the constant 7.
            neg, digits = value.startswith("-"), value.lstrip("-")
            number = float(digits) if "." in digits else int(digits)
            return -number if neg else number
        if kind == "name" and value in _CONSTANTS:
            return _CONSTANTS[value]
        if kind == "name" and self.peek() in (("op", "("), ("op", ".")):
            self.i -= 1
            return Nested(*self.call_expr())
        if value == "[":
            return self.sequence("]", self.literal)
        if value == "{":
            return dict(self.sequence("}", self.pair))
        raise _Reject

    def pair(self):
        key = self.literal()
        if isinstance(key, (list, dict)):
            raise _Reject
        self.take("op", ":")
        return key, self.literal()

    def sequence(self, close: str, item) -> list:
        items: list = []
        while self.peek() != ("op", close):
            if items:
                self.take("op", ",")  # Jinja allows a trailing comma
                if self.peek() == ("op", close):
                    break
            items.append(item())
        self.take("op", close)
        return items

    def call(self) -> tuple[str | None, tuple, tuple]:
        if self.tokens == [("name", "this")]:
            return None, (), ()
        out = self.call_expr()
        if self.peek() != (None, None):
            raise _Reject
        return out

    def call_expr(self) -> tuple[str, tuple, tuple]:
        """`name(...)` or `package.name(...)` with literal (or nested call) arguments."""
        _, name = self.take("name")
        if self.peek() == ("op", "."):
            self.i += 1
            name = f"{name}.{self.take('name')[1]}"
        self.take("op", "(")
        args, kwargs = [], {}
        while self.peek() != ("op", ")"):
            if args or kwargs:
                self.take("op", ",")
                if self.peek() == ("op", ")"):
                    break
            kind, value = self.peek()
            if kind == "name" and value not in _CONSTANTS and not keyword.iskeyword(value) and self.tokens[self.i + 1:self.i + 2] == [("op", "=")]:
                self.i += 2
                if value in kwargs:
                    raise _Reject
                kwargs[value] = self.literal()
            elif kwargs:
                raise _Reject  # a positional argument after a keyword one
            else:
                args.append(self.literal())
        self.take("op", ")")
        return name, tuple(args), tuple(kwargs.items())


def plan(parts: list[str]) -> list | None:
    """(text, first line) pieces and Calls of a template split by render._TAG, or None if Jinja
    must render it."""
    out: list = []
    line = 1
    for i, part in enumerate(parts):
        if i % 2 == 0:
            # Jinja normalises "\r" in text; an unmatched tag start is Jinja's to report.
            if "\r" in part or ("{" in part and any(t in part for t in _TAG_TEXT)):
                return None
            if part:
                out.append((part, line))
        elif part.startswith("{#"):
            if part[2:3] in ("-", "+") or part.endswith("-#}"):
                return None  # whitespace control
        elif part.startswith("{{"):
            call = _parse_tag(part[2:-2], line)
            if call is None:
                return None
            out.append(call)
        else:
            return None
        line += part.count("\n")
    return out


def _parse_tag(body: str, line: int) -> Call | None:
    m = _SIMPLE.match(body)
    if m:
        name = m.group(1)
        args = (m.group(2)[1:-1],) if m.group(3) is None else (m.group(2)[1:-1], m.group(3)[1:-1])
        kwargs: tuple = ()
    else:
        try:
            name, args, kwargs = _Parser(body).call()
        except _Reject:
            return None  # also `{{-`, `-}}` and `{{+`: no token matches the sign
    if "\n" in body and name != "config":
        return None  # Jinja reports the line of a call's `(`; only config() records no line
    return Call(name, args, kwargs, line)


def _lookup(name: str, ctx: Mapping, allowed):
    """The function a (possibly dotted) call name means in ctx, if the plan may call it directly."""
    head, _, attr = name.partition(".")
    fn = ctx.get(head)
    if attr and fn is not None:
        fn = getattr(fn, attr, None)
    if fn is None or not allowed(name, fn):
        raise _Reject
    return fn


def _value(v, ctx, allowed):
    if type(v) is Nested:
        return _call(v, ctx, allowed)
    if type(v) is list:
        return [_value(x, ctx, allowed) for x in v]
    if type(v) is dict:
        return {k: _value(x, ctx, allowed) for k, x in v.items()}
    return v


def _call(step, ctx: Mapping, allowed):
    fn = _lookup(step.name, ctx, allowed)
    args = [_value(a, ctx, allowed) for a in step.args]
    return fn(*args, **{k: _value(v, ctx, allowed) for k, v in step.kwargs})


def run(steps: list, ctx: Mapping, allowed: Callable[[str, Any], bool], rec) -> tuple[str, tuple[int, ...]] | None:
    """Make a plan's calls in order: (text, line map), or None if a call is not allowed or raises.

    The line map is the one render.strip_line_markers derives from Jinja's output: every newline of
    the template text ends an output line with its source line (and the lines a call's value ended
    before it); newlines inside a call's value end lines that take the next text newline's line.
    """
    out: list[str] = []
    mapping: list[int] = []
    pending = 0  # output lines ended by newlines of call values since the last text newline
    last = 1
    for step in steps:
        if type(step) is tuple:
            text, line = step
            out.append(text)
            n = text.count("\n")
            if n:
                mapping.extend([line] * (pending + 1))
                mapping.extend(range(line + 1, line + n))
                last, pending = line + n - 1, 0
            continue
        if step.name is None:
            value = str(ctx["this"])
        else:
            rec.static_line = step.line  # the line ref() records, as Jinja's frame would give
            try:
                value = str(_call(step, ctx, allowed))
            except Exception:  # noqa: BLE001 - not allowed, or raised: Jinja renders it again and reports it
                return None
        out.append(value)
        pending += value.count("\n")
    pending += 1  # the last output line
    mapping.extend([last + 1 if mapping else last] * pending)
    return "".join(out), tuple(mapping)
