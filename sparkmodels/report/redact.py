"""Secret redaction: values of environment variables and vars whose names look secret never reach
artifacts, compiled SQL, the docs site, logs, `debug` output or error messages."""

from __future__ import annotations

from collections.abc import Mapping

# The rule lives with the project stage, which refuses secret env vars in model SQL (render/jinja.py).
from sparkmodels.project.secrets import (  # noqa: F401 - re-exported
    MASK,
    MIN_SECRET_LENGTH,
    SECRET_NAME,
    is_secret_name,
    secret_values,
)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """text with every secret value replaced by ***."""
    for value in secret_values() if secrets is None else secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact(value, secrets: list[str] | None = None):
    """A copy of a JSON-like value (dicts, lists, strings) with secret values masked."""
    secrets = secret_values() if secrets is None else secrets
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {redact(k, secrets) if isinstance(k, str) else k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value

