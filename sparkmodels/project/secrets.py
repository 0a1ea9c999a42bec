"""The secret rule: which environment variable and var names mark their values as secrets, and
those values (report/redact.py masks them in everything written; render/jinja.py refuses secret env
vars in model SQL)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
MASK = "***"
# Shorter values ("1", "true") would mask unrelated text everywhere.
MIN_SECRET_LENGTH = 4


def is_secret_name(name: str) -> bool:
    """Whether an environment variable or var name marks its value as a secret (the README's rule)."""
    return bool(SECRET_NAME.search(str(name)))


def _secret_var_values(vars_: Mapping, inside_secret: bool = False):
    """Scalar values under secret-named keys of vars, at any depth (`db: {password: x}` too)."""
    for key, value in vars_.items():
        secret = inside_secret or is_secret_name(key)
        if isinstance(value, Mapping):
            yield from _secret_var_values(value, secret)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Mapping):
                    yield from _secret_var_values(item, secret)
                elif secret and item is not None and not isinstance(item, bool):
                    yield str(item)
        elif secret and value is not None and not isinstance(value, bool):
            yield str(value)


def secret_values(env: Mapping[str, str] | None = None, vars: Mapping | None = None) -> list[str]:
    """Values of secret-looking environment variables (and of secret-named vars, when given), longest
    first (so overlaps mask fully)."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if is_secret_name(k) and v}
    if vars:
        values.update(_secret_var_values(vars))
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


