"""dbt profiles: finding profiles.yml, choosing the project's profile, dbt-spark outputs as targets.

dbt looks for profiles.yml in `--profiles-dir`, then `$DBT_PROFILES_DIR`, then the project folder
(dbt: the working directory, which is the project folder when dbt runs there), then `~/.dbt/`. A
profile's outputs are either our own target mappings (master/remote/warehouse...) or dbt-spark's
(`type: spark` with a `method:`), which become the same target mappings here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkmodels.errors import ProjectError
from sparkmodels.project.yamlio import line_of, load_yaml

PROFILES_FILE = "profiles.yml"
CONNECT_PORT = 15002  # Spark Connect's default port
# Target keys of ours a dbt-spark output may carry too (dbt-spark has no such settings).
PASSTHROUGH = ("master", "warehouse", "warehouse_path", "warehouse_storage", "jvm_cds", "packages", "jars",
               "unique_collect_max_rows", "seed_typing", "conf", "catalog")
UNSUPPORTED_METHODS = {
    "thrift": "a Thrift server (HiveServer2)",
    "http": "a Databricks SQL endpoint over HTTP",
    "odbc": "an ODBC driver",
}


@dataclass(frozen=True)
class ProfileTargets:
    """The targets one profiles.yml offers this project, and where they came from."""

    targets: Mapping[str, Any] = field(default_factory=dict)  # name -> the output as written
    default: str | None = None
    file: str = PROFILES_FILE  # shown in errors: the path as found
    profile_name: str | None = None

    def is_dbt_spark(self, name: str) -> bool:
        """Whether this output is a dbt-spark one (`type:`), not our own target keys."""
        output = self.targets.get(name)
        return self.profile_name is not None and isinstance(output, Mapping) and "type" in output

    def resolve(self, name: str) -> Any:
        """The chosen output as our target mapping; like dbt, only the chosen output is validated."""
        output = self.targets[name]
        return output_to_target(name, output, self.profile_name, self.file) if self.is_dbt_spark(name) else output


def find_profiles(project_root: Path, profiles_dir: str | os.PathLike | None = None) -> Path | None:
    """The profiles.yml dbt would read: --profiles-dir, $DBT_PROFILES_DIR, the project folder, ~/.dbt/."""
    for origin, folder in (("--profiles-dir", profiles_dir), ("DBT_PROFILES_DIR", os.environ.get("DBT_PROFILES_DIR"))):
        if folder:
            path = Path(folder).expanduser().resolve() / PROFILES_FILE
            if not path.is_file():
                raise ProjectError(f"{origin} points at {path.parent}, which has no {PROFILES_FILE}.",
                                   hint=f"Create {path} or point {origin} at the folder that holds it.")
            return path
    for folder in (project_root, Path.home() / ".dbt"):
        if (folder / PROFILES_FILE).is_file():
            return folder / PROFILES_FILE
    return None


def _display(path: Path, project_root: Path) -> str:
    return path.relative_to(project_root).as_posix() if path.is_relative_to(project_root) else str(path)


def read_profile_targets(project_root: Path, profile: str | None,
                         profiles_dir: str | os.PathLike | None = None) -> ProfileTargets:
    """The targets profiles.yml gives a project whose dbt_project.yml names `profile` (None: no profile:)."""
    path = find_profiles(project_root, profiles_dir)
    if path is None:
        return ProfileTargets()
    shown = _display(path, project_root)
    data = load_yaml(path, shown) or {}
    if not isinstance(data, Mapping):
        raise ProjectError(f"{PROFILES_FILE} must be a YAML mapping of profiles.", path=shown)
    if isinstance(data.get("targets"), Mapping):  # our own shape: targets: + target:
        return ProfileTargets(dict(data["targets"]), data.get("target"), shown)
    entry = data.get(profile) if profile else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("outputs"), Mapping):
        # The project names no profile, or one this file lacks: the caller falls back to its default.
        return ProfileTargets(file=shown, profile_name=profile)
    targets = {str(name): output for name, output in entry["outputs"].items()}
    default = entry.get("target")
    if isinstance(default, str) and "{{" in default:
        default = render_value(default, shown, line_of(entry))
    # dbt: a profile without `target:` uses its output named `default`
    return ProfileTargets(targets, str(default) if default else "default", shown, profile)


def render_value(value: Any, path: str, line: int | None) -> Any:
    """env_var()/var() inside a profile value, rendered as dbt renders profiles.yml."""
    if isinstance(value, Mapping):
        return {k: render_value(v, path, line_of(value, line)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, path, line) for v in value]
    if isinstance(value, str) and "{{" in value:
        from sparkmodels.project.render.jinja import render_string

        return render_string(value, path=path, line=line)
    return value


def output_to_target(name: str, output: Any, profile: str | None, path: str) -> Mapping:
    """One dbt-spark output (`type: spark`, `method:`) of a profile as our target mapping."""
    if not isinstance(output, Mapping):
        raise ProjectError(f"output '{name}' of profile '{profile}' must be a mapping.", path=path)
    line = line_of(output)
    data = render_value(output, path, line)
    where = f"profile '{profile}', output '{name}'"
    kind = str(data.get("type") or "").lower()
    if kind != "spark":
        raise ProjectError(f"{where} has type: {data.get('type')}; sparkmodels runs dbt-spark profiles "
                           "(type: spark) only.", path=path, line=line,
                           hint="Add an output with type: spark and method: session (or connect) and choose it "
                                "with --target.")
    method = str(data.get("method") or "").lower()
    target: dict[str, Any] = {k: data[k] for k in PASSTHROUGH if k in data}
    conf = {**dict(data.get("server_side_parameters") or {}), **dict(data.get("conf") or {})}
    target["conf"] = conf
    for key in ("schema", "threads"):
        if data.get(key) is not None:
            target[key] = data[key]
    if method == "session":
        target.setdefault("master", "local[*]")
        # dbt-spark's session method runs on a Hive-enabled session: a dbt project's models land in
        # (and its sources resolve through) the metastore; `catalog: none` opts out.
        target.setdefault("catalog", "hive")
    elif method == "connect":
        target.pop("master", None)
        target["remote"] = connect_url(data, where, path, line)
    elif method in UNSUPPORTED_METHODS:
        raise ProjectError(
            f"{where}: method: {method} connects to {UNSUPPORTED_METHODS[method]}, which sparkmodels does not "
            "use: it runs Spark itself.", path=path, line=line,
            hint="Use method: session (a local or cluster Spark, `master:` optional, default local[*]) or "
                 "method: connect (a Spark Connect server: host, port, token).")
    else:
        raise ProjectError(f"{where}: method must be session or connect, not '{data.get('method')}'.",
                           path=path, line=line)
    return target


def connect_url(data: Mapping, where: str, path: str, line: int | None) -> str:
    """host/port/token of a `method: connect` output as a Spark Connect URL (sc://host:port/;token=...)."""
    host = str(data.get("host") or "").strip()
    if not host:
        raise ProjectError(f"{where}: method: connect needs a host (the Spark Connect server).", path=path, line=line)
    if host.startswith("sc://"):
        url = host
    else:
        host = host.split("://", 1)[-1].rstrip("/")
        port = data.get("port") or CONNECT_PORT
        url = f"sc://{host}" if ":" in host else f"sc://{host}:{port}"
    params = []
    if data.get("token"):
        params.append(f"token={data['token']}")
    if data.get("use_ssl") is not None:
        params.append(f"use_ssl={str(data['use_ssl']).lower()}")
    if data.get("user"):
        params.append(f"user_id={data['user']}")
    return url + ("/;" + ";".join(params) if params else "")
