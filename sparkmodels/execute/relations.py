"""One run's relations: which ref()/source() targets are queryable in the session, and where tables live.

A stored table is registered as a temp view the first time a step reads it (its current version,
or with --defer the state's), a view is registered by the step that builds it, an external source
by its first reader. A new version published by this run drops the stale registration, so the next
reader sees the new data with the schema it was written with.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping
from pathlib import Path

from sparkmodels.errors import ExecutionError
from sparkmodels.execute.source_schemas import SourceSchemas, local_folder
from sparkmodels.execute.storage import TableStore, Warehouse
from sparkmodels.plan.compiler import identifier, source_view_name
from sparkmodels.project.config import Target
from sparkmodels.project.kinds import Kinds
from sparkmodels.project.manifest import Node

# The command that builds a stored node of each kind (a seed is loaded by `seed`, not `run`).
_BUILDS = {"seed": "seed -s ", "snapshot": "snapshot -s "}


class Relations:
    """Registers relations once per run and remembers the table versions this run wrote."""

    def __init__(self, spark, storage: Warehouse, target: Target, kinds: Kinds):
        self._spark = spark
        self.storage = storage
        self.target = target
        self.kinds = kinds  # what each materialisation is: which relations live only in the session
        # --defer: (warehouse, target schema) of the state's run, read when a table isn't built here.
        self.defer: tuple[Warehouse, str] | None = None
        self._lock = threading.Lock()
        self._registered: set[str] = set()
        # Tables written by this run: name -> (version, schema), so a downstream read skips inference.
        self._written: dict[str, tuple[Path, object]] = {}
        self._source_schemas = SourceSchemas(getattr(storage, "root", None))
        # view -> (local folder, schema) of the Parquet files a registered relation reads (the
        # current version of a table, an external Parquet source): a microbatch reads just the files
        # of its window (materializations/microbatch.py).
        self._files: dict[str, tuple[Path, object]] = {}
        # A caller's session (notebook, tests, bench) keeps every written table queryable by name
        # after the run. Set by the engine: then each published table is registered on a background
        # thread at once, while the run goes on (metrics, artifacts, the next steps), instead of in
        # the run's last step; registering means a file listing and a view (~30 ms a table).
        self.register_on_publish = False
        self._lazy: dict[str, tuple[Node, str]] = {}  # view -> (node, schema): registered on first use
        self._publishes: dict[str, int] = {}  # view -> how many versions this run published (newest wins)
        self._background = None  # a one-thread executor, created with the first background registration

    def location(self, node: Node, schema: str) -> TableStore:
        return self.storage.table(schema, identifier(node))

    def stored_version(self, node: Node, schema: str):
        """The table version a ref() reads: this warehouse's, else (with --defer) the state's."""
        current = self.location(node, schema).current()
        if current is None and self.defer is not None:
            warehouse, base = self.defer
            own = self.target.schema
            deferred = base + schema[len(own):] if schema.startswith(own) else schema
            current = warehouse.connect(self._spark).table(deferred, identifier(node)).current()
        return current

    def is_registered(self, name: str) -> bool:
        """Whether this run made `name` queryable in the session (built a view, registered a table)."""
        with self._lock:
            return name in self._registered

    def mark_registered(self, name: str) -> None:
        with self._lock:
            self._registered.add(name)

    def ensure(self, node: Node, schema: str, *, lazy: bool = False) -> None:
        """Make a ref()/source() target queryable in this session (once per run).

        lazy: a step that reads the relation only through SQL it runs with Engine.sql, or through its
        files (files_of), e.g. a microbatch reading each window from a view over that window's files.
        A local Parquet relation whose schema is known without Spark is then only noted: files_of
        answers, and the view is registered when a statement first names it (realize). That spares
        a listing of every file of every partition that nothing would read."""
        if lazy and self._note_lazily(node, schema):
            return
        if node.resource_type == "source":
            if not node.external:
                return  # a catalog table the cluster already knows
            view = source_view_name(node)
        elif not self.kinds.of(node).holds_data:
            return  # built in this session by the plan (a view), or inlined (ephemeral)
        else:
            view = identifier(node)
        with self._lock:
            if view in self._registered:
                return
        folder = None
        if node.resource_type == "source":
            df = self.read_external(node)
            ext = node.external or {}
            if str(ext.get("format", "parquet")) == "parquet" and not ext.get("options"):
                folder = local_folder(str(ext["location"]))
        else:
            current = self.stored_version(node, schema)
            if current is None:
                raise ExecutionError(
                    f"'{node.name}' has not been built yet (no table under {self.location(node, schema).link}).",
                    node=node.name, path=node.path,
                    hint=f"Build it first, e.g. `sparkmodels {_BUILDS.get(node.resource_type, 'run -s +')}{node.name}`.",
                )
            written, written_schema = self._written.get(view, (None, None))
            if written_schema is not None and written.name == current.name:
                # A table this run wrote is read with the schema it was written with: no inference job.
                df = self._spark.read.schema(written_schema).parquet(str(current))
            else:
                df = self.read_version(current)
            folder = current if isinstance(current, Path) else None
        df.createOrReplaceTempView(view)
        with self._lock:
            if folder is not None:
                self._files[view] = (folder, df.schema)
            else:
                self._files.pop(view, None)
            self._lazy.pop(view, None)
        self.mark_registered(view)

    def _view_of(self, node: Node) -> str | None:
        """The session view name a ref()/source() target is registered as (None: none needed)."""
        if node.resource_type == "source":
            return source_view_name(node) if node.external else None
        return identifier(node) if self.kinds.of(node).holds_data else None

    def _note_lazily(self, node: Node, schema: str) -> bool:
        """Note a local Parquet relation with a known schema as registered on first use (ensure's lazy)."""
        view = self._view_of(node)
        if view is None:
            return False
        with self._lock:
            if view in self._registered or view in self._lazy:
                return True
        folder = known = None
        if node.resource_type == "source":
            ext = node.external or {}
            if str(ext.get("format", "parquet")) == "parquet" and not ext.get("options"):
                folder = local_folder(str(ext["location"]))
                if folder is not None:
                    known = self._source_schemas.lookup(str(ext["location"]))[1]
        else:
            current = self.stored_version(node, schema)
            if isinstance(current, Path):
                folder = current
                written, known = self._written.get(view, (None, None))
                if known is None or written.name != current.name:
                    from sparkmodels.execute.cache import recorded_schema

                    known = recorded_schema(current)
        if folder is None or known is None:
            return False
        with self._lock:
            self._lazy[view] = (node, schema)
            self._files[view] = (folder, known)
        return True

    def realize(self, statement: str) -> None:
        """Register the lazily noted relations that `statement` names, before Spark analyses it."""
        with self._lock:
            if not self._lazy:
                return
            named = [(view, entry) for view, entry in self._lazy.items()
                     if re.search(rf"(?<![\w$]){re.escape(view)}(?![\w$])", statement, re.IGNORECASE)]
        for _view, (node, schema) in named:
            self.ensure(node, schema)

    def files_of(self, view: str) -> tuple[Path, object] | None:
        """(local folder, schema) of the Parquet files behind a view this run registered (or noted
        to register on first use), if known."""
        with self._lock:
            return self._files.get(view) if view in self._registered or view in self._lazy else None

    def read_version(self, version: Path):
        """A stored table version as a DataFrame. The schema recorded when it was written (while its
        files are unchanged) spares Spark's footer-reading inference job; otherwise Spark infers."""
        from sparkmodels.execute.cache import recorded_schema

        recorded = recorded_schema(version)
        reader = self._spark.read if recorded is None else self._spark.read.schema(recorded)
        return reader.parquet(str(version))

    def read_external(self, node: Node):
        ext: Mapping = node.external or {}
        fmt = str(ext.get("format", "parquet"))
        reader = self._spark.read.format(fmt)
        options = ext.get("options") or {}
        for key, value in options.items():
            reader = reader.option(str(key), str(value))
        location = str(ext["location"])
        digest = known = None
        if fmt == "parquet" and not options:  # the schema Spark inferred last time, same files
            digest, known = self._source_schemas.lookup(location)
            if known is not None:
                reader = reader.schema(known)
        try:
            df = reader.load(location)
            if digest is not None and known is None:
                self._source_schemas.record(location, digest, df.schema)
            return df
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "AnalysisException" and "PATH_NOT_FOUND" in str(exc):
                raise ExecutionError(
                    f"source '{node.source_name}.{node.name}' has no files at {location}.",
                    node=f"{node.source_name}.{node.name}", path=node.path,
                ) from None
            raise

    def published(self, node: Node, version: Path, schema) -> None:
        """A new version of node's table is live: downstream steps must read it, so forget an older
        registration (and its temp view, which may point at files the store's clean() just removed)."""
        view = identifier(node)
        with self._lock:
            stale = view in self._registered
            self._registered.discard(view)
            self._written[view] = (version, schema)
            self._lazy.pop(view, None)
            publish = self._publishes[view] = self._publishes.get(view, 0) + 1
            if stale:  # under the lock: a background registration of this version cannot come between
                with contextlib.suppress(Exception):
                    self._spark.catalog.dropTempView(view)
            if self.register_on_publish:
                if self._background is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sm-register")
                self._background.submit(self._register, view, publish, version, schema)

    def _register(self, view: str, publish: int | None, version, schema) -> None:
        """Register a written version as `view`, unless a newer publish or a reader did meanwhile."""
        with contextlib.suppress(Exception):  # a table removed meanwhile is simply not registered
            reader = self._spark.read.schema(schema) if schema is not None else self._spark.read
            df = reader.parquet(str(version))  # the listing, outside the lock
            with self._lock:
                if view in self._registered or (publish is not None and self._publishes.get(view) != publish):
                    return
                df.createOrReplaceTempView(view)
                if isinstance(version, Path):
                    self._files[view] = (version, df.schema)
                self._registered.add(view)

    def register_written(self) -> None:
        """Leave every table this run wrote queryable by its name (a caller's session, at the end):
        wait for the background registrations, then register whatever is still missing."""
        if self._background is not None:
            self._background.shutdown(wait=True)
            self._background = None
        with self._lock:
            pending = [(n, v, s) for n, (v, s) in self._written.items() if n not in self._registered]
        for name, version, schema in pending:
            self._register(name, None, version, schema)

