"""Where keilog finds the files it ships beside the Python package.

``firmware/`` and ``dbc/`` live at the top of the repository (they are not Python
package code). An editable install finds them there; a wheel carries them under
``keilog/data/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent.parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "data" / name, _REPO / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"keilog cannot find its {name}/ folder (looked in {_PACKAGE / 'data'} and {_REPO}); "
        "reinstall keilog from a full checkout"
    )


def firmware_dir() -> Path:
    """The firmware source tree (``main.py`` and ``lib/``)."""
    return _find("firmware")


def hardware_dir() -> Path:
    """The hardware guide's folder (board pin maps under ``boards/``)."""
    return _find("hardware")


def dbc_dir() -> Path:
    """The folder of DBC files that keilog ships."""
    return _find("dbc")


def keicar_dbc() -> Path:
    """The DBC of the simulated kei car."""
    return dbc_dir() / "keicar.dbc"
