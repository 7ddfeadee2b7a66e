"""Ctrl-C that no import can swallow.

asammdf, which python-can imports whenever ``can`` is imported, wraps its optional
imports (sympy, fsspec, polars, cryptography) in bare ``except:`` clauses. A Ctrl-C that
lands while one of them loads raises KeyboardInterrupt inside that ``try``, asammdf
takes it for a missing package, and the command runs on as if no key had been pressed:
``keilog demo`` then ran to the end and exited 0. Importing sympy takes 0.25 s on an idle
machine and seconds on a loaded one or a small board, so the window is real.

The ``keilog`` entry point therefore imports asammdf with SIGINT deferred: a Ctrl-C
during that import is held and raised as KeyboardInterrupt as soon as the import ends.
The commands' own code is not touched; only the CLI installs this (a library never
changes its caller's signal handlers).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import signal
import sys
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Top-level packages whose import runs code that swallows KeyboardInterrupt.
SWALLOWING_IMPORTS = frozenset({"asammdf"})


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT for the block; raise KeyboardInterrupt after it if one came.

    Only the main thread receives signals; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if received:
            raise KeyboardInterrupt  # the user's Ctrl-C outranks how the block ended


class _DeferringLoader(importlib.abc.Loader):
    """A package's own loader, with SIGINT deferred while the package's code runs."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        # The package's submodules load inside this call, within the deferral.
        with interrupts_deferred():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like
        return getattr(self._loader, name)


class DeferInterruptsWhileImporting(importlib.abc.MetaPathFinder):
    """Finds the packages of ``SWALLOWING_IMPORTS`` with the other finders, and loads
    them with SIGINT deferred."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in SWALLOWING_IMPORTS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _DeferringLoader(spec.loader)
                return spec
        return None


def defer_interrupts_in_swallowing_imports() -> None:
    """Install the finder (once) in front of the others."""
    if not any(isinstance(f, DeferInterruptsWhileImporting) for f in sys.meta_path):
        sys.meta_path.insert(0, DeferInterruptsWhileImporting())
