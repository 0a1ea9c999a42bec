"""Booting a run's SparkSession in a background thread, so the JVM starts while the project loads."""

from __future__ import annotations

import contextlib
import threading


class SessionStart:
    """Starts a target's SparkSession in a background thread, so the JVM boots while the project loads
    and the plan is made (both variants of every run pay the JVM start; this only overlaps it)."""

    def __init__(self, target, app_name: str):
        from .storage import open_warehouse

        # An unsupported warehouse (or Connect with a Hadoop warehouse) fails before Spark starts.
        open_warehouse(target.warehouse, target.warehouse_storage, remote=target.remote, target=target.name)
        self._box: dict = {}
        self._thread = threading.Thread(target=self._start, args=(target, app_name), daemon=True,
                                        name="sparkmodels-session")
        self._thread.start()

    def _start(self, target, app_name: str) -> None:
        try:
            from .engine import build_session

            existing = None
            if not target.remote:
                from pyspark import SparkContext

                existing = SparkContext._active_spark_context
            self._box["spark"] = build_session(target, app_name)
            self._box["owned"] = existing is None  # a session the process already had is not ours to stop
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread by result()
            self._box["error"] = exc

    def result(self) -> tuple[object, bool]:
        """(session, whether this run owns it); raises what starting it raised."""
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["spark"], self._box["owned"]

    def discard(self) -> None:
        """The run ended before using the session (e.g. a selection error): stop it if it is ours."""
        self._thread.join()
        if self._box.get("owned"):
            with contextlib.suppress(Exception):
                self._box["spark"].stop()
