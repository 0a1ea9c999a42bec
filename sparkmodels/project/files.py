"""Project files on disk: the walk of a project's folders, reading sources, file checksums, a package's path prefix."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def project_files(root: Path, dirs, suffixes: tuple[str, ...], listings: dict | None = None) -> list[tuple[Path, Path]]:
    """(base dir, file) pairs under each dir with one of the suffixes, sorted for determinism.

    Hidden files and directories (a name starting with '.') are skipped, symlinked directories are
    not entered. listings memoises each directory's walk within one load (models/ is read twice).
    """
    found = []
    for d in dirs:
        base = root / d
        key = str(base)
        files = listings.get(key) if listings is not None else None
        if files is None:
            files = [Path(p) for p in walk(key)] if base.is_dir() else []
            if listings is not None:
                listings[key] = files
        found.extend((base, path) for path in files if path.suffix in suffixes)
    return found


def walk(directory: str) -> list[str]:
    """Regular files below a directory, depth first in name order (the order of sorted(rglob))."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (PermissionError, FileNotFoundError):
        return []
    out = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            out.extend(walk(entry.path))
        elif entry.is_file():
            out.append(entry.path)
    return out


def read_source(path: Path) -> str:
    """A text file as Path.read_text(encoding="utf-8") reads it (newlines made \\n), with less overhead."""
    with open(path, "rb") as fh:
        text = fh.read().decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def file_checksum(path: Path) -> str:
    stat = path.stat()
    if stat.st_size <= 1 << 20:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return f"path:{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


def package_prefix(package_root: Path, root: Path) -> str:
    """A package's folder relative to the root project ('dbt_packages/x/'): node paths start with it."""
    rel = os.path.relpath(package_root, root).replace(os.sep, "/")
    return "" if rel == "." else rel + "/"
