"""Load DBC (and KCD/SYM/ARXML) files with cantools, with errors that name the file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import cantools
import cantools.database

from keilog.errors import DbcError

_LINE = re.compile(r"line (\d+)")


def load_file(path: str | Path, strict: bool = False) -> cantools.database.Database:
    """Load one database file; raise DbcError naming the file (and line if known)."""
    p = Path(path)
    if not p.is_file():
        raise DbcError(f"{p}: no such DBC file; check the path given with --dbc")
    try:
        db = cantools.database.load_file(str(p), strict=strict)
    except Exception as exc:  # cantools raises many types (ParseError, ValueError, ...)
        # cantools' parse errors say "line N"; pass that on so users can open the file
        # at the right place.
        text = str(exc)
        m = _LINE.search(text)
        where = f"{p}:{m.group(1)}" if m else str(p)
        raise DbcError(
            f"{where}: cantools cannot load this database: {text}. Fix that line or "
            "leave the file out"
        ) from exc
    if not isinstance(db, cantools.database.can.Database):
        raise DbcError(f"{p}: not a CAN database (cantools loaded a {type(db).__name__})")
    return db


def load_files(paths: Iterable[str | Path]) -> cantools.database.Database:
    """Load several files into one database (later files add messages)."""
    merged = cantools.database.can.Database(strict=False)
    seen: dict[tuple[int, bool], Path] = {}
    for path in paths:
        db = load_file(path)
        for msg in db.messages:
            key = (msg.frame_id, bool(msg.is_extended_frame))
            if key in seen:
                raise DbcError(
                    f"{path}: message {msg.name} (0x{msg.frame_id:X}) is also defined in "
                    f"{seen[key]}; give each CAN id in one DBC only"
                )
            seen[key] = Path(path)
            merged.messages.append(msg)
    merged.refresh()
    return merged
