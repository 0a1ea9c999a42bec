"""The build cache: fingerprints of stored tables, so run/build skip a table whose inputs did not change.

A table version carries `_sparkmodels.json` (written by materializations.table.write_version before the
version is published) holding the digest of everything its data depends on:
  - its compiled SQL (or Python source), materialization and config;
  - digests of the values of the vars / env vars it reads (every var for Python models), and the UDF
    files;
  - for each upstream relation: a stored table's current version path (a rebuild makes a new version,
    so any upstream rebuild invalidates the downstream), a view's compiled SQL plus its own upstream
    (recursively, views aren't stored), an external source's file listing (path, size, mtime);
  - for seeds, the CSV file's checksum, size and mtime.
Correctness first: anything that cannot be fingerprinted (a catalog source, an unbuilt upstream, a
non-deterministic function unless `config(deterministic=true)`) makes the fingerprint None: rebuild.
The file lives in the warehouse, beside the data, for anyone who can read the table: it records digests
of code and of var / env var values, never the values (a password var used in SQL stays out of it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sparkmodels.project.config import ProjectConfig
from sparkmodels.project.contracts import enforced
from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node

FINGERPRINT_FILE = "_sparkmodels.json"
FORMAT = 2  # 2: code and var / env var values recorded as digests
# Functions whose result changes between runs; SQL using them is never reused unless the model opts in.
_NONDETERMINISTIC = re.compile(
    r"\b(?:current_timestamp|current_date|current_time|localtimestamp|current_timezone)\b"
    r"|\b(?:now|rand|randn|random|uuid|shuffle|monotonically_increasing_id|spark_partition_id|"
    r"input_file_name|input_file_block_start|try_random|randstr|uniform)\s*\("
    r"|\bunix_timestamp\s*\(\s*\)",
    re.I,
)


def nondeterministic(code: str) -> str | None:
    """The first non-deterministic function call in code, or None."""
    m = _NONDETERMINISTIC.search(code or "")
    return re.match(r"\w+", m.group(0)).group(0).lower() if m else None


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def read_fingerprint(version, store=None) -> dict | None:
    """The fingerprint stored with a table version, or None (missing, unreadable, incomplete version).
    `store` (a storage.TableStore) reads it where the version lives; without it, a local Path."""
    if version is None:
        return None
    try:
        if store is None:
            if not (version / "_SUCCESS").exists():
                return None
            text = (version / FINGERPRINT_FILE).read_text(encoding="utf-8")
        elif store.is_complete(version):
            text = store.read_text(version, FINGERPRINT_FILE) or ""
        else:
            return None
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_fingerprint(version, fingerprint: Mapping | None, *, rows: int | None = None,
                      schema: str | None = None, store=None) -> None:
    """Store a fully written version's fingerprint (None: not reusable), row count and Spark schema.

    The schema (StructType JSON) is stored with the listing of the files it describes, so a later
    run can register the version without Spark's footer-reading inference job (see stored_schema).
    Only local versions record it: elsewhere (`store`, a Hadoop storage.TableStore) Spark infers.
    """
    data = {**dict(fingerprint or {"digest": None}), "rows": rows}
    if schema is not None and isinstance(version, Path):
        files = _version_files(version)
        if files is not None:
            data.update(schema=schema, files=files)
    text = json.dumps(data, indent=1, default=str)
    if store is None or isinstance(version, Path):
        Path(version, FINGERPRINT_FILE).write_text(text, encoding="utf-8")
    else:
        store.write_text(version, FINGERPRINT_FILE, text)


def _version_files(version: Path) -> list | None:
    """(relative path, size, mtime_ns) of a version's files, the fingerprint file excepted."""
    files = file_listing(str(version))
    return None if files is None else [f for f in files if f[0] != FINGERPRINT_FILE]


def stored_schema(version) -> str | None:
    """The schema recorded when this version was written, if its files are still exactly those.

    Reading Parquet with a given schema trusts it: a column missing from the files reads as null.
    So the schema is only returned while the version's file listing (names, sizes, mtimes) is the
    one recorded with it and its columns and types are those in a data file's footer; any difference
    (files replaced, added, removed, touched, a schema edited) returns None and the caller lets Spark
    infer the schema from the files.
    """
    if not isinstance(version, Path):
        return None  # a Hadoop-storage version: no schema recorded
    stored = read_fingerprint(version)
    if not stored or not isinstance(stored.get("schema"), str) or not isinstance(stored.get("files"), list):
        return None
    if _version_files(version) != stored["files"]:
        return None
    return stored["schema"] if _agrees_with_files(version, stored["schema"], stored["files"]) else None


def recorded_schema(version):
    """stored_schema as a StructType (None: none recorded, or unreadable): a version's columns
    without listing its files or inferring them."""
    text = stored_schema(version) if version is not None else None
    if text is None:
        return None
    from pyspark.sql.types import StructType

    try:
        return StructType.fromJson(json.loads(text))
    except (ValueError, TypeError, KeyError):
        return None


def _agrees_with_files(version: Path, schema: str, files: list) -> bool:
    """Whether the recorded schema is the one in the data files: the footer of one Parquet file (one
    job wrote them all; a few KB read on the driver, no Spark job) holds the schema Spark wrote. A
    recorded schema that disagrees (a damaged or edited fingerprint, same listing) must not be trusted:
    reading with it would null or hide columns that are in the files."""
    try:
        fields = json.loads(schema)["fields"]
        recorded = [(f["name"], f["type"]) for f in fields]
    except (ValueError, KeyError, TypeError):
        return True  # unreadable: Engine.read_version already falls back to inference for it
    data = [f[0] for f in files if str(f[0]).endswith(".parquet")]
    if not data:
        return True  # no rows were written: nothing to disagree with
    partitions = {part.split("=", 1)[0] for part in Path(data[0]).parent.parts if "=" in part}
    expected = [(n, t) for n, t in recorded if n not in partitions]
    try:
        import pyarrow.parquet as pq

        meta = pq.read_metadata(version / data[0])
        spark_schema = (meta.metadata or {}).get(b"org.apache.spark.sql.parquet.row.metadata")
        if spark_schema:
            return [(f["name"], f["type"]) for f in json.loads(spark_schema)["fields"]] == expected
        return list(meta.schema.to_arrow_schema().names) == [n for n, _ in expected]
    except Exception:  # noqa: BLE001 - an unreadable footer: let Spark infer (and report) it
        return False


def file_listing(location: str, limit: int = 100_000) -> list | None:
    """(relative path, size, mtime_ns) of every file under a local location; None if not local or too big."""
    if "://" in location and not location.startswith("file:"):
        return None
    path = Path(location[len("file://"):] if location.startswith("file://") else
                location[len("file:"):] if location.startswith("file:") else location)
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    if not path.is_dir():
        return None
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            st = full.stat()
            out.append([str(full.relative_to(path)), st.st_size, st.st_mtime_ns])
            if len(out) > limit:
                return None
    return out


@dataclass(frozen=True)
class CacheHit:
    """A reusable stored version: where it is and the fingerprint that matched."""

    version: Path
    fingerprint: Mapping
    rows: int | None = None  # rows in the stored version, as recorded when it was written


@dataclass(frozen=True)
class CacheDecision:
    """For one step: the stored version to reuse (None: build), and the fingerprint the build records."""

    hit: CacheHit | None = None
    fingerprint: Mapping | None = None


class BuildCache:
    """Computes fingerprints for one run and decides whether a table step can reuse its stored version."""

    def __init__(self, engine, manifest: Manifest, config: ProjectConfig, *, compiler=None,
                 enabled: bool = True, force: bool = False):
        from sparkmodels.plan.compiler import Compiler

        self.engine = engine
        self.manifest = manifest
        self.config = config
        self.compiler = compiler or Compiler(manifest)
        self.kinds = self.compiler.kinds
        self.enabled = enabled  # False: --no-cache (still records fingerprints)
        self.force = force  # --full-refresh
        self._udfs: str | None = None

    # -- fingerprints ------------------------------------------------------------------------------
    def _code(self, node: Node) -> str:
        if node.language == "python":
            return node.raw_code
        return self.compiler.compile(node.unique_id).sql

    def _udf_digest(self) -> str:
        if self._udfs is None:
            files = []
            for rel in self.config.udf_paths:
                base = self.config.root / rel
                if base.is_dir():
                    files += [[str(p.relative_to(self.config.root)), hashlib.sha256(p.read_bytes()).hexdigest()]
                              for p in sorted(base.rglob("*.py"))]
            self._udfs = digest(files)
        return self._udfs

    def _vars(self, node: Node) -> dict:
        """Digests of the values a node reads: the fingerprint file must never hold a value itself."""
        vars_ = thaw(self.config.vars)
        if node.language == "python":  # var use is not tracked in Python models: all of them count
            return {"vars": {k: digest(v) for k, v in vars_.items()}, "env": {}}
        return {"vars": {k: digest(vars_.get(k)) for k in node.uses_vars},
                "env": {k: digest(os.environ.get(k)) for k in node.uses_env_vars}}

    def _upstream(self, node: Node, trail: frozenset = frozenset()) -> dict | None:
        """Identity of each relation the node reads (through ephemerals); None if any is unknown."""
        out: dict = {}
        for uid in node.depends_on:
            dep = self.manifest.nodes[uid]
            ident = self.relation_identity(dep, trail | {node.unique_id})
            if ident is None:
                return None
            out[uid] = ident
        return out

    def relation_identity(self, dep: Node, trail: frozenset = frozenset()):
        """What an upstream relation's data is, as far as we can tell (None: unknown)."""
        from sparkmodels.project.config import schema_for

        if dep.unique_id in trail:
            return None
        if dep.resource_type == "source":
            if not dep.external:
                return None  # a catalog table: its contents are invisible to us
            ext = thaw(dep.external)
            files = file_listing(str(ext.get("location", "")))
            ext["location"] = self._relative(str(ext.get("location", "")), self.config.root)
            return None if files is None else {"external": ext, "files": files}
        if dep.resource_type == "model" and not self.kinds.of(dep).holds_data:  # a view, or inlined
            code = self._code(dep)
            if nondeterministic(code) and not dep.config.get("deterministic"):
                return None
            upstream = self._upstream(dep, trail)
            return None if upstream is None else {"code": digest(code), "vars": self._vars(dep),
                                                  "upstream": upstream}
        if dep.resource_type in ("model", "seed", "snapshot"):
            current = self.engine.stored_version(dep, schema_for(self.config, dep.config))
            return None if current is None else self.engine.storage.relative(current)
        return None

    @staticmethod
    def _relative(path: str, base: Path) -> str:
        """Paths inside the project/warehouse relative to it, so a copied project keeps its cache."""
        try:
            return str(Path(path).relative_to(Path(base).resolve()))
        except ValueError:
            try:
                return str(Path(path).relative_to(base))
            except ValueError:
                return path

    def fingerprint(self, node: Node, code: str | None = None) -> dict | None:
        """The inputs of a table/seed step, with their digest; None when the node must always rebuild.
        `code`: the SQL rendered at run time, for a node that introspects (else its compiled SQL)."""
        inputs: dict = {"format": FORMAT, "unique_id": node.unique_id, "materialized": node.materialized,
                        "config": digest(thaw(node.config)), "udfs": self._udf_digest()}
        if node.resource_type == "seed":
            path = self.config.root / node.path
            if not path.exists():
                return None
            st = path.stat()
            inputs["file"] = [node.path, st.st_size, st.st_mtime_ns, node.checksum]
        else:
            code = self._code(node) if code is None else code
            if nondeterministic(code) and not node.config.get("deterministic"):
                return None
            upstream = self._upstream(node)
            if upstream is None:
                return None
            inputs.update(code=digest(code), language=node.language, upstream=upstream, **self._vars(node))
            if enforced(node.config):  # a changed contract (types, constraints) is checked again
                inputs["contract"] = digest([[c.name, c.data_type, thaw(c.constraints)] for c in node.columns.values()]
                                            + [thaw(node.constraints)])
        return {"digest": digest(inputs), "inputs": inputs}

    # -- decisions -----------------------------------------------------------------------------------
    def prepare(self, node: Node, schema: str, code: str | None = None) -> CacheDecision:
        """This step's fingerprint (for the write to record), and a hit if the stored version matches;
        `code`: a run-time render's SQL (fingerprint)."""
        if not self.kinds.of(node).cacheable or node.resource_type not in ("model", "seed"):
            return CacheDecision()
        fp = self.fingerprint(node, code)
        if fp is None or self.force or not self.enabled:
            return CacheDecision(None, fp)
        loc = self.engine.location(node, schema)
        current = loc.current()
        stored = read_fingerprint(current, loc)
        if stored is None or stored.get("digest") != fp["digest"]:
            return CacheDecision(None, fp)
        rows = stored.get("rows")
        return CacheDecision(CacheHit(current, fp, rows if isinstance(rows, int) else None), fp)
