"""dbt's `{% docs name %}...{% enddocs %}` blocks in .md files, and `doc('name')` in descriptions.

Descriptions that contain Jinja are rendered once at load time with `doc()` (and the project's
context), so the manifest and the docs site carry the finished text, as in dbt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from sparkmodels.errors import CompilationError, ProjectError, did_you_mean

_BLOCK = re.compile(r"\{%-?\s*docs\s+([A-Za-z_][\w]*)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.S)


def find_docs(files: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """{name: (text, path)} over (display path, file text) pairs; a name defined twice is an error."""
    docs: dict[str, tuple[str, str]] = {}
    for path, text in files:
        for m in _BLOCK.finditer(text):
            name = m.group(1)
            if name in docs:
                raise ProjectError(f"docs block '{name}' is defined twice: in {docs[name][1]} and {path}.",
                                   path=path, line=text.count("\n", 0, m.start()) + 1)
            docs[name] = (m.group(2).strip("\n"), path)
    return docs


def resolve(nodes: dict, docs: Mapping[str, tuple[str, str]], renderer) -> None:
    """Render every description (node and columns) holding Jinja, with doc() defined; in place."""

    def doc(*args):
        name = args[-1]  # doc('pkg', 'name') names a package first
        if name not in docs:
            raise CompilationError(f"doc('{name}') names no docs block." + did_you_mean(name, docs),
                                   hint="Define it with {% docs " + name + " %}...{% enddocs %} in a .md file.")
        return docs[name][0]

    def render(text: str, node) -> str:
        if "{" not in text:
            return text
        return renderer.render(text, filename=node.patch_path or node.path, node_name=node.name,
                               extra={"doc": doc}).text

    for uid, node in list(nodes.items()):
        description = render(node.description, node)
        columns = node.columns
        if any("{" in c.description for c in columns.values()):
            columns = MappingProxyType({k: replace(c, description=render(c.description, node))
                                        for k, c in columns.items()})
        if description is not node.description or columns is not node.columns:
            nodes[uid] = node.evolve(description=description, columns=columns)


def doc_files(root: Path, dirs, walk) -> list[tuple[str, str]]:
    """(path relative to root, text) of the .md files under dirs (walk lists a folder's files)."""
    out = []
    for d in dirs:
        for f in walk(str(root / d)) if (root / d).is_dir() else ():
            if f.endswith(".md"):
                out.append((Path(f).relative_to(root).as_posix(), Path(f).read_text(encoding="utf-8")))
    return out
