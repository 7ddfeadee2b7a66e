"""The firmware's own modules under CPython, for the host as a logger.

``keilog log`` writes segments with the firmware's encoder (``record.py``) and segment
store (``segment.py``) rather than a second encoder: one writer of the format, tested
against the golden vectors. They are MicroPython modules; under CPython they need only
``micropython.const`` while loading and ``time.ticks_diff`` while encoding, supplied
here to the loaded module alone (unlike ``keilog.unixport.cpython_shim``, which patches
the whole process to run the firmware's main loop); the block CRC is computed with zlib
(see ``_crc``).
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import types
import zlib
from functools import cache
from types import ModuleType

from keilog.errors import KeilogError
from keilog.paths import firmware_dir

BLOCK_SIZE = 512


def _ticks_diff(a: int, b: int) -> int:
    # The host passes microseconds since the start of the run: they never wrap.
    return a - b


def _crc(buf: bytearray, at: int) -> None:
    # record.py's _crc, with zlib: the firmware computes the block's CRC-32 with small
    # ints by hand because binascii.crc32 allocates on 32-bit ports; on CPython zlib gives
    # the same value (tests/bus/test_firmware_modules.py) in a fraction of the time.
    struct.pack_into("<I", buf, at, zlib.crc32(buf))


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
    if name == "record":
        module.firmware_crc = module._crc  # type: ignore[attr-defined]
        module._crc = _crc  # type: ignore[attr-defined]
    return module
