"""The firmware's own modules under CPython, for the host as a logger.

``keilog log`` writes segments with the firmware's encoder (``record.py``) and segment
store (``segment.py``) rather than a second encoder: one writer of the format, tested
against the golden vectors. They are MicroPython modules; under CPython they need only
``micropython.const`` while loading and ``time.ticks_diff`` while encoding, supplied
here to the loaded module alone (unlike ``keilog.unixport.cpython_shim``, which patches
the whole process to run the firmware's main loop).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import cache
from types import ModuleType

from keilog.errors import KeilogError
from keilog.paths import firmware_dir


def _ticks_diff(a: int, b: int) -> int:
    # The host passes microseconds since the start of the run: they never wrap.
    return a - b


@cache
def firmware_module(name: str) -> ModuleType:
    """``firmware/lib/logger/<name>.py``, loaded under CPython (once per process)."""
    path = firmware_dir() / "lib" / "logger" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"keilog_firmware_{name}", path)
    if spec is None or spec.loader is None:
        raise KeilogError(f"{path}: cannot load the firmware's {name} module")
    module = importlib.util.module_from_spec(spec)
    shim = types.ModuleType("micropython")
    shim.const = lambda x: x  # type: ignore[attr-defined]
    previous = sys.modules.get("micropython")
    sys.modules["micropython"] = shim
    try:
        spec.loader.exec_module(module)
    except (OSError, SyntaxError, ImportError) as exc:
        raise KeilogError(f"{path}: cannot load the firmware's {name} module: {exc}") from exc
    finally:
        if previous is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = previous
    if hasattr(module, "time"):
        module.time = types.SimpleNamespace(ticks_diff=_ticks_diff)  # type: ignore[attr-defined]
    return module
