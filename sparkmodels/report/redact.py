"""Secret redaction: values of environment variables and vars whose names look secret never reach
artifacts, compiled SQL, the docs site, logs, `debug` output or error messages."""

from __future__ import annotations

import os
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


def redact_file(path, secrets: list[str] | None = None) -> None:
    """Mask secrets in a text file in place (a log another process wrote); missing files are fine."""
    secrets = secret_values() if secrets is None else secrets
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    clean = redact_text(text, secrets)
    if clean != text:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(clean)
        os.replace(tmp, path)
