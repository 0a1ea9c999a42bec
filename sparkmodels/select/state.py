"""Comparison with a previous invocation (--state): state:new/modified and result:<status> matchers (pure).

A state directory holds a previous `manifest.json` (and optionally `run_results.json`), e.g. the
production job's `target/`. Everything here reads JSON and compares it with the current Manifest;
no Spark and no writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sparkmodels.errors import SelectionError, did_you_mean
from sparkmodels.project.frozen import thaw
from sparkmodels.project.manifest import Manifest, Node

MODIFIED_PARTS = ("body", "configs", "relation", "macros", "contract")
STATE_VALUES = ("new", "old", "modified", "unmodified", *(f"modified.{p}" for p in MODIFIED_PARTS))
# Config keys that decide where a node is stored rather than how it is computed (dbt's "relation").
RELATION_KEYS = ("schema", "alias", "database")


@dataclass(frozen=True)
class PreviousState:
    """A previous invocation's manifest (nodes, sources, macros) and run results, as plain dicts."""

    path: Path
    nodes: Mapping[str, dict]
    macros: Mapping[str, dict]
    metadata: Mapping[str, object]
    results: Mapping[str, dict] | None = None  # unique_id -> run_results entry
    args: Mapping[str, object] = field(default_factory=dict)  # run_results.json "args"

    @property
    def warehouse(self) -> str | None:
        """The warehouse the previous run wrote to (for --defer)."""
        value = self.metadata.get("warehouse")
        return str(value) if value else None

    @property
    def warehouse_storage(self) -> str:
        """How the previous run stored tables (auto: by the warehouse URI; older manifests lack it)."""
        return str(self.metadata.get("warehouse_storage") or "auto")

    @property
    def schema(self) -> str | None:
        value = self.metadata.get("schema")
        return str(value) if value else None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SelectionError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SelectionError(f"{path} is not a JSON object.")
    return data


def load_state(state_dir: str | Path, *, require_manifest: bool = True) -> PreviousState:
    """Read <state_dir>/manifest.json and, if present, run_results.json."""
    root = Path(state_dir)
    if not root.is_dir():
        raise SelectionError(f"--state '{state_dir}' is not a directory.",
                             hint="Point --state at a previous run's target/ folder (it holds manifest.json).")
    mpath = root / "manifest.json"
    if mpath.exists():
        data = _read_json(mpath)
    elif require_manifest:
        raise SelectionError(f"--state '{state_dir}' has no manifest.json.",
                             hint="Run `sparkmodels compile` (or any run) there first, or point at its target/.")
    else:
        data = {}
    nodes = {**(data.get("nodes") or {}), **(data.get("sources") or {}), **(data.get("unit_tests") or {})}
    results, args = None, {}
    rpath = root / "run_results.json"
    if rpath.exists():
        rdata = _read_json(rpath)
        results = {r["unique_id"]: r for r in rdata.get("results") or () if isinstance(r, dict) and "unique_id" in r}
        args = rdata.get("args") or {}
    return PreviousState(root, nodes, data.get("macros") or {}, data.get("metadata") or {}, results, args)


def _norm(value) -> str:
    return json.dumps(thaw(value), sort_keys=True, default=str)


class StateComparison:
    """Answers state:<value> for current nodes against a PreviousState (memoised per node)."""

    def __init__(self, manifest: Manifest, previous: PreviousState):
        self.manifest = manifest
        self.previous = previous
        self._macro_changed: dict[str, bool] = {}

    def is_new(self, node: Node) -> bool:
        return node.unique_id not in self.previous.nodes

    def body_changed(self, node: Node, prev: dict) -> bool:
        return node.checksum != ((prev.get("checksum") or {}).get("checksum") or "")

    def configs_changed(self, node: Node, prev: dict) -> bool:
        # every config key, as dbt (a schema change is both a configs and a relation change); a test's
        # internals (its arguments, tested node, YAML line) are Node.test, not config, so not compared
        return _norm(node.config) != _norm(prev.get("config") or {})

    def relation_changed(self, node: Node, prev: dict) -> bool:
        now = {k: thaw(node.config.get(k)) for k in RELATION_KEYS}
        then = {k: (prev.get("config") or {}).get(k) for k in RELATION_KEYS}
        if node.resource_type == "source":
            now.update(identifier=node.identifier, external=thaw(node.external) if node.external else None)
            then.update(identifier=prev.get("identifier"), external=prev.get("external"))
        return _norm(now) != _norm(then)

    def contract_changed(self, node: Node, prev: dict) -> bool:
        # dbt's same_contract: unenforced both times is the same; otherwise enforcement and checksum
        if node.resource_type != "model":
            return False
        now, then = node.contract_dict(), prev.get("contract") or {}
        if not now["enforced"] and not then.get("enforced"):
            return False
        return (now["enforced"], now["checksum"]) != (bool(then.get("enforced")), then.get("checksum"))

    def _macro_modified(self, uid: str, trail: frozenset = frozenset()) -> bool:
        if uid in self._macro_changed:
            return self._macro_changed[uid]
        macro = self.manifest.macros.get(uid)
        prev = self.previous.macros.get(uid)
        if macro is None or prev is None:
            changed = macro is not None or prev is not None  # added or removed
        else:
            changed = macro.checksum != ((prev.get("checksum") or {}).get("checksum") or "")
            if not changed and uid not in trail:
                changed = any(self._macro_modified(m, trail | {uid}) for m in macro.depends_on_macros)
        self._macro_changed[uid] = changed
        return changed

    def macros_changed(self, node: Node, prev: dict) -> bool:
        before = set((prev.get("depends_on") or {}).get("macros") or ())
        if before != set(node.depends_on_macros):
            return True  # the model now calls different macros (its body changed too, usually)
        return any(self._macro_modified(m) for m in node.depends_on_macros)

    def parts_changed(self, node: Node) -> set[str]:
        """Which of body/configs/relation/macros differ; every part for a new node."""
        prev = self.previous.nodes.get(node.unique_id)
        if prev is None:
            return set(MODIFIED_PARTS)
        checks = {"body": self.body_changed, "configs": self.configs_changed,
                  "relation": self.relation_changed, "macros": self.macros_changed,
                  "contract": self.contract_changed}
        return {part for part, check in checks.items() if check(node, prev)}

    def matches(self, node: Node, value: str) -> bool:
        """The `state:` selector method."""
        if value not in STATE_VALUES:
            raise SelectionError(f"unknown state selector 'state:{value}'." + did_you_mean(value, STATE_VALUES),
                                 hint="Use state:new, state:modified or state:modified.body|configs|relation|macros|contract.")
        if value == "new":
            return self.is_new(node)
        if value == "old":
            return not self.is_new(node)
        if value == "unmodified":
            return not self.is_new(node) and not self.parts_changed(node)
        if value == "modified":
            return self.is_new(node) or bool(self.parts_changed(node))
        return not self.is_new(node) and value.split(".", 1)[1] in self.parts_changed(node)


RESULT_VALUES = ("success", "error", "fail", "skipped", "pass", "warn")


def result_matcher(previous: PreviousState) -> Callable[[Node, str], bool]:
    """The `result:` selector method: the node's status in the previous run_results.json."""

    def match(node: Node, value: str) -> bool:
        if previous.results is None:
            raise SelectionError(f"'result:{value}' needs a run_results.json in --state '{previous.path}'.")
        if value not in RESULT_VALUES:
            raise SelectionError(f"unknown result status 'result:{value}'." + did_you_mean(value, RESULT_VALUES))
        entry = previous.results.get(node.unique_id)
        return entry is not None and entry.get("status") == value

    return match


def selector_context(manifest: Manifest, previous: PreviousState | None) -> dict:
    """The `context` for selector.evaluate: state: and result: methods when a state is given."""
    if previous is None:
        return {}
    return {"state": StateComparison(manifest, previous).matches, "result": result_matcher(previous)}


def retry_targets(previous: PreviousState, statuses=("error", "fail", "skipped")) -> list[str]:
    """unique_ids that failed or were skipped in the previous invocation, in its order."""
    return [uid for uid, r in (previous.results or {}).items() if r.get("status") in statuses]
