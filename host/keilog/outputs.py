"""What a command creates: checked before it is made, removed if the run fails.

A command that fails (a bad input, an error half-way, Ctrl-C) leaves behind nothing it
made: no empty database, no archive folder, no half-written output. Paths that existed
before the run are never touched; only what this run created is removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from keilog.errors import KeilogError

# SQLite keeps a journal (or WAL and shared memory) beside a database while it writes.
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


def check_parent(path: str | Path, what: str = "file") -> Path:
    """Refuse, in one line, an output whose folder does not exist."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise KeilogError(
            f"{p}: the folder {parent} does not exist; create it or give another {what} path"
        )
    return p


def _new(paths: tuple[str | Path, ...]) -> list[Path]:
    """The paths (and the topmost missing folder of each) that do not exist yet."""
    new: list[Path] = []
    for path in map(Path, paths):
        top = path
        while not top.parent.exists() and top.parent != top:
            top = top.parent
        if not top.exists() and not top.is_symlink():
            new.append(top)
            if top == path:
                new.extend(Path(f"{path}{s}") for s in _SQLITE_SIDE_FILES)
    return new


def remove(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


@contextmanager
def undo_on_failure(
    *paths: str | Path, keep_if: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Remove each of ``paths`` that this block creates, if the block raises (Ctrl-C too).

    A file that exists already (a database being added to) is kept as it is: undoing its
    changes is its own transaction's job. ``keep_if()``, asked after a failure, says that
    what was made already holds data worth keeping (a sync that fetched part of a log).
    """
    created = _new(paths)
    try:
        yield
    except BaseException:
        if keep_if is None or not keep_if():
            remove(created)
        raise
