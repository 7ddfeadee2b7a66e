"""The optional libraries the fleet commands need, checked with a one-line error."""

from __future__ import annotations

import importlib.util

from keilog.errors import ConfigError


def need(*modules: str, extra: str = "fleet") -> None:
    """Raise ConfigError naming the pip extra when one of ``modules`` is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"keilog fleet needs {' and '.join(missing)}: pip install 'keilog[{extra}]'"
        )
