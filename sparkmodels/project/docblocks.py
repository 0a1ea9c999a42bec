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


def resolve(nodes: dict, docs: Mapping[str, Mapping[str, tuple[str, str]]], renderer, root: str) -> None:
    """Render every description (node and columns) holding Jinja, with doc() defined; in place.

    docs: {package: {name: (text, path)}}. `doc('name')` looks where dbt looks: the root project,
    then the describing node's package, then any package; `doc('pkg', 'name')` in that package only.
    """

    def lookup(args, package: str):
        name = args[-1]
        order = [args[0]] if len(args) > 1 else [root, package, *docs]
        for pkg in order:
            if name in docs.get(pkg, {}):
                return docs[pkg][name][0]
        known = {n for pkg in order for n in docs.get(pkg, {})}
        shown = ", ".join(repr(a) for a in args)
        raise CompilationError(f"doc({shown}) names no docs block." + did_you_mean(name, known),
                               hint="Define it with {% docs " + name + " %}...{% enddocs %} in a .md file.")

    def render(text: str, node) -> str:
        if "{" not in text:
            return text
        return renderer.render(text, filename=node.patch_path or node.path, node_name=node.name,
                               extra={"doc": lambda *args: lookup(args, node.package)}).text

    for uid, node in list(nodes.items()):
        description = render(node.description, node)
        columns = node.columns
        if any("{" in c.description for c in columns.values()):
            columns = MappingProxyType({k: replace(c, description=render(c.description, node))
                                        for k, c in columns.items()})
        if description is not node.description or columns is not node.columns:
            nodes[uid] = node.evolve(description=description, columns=columns)


def doc_files(root: Path, dirs, walk, prefix: str = "") -> list[tuple[str, str]]:
    """(prefix + path relative to root, text) of the .md files under dirs (walk lists a folder's files)."""
    out = []
    for d in dirs:
        for f in walk(str(root / d)) if (root / d).is_dir() else ():
            if f.endswith(".md"):
                out.append((prefix + Path(f).relative_to(root).as_posix(), Path(f).read_text(encoding="utf-8")))
    return out
