"""Console output: dbt-shaped progress lines, a live status on terminals, and the closing summary."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from sparkmodels.project.kinds import BUILTIN

WIDTH = 80


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


# dbt's words for a count of each resource type, in the order its "Found ..." line lists them
_COUNTED = (("model", "model", "models"), ("snapshot", "snapshot", "snapshots"),
            ("analysis", "analysis", "analyses"), ("seed", "seed", "seeds"), ("test", "data test", "data tests"),
            ("unit_test", "unit test", "unit tests"), ("source", "source", "sources"))


def count_nodes(nodes: Iterable) -> str:
    """`3 models, 1 snapshot, 2 analyses` for some Nodes, per resource type as dbt counts them
    (unit tests apart from data tests); `0 nodes` for none."""
    counts: dict[str, int] = {}
    for n in nodes:
        kind = "unit_test" if n.resource_type == "test" and n.is_unit_test else n.resource_type
        counts[kind] = counts.get(kind, 0) + 1
    words = {kind: (one, many) for kind, one, many in _COUNTED}
    order = [k for k, _, _ in _COUNTED if k in counts] + sorted(k for k in counts if k not in words)
    return ", ".join(f"{counts[k]} {words.get(k, (k, k + 's'))[counts[k] != 1]}" for k in order) or "0 nodes"


def _describe_kind(step) -> str:
    node = step.node
    if node.resource_type == "seed":
        return "seed file"
    if node.resource_type == "test":
        return "test"
    lang = "python" if node.language == "python" else "sql"
    return f"{lang} {step.materialized} model"


class Reporter:
    """Receives runner events and prints them; safe to call from worker threads."""

    def __init__(self, console: Console | None = None, *, quiet: bool = False):
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal and not quiet
        # Redirected output (CI logs, files) has no styles to render: one plain write per line instead
        # of rich's render pipeline, which costs ~0.5 ms a line, two lines per model.
        self._plain = not self.console.is_terminal and not self.console.record
        self.quiet = quiet
        self._lock = threading.Lock()
        self._status = None
        self._running: dict[str, str] = {}
        self.secrets: list[str] | None = None  # values to mask (None: secret env vars); set per run

    # -- plain lines ---------------------------------------------------------------------------
    def line(self, text: str = "", style: str | None = None) -> None:
        if self.quiet:
            return
        from sparkmodels.report.redact import redact_text

        with self._lock:
            if self._plain:
                file = self.console.file
                file.write(f"{_stamp()}  {redact_text(text, self.secrets)}\n")
                file.flush()
            else:
                self.console.print(f"{_stamp()}  {redact_text(text, self.secrets)}", style=style, markup=False)

    def warn(self, text: str) -> None:
        self.line(f"[WARNING]: {text}", style="yellow")

    def _dotted(self, left: str, right: str) -> str:
        dots = "." * max(3, WIDTH - len(left) - len(right) - 2)
        return f"{left} {dots} {right}"

    # -- runner events ---------------------------------------------------------------------------
    def __call__(self, kind: str, **data) -> None:
        handler = getattr(self, f"on_{kind}", None)
        if handler:
            handler(**data)

    def on_start(self, step, index: int, total: int) -> None:
        self._running[step.unique_id] = step.name
        if self.live:
            self._refresh_status()
        else:
            self.line(self._dotted(f"{index} of {total} START {_describe_kind(step)} {step.name}", "[RUN]"))
        if step.reason:
            self.line(f"    (building {step.name}: {step.reason}; views live only in one session)")

    def on_done(self, step, result) -> None:
        self._running.pop(step.unique_id, None)
        idx = getattr(self, "_done", 0) + 1
        self._done = idx
        total = getattr(self, "total", None) or "?"
        t = f"{result.execution_time:.2f}s"
        if result.resource_type == "test" and result.status in ("pass", "warn", "fail"):
            word = result.status.upper() + (f" {result.failures}" if result.status != "pass" else "")
            style = {"pass": "green", "warn": "yellow", "fail": "red"}[result.status]
            self.line(self._dotted(f"{idx} of {total} {word} {step.name}", f"[{word} in {t}]"), style=style)
        elif result.status == "success" and (result.extra or {}).get("cached"):
            self.line(self._dotted(f"{idx} of {total} SKIP (unchanged) {step.name}", f"[SKIP in {t}]"), style="green")
        elif result.status == "success":
            rows = f"{result.rows:,} rows " if result.rows is not None else ""
            left = f"{idx} of {total} OK {result.message} {step.name}"
            self.line(self._dotted(left, f"[OK {rows}in {t}]"), style="green")
        elif result.resource_type == "test":
            self.line(self._dotted(f"{idx} of {total} ERROR {step.name}", f"[ERROR in {t}]"), style="red")
        else:
            left = f"{idx} of {total} ERROR {_verb(step)} {step.name}"
            self.line(self._dotted(left, f"[ERROR in {t}]"), style="red")
        if self.live:
            self._refresh_status()

    def on_skip(self, step, result) -> None:
        self._done = getattr(self, "_done", 0) + 1
        total = getattr(self, "total", None) or "?"
        self.line(self._dotted(f"{self._done} of {total} SKIP {step.name}", f"[{result.message}]"),
                  style="yellow")

    def on_hooks(self, which: str, total: int) -> None:
        self.line(f"Running {total} {which} hook{'s' if total != 1 else ''}")

    def on_hook(self, which: str, index: int, total: int, name: str, seconds: float, error=None) -> None:
        """One on-run-start/on-run-end hook done (dbt's `1 of 1 OK hook: project.on-run-end.0`)."""
        word = "ERROR" if error is not None else "OK"
        self.line(self._dotted(f"{index} of {total} {word} hook: {name}", f"[{word} in {seconds:.2f}s]"),
                  style="red" if error is not None else "green")

    def on_interrupt(self, steps) -> None:
        names = ", ".join(s.name for s in steps) or "nothing"
        self.line(f"Ctrl-C: cancelling the Spark jobs of {names}.", style="yellow")

    def _refresh_status(self) -> None:
        with self._lock:
            text = "running: " + ", ".join(self._running.values()) if self._running else ""
            if self._status is None and text:
                self._status = self.console.status(escape(text))
                self._status.start()
            elif self._status is not None:
                if text:
                    self._status.update(escape(text))
                else:
                    self._status.stop()
                    self._status = None

    def stop(self) -> None:
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None

    # -- framing ---------------------------------------------------------------------------------
    def begin(self, total: int, summary: str) -> None:
        self.total = total
        self._done = 0
        self.line(summary)
        self.line("")

    def finish(self, result, what: str = "running") -> None:
        self.stop()
        counts = result.counts()
        kinds: dict[str, int] = {}
        for r in result.results:
            label = BUILTIN.named(r.materialized).summary_label  # "seeds", "unit tests", "table models"
            kinds[label] = kinds.get(label, 0) + 1
        parts = ", ".join(f"{n} {k if n != 1 else k[:-1]}" for k, n in sorted(kinds.items()))
        self.line("")
        self.line(f"Finished {what} {parts or 'nothing'} in {result.elapsed:.2f}s.")
        self._heaviest(result)
        errors = [r for r in result.results if r.status in ("error", "fail")]
        hook_errors = tuple(getattr(result, "hook_errors", ()))  # a failed on-run-start/on-run-end hook
        if result.interrupted:
            self.line("Interrupted (Ctrl-C). Tables that were being written keep their previous version.",
                      style="yellow")
        if errors or hook_errors:
            n = len(errors) + len(hook_errors)
            self.line("")
            self.line(f"Completed with {n} error{'s' if n != 1 else ''}:", style="red")
            for r in errors:
                self.line("")
                self.line(str(r.error) if r.error else _test_problem("Failure", r), style="red")
            for exc in hook_errors:
                self.line("")
                self.line(str(exc), style="red")
        elif not result.interrupted:
            self.line("Completed successfully", style="green")
        for r in result.results:
            if r.status == "warn":
                self.line("")
                self.line(_test_problem("Warning", r), style="yellow")
        ok = counts.get("success", 0) + counts.get("pass", 0)
        self.line("")
        self.line(
            f"Done. PASS={ok} WARN={counts.get('warn', 0)} ERROR={counts.get('error', 0) + counts.get('fail', 0)} "
            f"SKIP={counts.get('skipped', 0)} TOTAL={len(result.results)}"
        )

    def _heaviest(self, result) -> None:
        """The models that cost Spark the most (executor time, bytes written, shuffle)."""
        from sparkmodels.execute.spark.metrics import heaviest, human_bytes

        top = heaviest([r for r in result.results if r.resource_type != "test"])
        if len(top) < 2:
            return  # one model: the progress line already says it all
        self.line("Heaviest models (Spark executor time / written / shuffle):")
        for name, m in top:
            secs = f"{m['executor_run_time_ms'] / 1000:.1f}s" if m.get("executor_run_time_ms") is not None else "?"
            self.line(f"  {name}: {secs} / {human_bytes(m.get('bytes_written'))} in "
                      f"{m.get('files_written') if m.get('files_written') is not None else '?'} files / "
                      f"{human_bytes(m.get('shuffle_write_bytes'))} shuffled, {m.get('tasks') or '?'} tasks")

    def error(self, exc: BaseException) -> None:
        from sparkmodels.report.redact import redact_text

        self.stop()
        self.console.print(redact_text(str(exc), self.secrets), style="red", markup=False, highlight=False)

    def warnings(self, items: Iterable[str]) -> None:
        for w in items:
            self.warn(w)


def _test_problem(kind: str, r) -> str:
    """dbt's closing lines for a failing or warning test: name, then what was found."""
    return f"{kind} in test {r.name}\n  {r.message}" if r.resource_type == "test" else f"{r.name}: {r.message}"


def _verb(step) -> str:
    if step.node.resource_type == "seed":
        return "loading seed"
    return f"creating {step.materialized}"
