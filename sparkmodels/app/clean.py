"""`sparkmodels clean`: delete target-path and clean-targets, and refuse anything else clearly.

Every entry is checked before anything is deleted: a folder inside the project that is not the
project itself, holds no warehouse and is not inside one. A file, a symlink, the project root, a
path outside the project or a warehouse (of the default target or any target in project.yml) is
a ProjectError naming the entry and its line, and nothing is removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.errors import ProjectError, SparkModelsError
from sparkmodels.project.config import ProjectConfig, load_config
from sparkmodels.project.yamlio import load_yaml


def _line(config: ProjectConfig, entry: str) -> int | None:
    try:
        lines = (config.root / config.config_file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return next((n for n, text in enumerate(lines, 1) if entry in text and not text.lstrip().startswith("#")), None)


def _warehouses(project_dir, config: ProjectConfig, raw: Mapping) -> list[Path]:
    """Local warehouse folders of the default target and of every target project.yml names."""
    found = {config.root / "warehouse"}
    configs = [config]
    for name in raw.get("targets") or {} if isinstance(raw.get("targets"), Mapping) else {}:
        try:
            configs.append(load_config(project_dir, target=str(name)))
        except SparkModelsError:
            continue  # e.g. an env_var without a default: that target cannot be checked, nor used
    for c in configs:
        uri = c.target.warehouse
        if "://" in uri and not uri.startswith("file://"):
            continue
        found.add(Path(uri.removeprefix("file://").removeprefix("file:")))
    return [p.resolve() for p in found]


def _refusal(config: ProjectConfig, entry, warehouses: list[Path]) -> str | None:
    if not isinstance(entry, str) or not entry.strip():
        return "is not a folder name"
    lexical = config.root / entry
    path = lexical.resolve()
    if path == config.root:
        return "is the project itself"
    if config.root not in path.parents:
        return f"is outside the project ({path})"
    for wh in warehouses:
        if path == wh or wh in path.parents:
            return f"is the warehouse or inside it ({wh}); clean never deletes tables"
        if path in wh.parents:
            return f"holds the warehouse ({wh}); clean never deletes tables"
    if lexical.is_symlink():
        return f"is a symlink (to {os.readlink(lexical)}); clean does not follow links"
    if path.exists() and not path.is_dir():
        return "is a file; clean deletes folders only"
    return None


def clean(project_dir: str | Path = ".", config: ProjectConfig | None = None) -> list[Path]:
    """Delete target-path and clean-targets (folders inside the project, never a warehouse).

    `config`: the project read for the chosen target and vars (its warehouse is refused too).
    """
    config = config or load_config(project_dir)
    raw = load_yaml(config.root / config.config_file)
    raw = raw if isinstance(raw, Mapping) else {}
    extra = raw.get("clean-targets") or []
    if isinstance(extra, str):
        extra = [extra]
    if not isinstance(extra, list):
        raise ProjectError("clean-targets must be a list of folders.", path=config.config_file,
                           line=_line(config, "clean-targets"))
    warehouses = _warehouses(project_dir, config, raw)
    entries = [("target-path", config.target_path), *(("clean-targets", e) for e in extra)]
    for key, entry in entries:
        why = _refusal(config, entry, warehouses)
        if why:
            raise ProjectError(
                f"{key} entry {entry!r} {why}. Nothing was deleted.", path=config.config_file,
                line=_line(config, str(entry)) or _line(config, key),
                hint="clean deletes only folders inside the project that hold no warehouse; fix the entry.")
    removed = []
    for _key, entry in entries:
        path = (config.root / entry).resolve()
        if path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
    return removed
