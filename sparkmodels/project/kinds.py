"""What each materialisation is, as the stages below execute/ need to know it (no Spark, no strategies).

The compiler must know which models are inlined, the planner which live only in the session, the
cache and the docs catalog which are stored. Those stages may not import execute/, where the
strategies live, so each strategy's static traits are a `Kind`, and a `Kinds` table answers "what is
this node?" for every stage. The built-in table (`BUILTIN`) mirrors the strategies of
`execute.materializations.default_registry()`; a registry carries its own table (`Registry.kinds`),
and tests/test_materializations.py checks the two agree. Code outside execute/materializations/ asks
a Kinds table for a trait and never compares `materialized` to a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sparkmodels.project.manifest import Node


@dataclass(frozen=True)
class Kind:
    """The static traits of one materialisation name.

    inlined:        no step of its own; compiled into each child's SQL as a CTE (ephemeral).
    session_scoped: a relation of the run's SparkSession only (view): rebuilt by every run that needs
                    it, never read from the warehouse, holds no data of its own.
    stored:         writes table versions under the warehouse (table, seed): a later run, the docs
                    catalog and `table-path` can read it.
    cacheable:      the build cache may skip the step when its fingerprint is unchanged (implies stored).
    incremental:    builds on its own current table: SQL is rendered with is_incremental() false and
                    true at load, and the incremental config is validated (project/incremental.py).
    label:          the console's summary noun ("seeds", "unit tests"); "<name> models" when empty.
    """

    name: str
    inlined: bool = False
    session_scoped: bool = False
    stored: bool = False
    cacheable: bool = False
    incremental: bool = False
    label: str = ""

    @property
    def runs(self) -> bool:
        """Whether the node is a step of a plan at all."""
        return not self.inlined

    @property
    def holds_data(self) -> bool:
        """A relation a later run (or a reader outside the run) can find in the warehouse."""
        return not (self.inlined or self.session_scoped)

    @property
    def summary_label(self) -> str:
        return self.label or f"{self.name} models"


VIEW = Kind("view", session_scoped=True)
TABLE = Kind("table", stored=True, cacheable=True)
SEED = Kind("seed", stored=True, cacheable=True, label="seeds")
# A snapshot's next version depends on its previous one and on when it runs: never skipped by the cache.
SNAPSHOT = Kind("snapshot", stored=True, label="snapshots")
EPHEMERAL = Kind("ephemeral", inlined=True)
# Stored, but never skipped by the build cache: its next version depends on its own current one
# and on inputs (new source files, the clock for microbatch) a fingerprint does not capture.
INCREMENTAL = Kind("incremental", stored=True, incremental=True)
TEST = Kind("test", label="data tests")
UNIT_TEST = Kind("unit_test", label="unit tests")
SOURCE = Kind("source")  # a source is read, never built: not ours to store, inline or rebuild


class Kinds(Mapping[str, Kind]):
    """An immutable name -> Kind table. A name it does not know is a plain step that runs (the
    runner then reports an unknown materialisation, with the known names, at the model's file)."""

    def __init__(self, kinds: Iterable[Kind] = ()):
        self._kinds: dict[str, Kind] = {k.name: k for k in kinds}

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def named(self, name: str) -> Kind:
        return self._kinds.get(name) or Kind(name)

    def of(self, node: Node) -> Kind:
        """The kind of a node: its materialisation's, or SOURCE for a source."""
        if node.resource_type == "source":
            return SOURCE
        return self.named(node.materialized)

    def with_kind(self, kind: Kind) -> Kinds:
        """A new table with `kind` added (or replaced); this one is unchanged."""
        return Kinds((*self._kinds.values(), kind))


BUILTIN = Kinds((VIEW, TABLE, SEED, SNAPSHOT, EPHEMERAL, INCREMENTAL, TEST, UNIT_TEST))
