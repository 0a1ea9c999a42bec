"""Line markers: invisible characters that carry source line numbers through a Jinja render.

Each newline outside Jinja tags and captured blocks gets a marker naming its source line; after
rendering, the markers are stripped and give, per output line, the line of the file it came from.
"""

from __future__ import annotations

import re

_MARK_OPEN, _MARK_CLOSE = "\ue002", "\ue003"
_MARKER = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")
_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.S)
# A tag ends at the first closing `}}`/`%}` outside its string literals: a hook in a model's config,
# `config(post_hook="grant ... {{ this }}")`, holds a `}}` of its own (rendered when the hook runs).
# Three times slower than _TAG, so used only for the templates _TAG cuts inside a string.
_STR = r"'(?:[^'\\]|\\.)*'" + "|" + r'"(?:[^"\\]|\\.)*"'  # a Jinja string literal
# One way only to read each character (no nested quantifiers): no catastrophic backtracking.
_QUOTED_TAG = re.compile(r"(\{\{(?:[^'\"}]|" + _STR + r"|\}(?!\}))*?\}\}"
                         r"|\{%(?:[^'\"%]|" + _STR + r"|%(?!\}))*?%\}"
                         r"|\{#.*?#\})", re.S)


def split_tags(source: str) -> list[str]:
    """source split into text and Jinja tags (text at even indexes, tags at odd ones)."""
    parts = _TAG.split(source)
    if ("'" in source or '"' in source) and any(
            p.count("'") % 2 or p.count('"') % 2 for p in parts[1::2] if "'" in p or '"' in p):  # cut in a string
        parts = _QUOTED_TAG.split(source)
    return parts


def add_line_markers(source: str) -> str:
    """Append an invisible line marker to each newline outside Jinja tags and captured blocks.

    Text inside `{% set x %}...{% endset %}`, `{% macro %}`, `{% call %}`, `{% filter %}` and
    `{% raw %}` gets no markers: it is a value user code may split or compare, and lines a macro
    emits are better mapped to the line that calls it.
    """
    parts = split_tags(source)
    line = 1
    out = []
    depth = 0
    for i, part in enumerate(parts):
        if i % 2 == 1:
            depth = max(0, depth + _block_delta(part))
        if i % 2 == 0 and "\n" in part and depth == 0:
            pieces = part.split("\n")
            buf = [pieces[0]]
            for piece in pieces[1:]:
                buf.append(f"{_MARK_OPEN}{line}{_MARK_CLOSE}\n{piece}")
                line += 1
            out.append("".join(buf))
        else:
            out.append(part)
            line += part.count("\n")
    return "".join(out)


_BLOCK_OPEN = re.compile(r"\{%[-+]?\s*(macro|call|filter|raw)\b")
_BLOCK_CLOSE = re.compile(r"\{%[-+]?\s*(endmacro|endcall|endfilter|endraw|endset)\b")
_SET_BLOCK = re.compile(r"\{%[-+]?\s*set\b[^=]*%\}\Z", re.S)


def _block_delta(tag: str) -> int:
    """+1 for a tag opening a captured block, -1 for its end tag, else 0."""
    if _BLOCK_OPEN.match(tag) or _SET_BLOCK.match(tag):
        return 1
    return -1 if _BLOCK_CLOSE.match(tag) else 0


def strip_line_markers(rendered: str) -> tuple[str, tuple[int, ...]]:
    """Remove markers; return the clean text and, per output line, its source line."""
    lines = rendered.split("\n")
    mapping: list[int] = []
    pending = 0
    last = 1
    clean = []
    for text in lines:
        found = _MARKER.findall(text)
        if found:
            # Several markers on one line: whitespace control joined lines; the line starts in the first.
            mapping.extend([int(found[0])] * (pending + 1))
            last = int(found[-1])
            pending = 0
            text = _MARKER.sub("", text)
        else:
            pending += 1
        clean.append(text)
    mapping.extend([last + 1 if pending and mapping else last] * pending)
    return "\n".join(clean), tuple(mapping)
