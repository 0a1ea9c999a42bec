"""A test's outcome: what one data or unit test found (status, failure count, message, extras)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TestOutcome:
    """What one test found: pass|warn|fail, the failure count, a message and extras."""

    status: str
    failures: int
    message: str = ""
    extra: Mapping = field(default_factory=dict)
