"""dbt packages: packages.yml / dependencies.yml, `deps` (local, git, hub) and the installed packages.

`install()` resolves every declared package (and the packages they declare) into
`packages-install-path` (default dbt_packages/) and writes package-lock.yml as dbt does; a folder
filled by `dbt deps` is read the same way. Hub packages are resolved through the package hub's
API (`<hub>/api/v1/<org>/<name>.json`); the hub URL comes from `hub_url=`, else
$DBT_PACKAGE_HUB_URL, else https://hub.getdbt.com.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sparkmodels.errors import ProjectError
from sparkmodels.project.yamlio import line_of, load_yaml

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
LOCK_FILE = "package-lock.yml"
DEFAULT_HUB = "https://hub.getdbt.com"
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-?([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(\S+)\s*$")


# -- versions ----------------------------------------------------------------------------------------
def parse_version(text: str) -> tuple:
    """'1.2.3' / '1.2.3-b1' -> a sortable key; a prerelease sorts before its release."""
    m = _VERSION.match(str(text).strip())
    if not m:
        raise ValueError(f"'{text}' is not a version")
    major, minor, patch, pre = m.groups()
    return (int(major), int(minor or 0), int(patch or 0), (0, pre) if pre else (1, ""))


def _ranges(spec) -> list[str]:
    if spec is None:
        return []
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    return [part for item in items for part in str(item).split(",") if part.strip()]


def satisfies(version: str, spec) -> bool:
    """Whether a version meets every range of a dbt version spec ('>=1.0.0', ['>=1.0', '<2.0'], '1.3.0')."""
    key = parse_version(version)
    for part in _ranges(spec):
        op, bound = _COMPARATOR.match(part).groups()
        other = parse_version(bound)
        ok = {">=": key >= other, "<=": key <= other, ">": key > other, "<": key < other}.get(op or "=", key == other)
        if not ok:
            return False
    return True


def best_version(versions, specs: list, prerelease: bool = False) -> str | None:
    """The newest version meeting all specs (prereleases only when asked for)."""
    ok = [v for v in versions if (prerelease or parse_version(v)[3][0] == 1) and all(satisfies(v, s) for s in specs)]
    return max(ok, key=parse_version) if ok else None


# -- declarations ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """One entry of packages.yml: kind is local, git or hub."""

    kind: str
    source: str  # the local path, git URL or hub name (org/package)
    version: Any = None  # hub: version spec; git: revision
    subdirectory: str | None = None
    prerelease: bool = False
    declared_in: str = ""
    line: int | None = None

    def lock_entry(self, name: str, resolved: str | None) -> dict:
        if self.kind == "local":
            return {"local": self.source, "name": name}
        if self.kind == "git":
            entry = {"git": self.source, "revision": resolved or self.version or "HEAD", "name": name}
            return {**entry, "subdirectory": self.subdirectory} if self.subdirectory else entry
        return {"package": self.source, "version": resolved, "name": name}


def read_specs(root: Path, shown: str = "") -> list[Spec]:
    """The packages a project (or package) folder declares, env_var() rendered."""
    for name in PACKAGE_FILES:
        path = root / name
        if path.is_file():
            break
    else:
        return []
    display = f"{shown}{name}"
    data = load_yaml(path, display) or {}
    entries = data.get("packages") if isinstance(data, Mapping) else None
    specs = []
    for entry in entries or []:
        line = line_of(entry)
        if not isinstance(entry, Mapping):
            raise ProjectError("each package must be a mapping (local:, git: or package:).", path=display, line=line)
        entry = _render(entry, display, line)
        if entry.get("local"):
            specs.append(Spec("local", str(entry["local"]), declared_in=str(root), line=line))
        elif entry.get("git"):
            specs.append(Spec("git", str(entry["git"]), entry.get("revision"), entry.get("subdirectory"),
                              declared_in=str(root), line=line))
        elif entry.get("package"):
            specs.append(Spec("hub", str(entry["package"]), entry.get("version"),
                              prerelease=bool(entry.get("install-prerelease") or entry.get("install_prerelease")),
                              declared_in=str(root), line=line))
        else:
            raise ProjectError(f"cannot read the package {dict(entry)}: use local:, git: or package:.",
                               path=display, line=line)
    return specs


def _render(entry: Mapping, path: str, line: int | None) -> dict:
    out = {}
    for key, value in entry.items():
        if isinstance(value, str) and "{{" in value:
            from sparkmodels.project.render.jinja import render_string

            value = render_string(value, path=path, line=line)
        out[key] = value
    return out


def specs_hash(specs: list[Spec]) -> str:
    """dbt's sha1_hash of the declared packages: a lock is reused only while they are unchanged."""
    text = json.dumps([[s.kind, s.source, str(s.version), s.subdirectory] for s in specs], sort_keys=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# -- installing ----------------------------------------------------------------------------------------
def _project_name(folder: Path, what: str) -> str:
    file = folder / "dbt_project.yml"
    if not file.is_file():
        raise ProjectError(f"the package {what} has no dbt_project.yml (in {folder}).")
    data = load_yaml(file, str(file)) or {}
    if not isinstance(data, Mapping) or not data.get("name"):
        raise ProjectError(f"the package {what} has no name in its dbt_project.yml.", path=str(file))
    return str(data["name"])


def _place(src: Path, dest_root: Path, what: str, *, link: bool = False) -> str:
    name = _project_name(src, what)
    dest = dest_root / name
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    if link:
        dest.symlink_to(src.resolve(), target_is_directory=True)
    else:
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"))
    return name


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ProjectError("git packages need git on PATH.") from None
    if done.returncode != 0:
        raise ProjectError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _install_git(spec: Spec, dest_root: Path, work: Path) -> tuple[str, str, Path]:
    clone = work / f"git{len(list(work.iterdir()))}"
    _git("clone", "--quiet", spec.source, str(clone))
    if spec.version:
        _git("checkout", "--quiet", str(spec.version), cwd=clone)
    sha = _git("rev-parse", "HEAD", cwd=clone)
    src = clone / spec.subdirectory if spec.subdirectory else clone
    name = _place(src, dest_root, spec.source)
    return name, sha, dest_root / name


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s) URLs of the hub
            return response.read()
    except OSError as exc:
        raise ProjectError(f"could not fetch {url}: {exc}.") from None


def hub_base(hub_url: str | None = None) -> str:
    return (hub_url or os.environ.get("DBT_PACKAGE_HUB_URL") or DEFAULT_HUB).rstrip("/")


def _hub_versions(name: str, hub: str) -> dict:
    org, _, package = name.partition("/")
    if not package:
        raise ProjectError(f"hub package '{name}' must be written as org/package, e.g. dbt-labs/dbt_utils.")
    data = json.loads(_fetch(f"{hub}/api/v1/{org}/{package}.json"))
    return dict(data.get("versions") or {})


def _install_tarball(url: str, sha1: str | None, dest_root: Path, work: Path, what: str) -> tuple[str, Path]:
    blob = _fetch(url)
    if sha1 and hashlib.sha1(blob).hexdigest() != sha1:
        raise ProjectError(f"the tarball of {what} ({url}) does not match the hub's sha1.")
    out = work / f"tar{len(list(work.iterdir()))}"
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        tar.extractall(out, filter="data")  # the 'data' filter refuses absolute paths and ../
    entries = [p for p in out.iterdir()]
    src = entries[0] if len(entries) == 1 and entries[0].is_dir() else out  # GitHub's tarballs: one folder
    name = _place(src, dest_root, what)
    return name, dest_root / name


def _read_lock(root: Path) -> dict | None:
    path = root / LOCK_FILE
    if not path.is_file():
        return None
    data = load_yaml(path, LOCK_FILE)
    return data if isinstance(data, Mapping) else None


def install(root: Path, install_path: str = "dbt_packages", *, hub_url: str | None = None,
            upgrade: bool = False) -> list[dict]:
    """`deps`: install the declared packages (and theirs) and write package-lock.yml; returns the lock entries.

    Hub versions come from package-lock.yml while packages.yml is unchanged (unless upgrade).
    """
    specs = read_specs(root)
    dest_root = root / install_path
    dest_root.mkdir(parents=True, exist_ok=True)
    lock = None if upgrade else _read_lock(root)
    pinned = {}
    if lock and lock.get("sha1_hash") == specs_hash(specs):
        pinned = {e["package"]: str(e["version"]) for e in lock.get("packages") or [] if e.get("package")}
    hub = hub_base(hub_url)
    entries: list[dict] = []
    done: set[tuple[str, str]] = set()
    hub_specs: dict[str, list[Spec]] = {}
    queue = list(specs)
    with tempfile.TemporaryDirectory(prefix="sparkmodels-deps-") as tmp:
        work = Path(tmp)
        while queue or hub_specs:
            if not queue:  # every local/git package is in: resolve the hub packages all of them asked for
                queue.extend(_install_hub(hub_specs, pinned, hub, dest_root, work, entries))
                continue
            spec = queue.pop(0)
            if spec.kind == "hub":
                hub_specs.setdefault(spec.source, []).append(spec)
                continue
            src = (Path(spec.declared_in) / spec.source).resolve() if spec.kind == "local" else None
            key = (spec.kind, str(src) if src else spec.source)
            if key in done:
                continue
            done.add(key)
            if src is not None:
                if not src.is_dir():
                    raise ProjectError(f"local package '{spec.source}' is not a folder ({src}).", line=spec.line)
                name = _place(src, dest_root, spec.source, link=True)  # dbt links local packages too
                entries.append(spec.lock_entry(name, None))
                installed = src
            else:
                name, sha, installed = _install_git(spec, dest_root, work)
                entries.append(spec.lock_entry(name, sha))
            queue.extend(read_specs(installed, f"{name}/"))
    lock_data = {"packages": entries, "sha1_hash": specs_hash(specs)}
    (root / LOCK_FILE).write_text(yaml.safe_dump(lock_data, sort_keys=False), encoding="utf-8")
    return entries


def _install_hub(hub_specs: dict, pinned: dict, hub: str, dest_root: Path, work: Path, entries: list) -> list[Spec]:
    """Install every pending hub package at the newest version all its requirements allow."""
    more: list[Spec] = []
    for name in list(hub_specs):
        wanted = hub_specs.pop(name)
        if any(e.get("package") == name for e in entries):
            continue
        versions = _hub_versions(name, hub)
        ranges = [s.version for s in wanted if s.version is not None]
        version = pinned.get(name) if pinned.get(name) in versions else None
        version = version or best_version(versions, ranges, any(s.prerelease for s in wanted))
        if version is None:
            raise ProjectError(f"no version of hub package '{name}' meets {', '.join(map(str, ranges)) or 'any'} "
                               f"(the hub has {', '.join(sorted(versions, key=parse_version)) or 'none'}).",
                               line=wanted[0].line)
        download = versions[version].get("downloads") or {}
        pkg, installed = _install_tarball(str(download.get("tarball")), download.get("sha1"), dest_root, work,
                                          f"{name} {version}")
        entries.append(wanted[0].lock_entry(pkg, version))
        more.extend(read_specs(installed, f"{pkg}/"))
    return more


# -- installed packages (what the loader reads) --------------------------------------------------------
@dataclass(frozen=True)
class InstalledPackage:
    """A package folder to load with the project: its name and root."""

    name: str
    root: Path


def installed_packages(root: Path, install_path: str = "dbt_packages") -> list[InstalledPackage]:
    """Every package under install_path (as `deps` or `dbt deps` left it), plus declared local packages.

    A declared hub package missing from install_path is an error telling the user to run deps.
    """
    found: dict[str, InstalledPackage] = {}
    base = root / install_path
    if base.is_dir():
        for folder in sorted(base.iterdir(), key=lambda p: p.name):
            if (folder / "dbt_project.yml").is_file():
                name = _project_name(folder, folder.name)
                found.setdefault(name, InstalledPackage(name, folder))
    for spec in read_specs(root):
        if spec.kind == "local":
            src = (root / spec.source).resolve()
            if (src / "dbt_project.yml").is_file():
                name = _project_name(src, spec.source)
                found.setdefault(name, InstalledPackage(name, src))
        elif spec.kind == "hub" and spec.source.rpartition("/")[2] not in found:
            raise ProjectError(f"package '{spec.source}' is declared but not installed in {install_path}/.",
                               path="packages.yml", line=spec.line,
                               hint="Run `sparkmodels deps` (or `dbt deps`).")
    return list(found.values())
