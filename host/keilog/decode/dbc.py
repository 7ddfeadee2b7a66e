"""Load DBC (and KCD/SYM/ARXML) files with cantools, turning its errors into DbcError.

cantools parses the files; keilog adds what its errors leave out: the file name and, for
errors that cantools reports without a position (an id wider than its frame format, a
VAL_ entry for a signal that does not exist), the line the problem is on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import cantools
import textparser
from cantools.database import Database, UnsupportedDatabaseFormatError
from cantools.database.can import Message

from keilog import paths
from keilog.errors import DbcError

# cantools' encoding for DBC files (Vector tools write Windows-1252).
DBC_ENCODING = "cp1252"

_SUFFIXES = {".dbc", ".kcd", ".sym", ".arxml", ".cdd"}


def load_database(path: str | Path) -> Database:
    """Load one database file with cantools (``strict=False``, as real DBCs need).

    Raises DbcError naming the file and, where it can be found, the line, as
    ``path:line: ...``.
    """
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise DbcError(
            f"{path}: not a database file keilog can read (expected one of "
            f"{', '.join(sorted(_SUFFIXES))}); pass the car's DBC file with --dbc"
        )
    try:
        db = cantools.database.load_file(str(path), strict=False)
    except OSError as exc:
        raise DbcError(
            f"{path}: cannot read the file ({exc.strerror or exc}); check the path"
        ) from exc
    except UnsupportedDatabaseFormatError as exc:
        raise DbcError(_describe_rejection(path, exc)) from exc
    if not isinstance(db, Database):
        raise DbcError(f"{path}: this is a diagnostics database, not a CAN database; pass a DBC")
    for message in db.messages:
        if not _sound_tree(message.signal_tree):
            raise DbcError(
                f"{path}: message {message.name!r} has a damaged multiplexer definition "
                "(cantools read a signal tree with an empty node); fix the file"
            )
    return db


def _sound_tree(tree: object) -> bool:
    """A cantools signal tree holds only signal names and {multiplexer: {value: tree}}."""
    if not isinstance(tree, list):
        return False
    for node in tree:
        if isinstance(node, str):
            continue
        if not isinstance(node, dict):
            return False
        for branches in node.values():
            if not isinstance(branches, dict) or not all(map(_sound_tree, branches.values())):
                return False
    return True


def load_databases(paths: Iterable[str | Path]) -> Database:
    """Load several files into one database for one bus.

    Two files that both define a message with the same frame id (standard and extended
    ids are distinct) would make decoding ambiguous, so that raises DbcError naming both.
    """
    databases = [(Path(p), load_database(p)) for p in paths]
    if not databases:
        raise DbcError("no DBC file given; pass at least one with --dbc")
    if len(databases) == 1:
        return databases[0][1]
    messages: list[Message] = []
    seen: dict[tuple[int, bool], tuple[Message, Path]] = {}
    names: dict[str, tuple[Message, Path]] = {}
    for path, db in databases:
        for message in db.messages:
            key = (message.frame_id, message.is_extended_frame)
            if key in seen and seen[key][1] != path:
                other, other_path = seen[key]
                raise DbcError(
                    f"{path}: message {message.name} has frame id 0x{message.frame_id:x}, which "
                    f"{other_path} already gives to {other.name}; keilog decodes one bus at a "
                    "time: pass only the DBC files of that bus"
                )
            if message.name in names and names[message.name][1] != path:
                other, other_path = names[message.name]
                raise DbcError(
                    f"{path}: message name {message.name} (0x{message.frame_id:x}) is also used "
                    f"by {other_path} (0x{other.frame_id:x}); rename one of them"
                )
            seen[key] = (message, path)
            names[message.name] = (message, path)
            messages.append(message)
    return Database(messages=messages, strict=False)


def _describe_rejection(path: Path, exc: UnsupportedDatabaseFormatError) -> str:
    """`path, line N: what cantools said` for a file cantools rejects."""
    suffix = path.suffix.lower().lstrip(".")
    cause = getattr(exc, f"e_{suffix}", None) or exc.__cause__ or exc
    detail = " ".join(str(cause).split()).rstrip(".")
    line = _find_line(path, cause)
    where = f"{path}:{line}" if line is not None else f"{path} (cantools gives no line)"
    return (
        f"{where}: cantools cannot load this database: {detail}. "
        "Fix that line or leave the file out (keilog reads DBC files as cantools does)"
    )


def _find_line(path: Path, cause: BaseException) -> int | None:
    if isinstance(cause, textparser.ParseError):
        return int(cause.line)
    message = str(cause)
    try:
        text = path.read_text(encoding=DBC_ENCODING, errors="replace")
    except OSError:
        return None
    patterns: list[str] = []
    # "Standard frame id 0x10630000 is more than 11 bits in message DriverDoorStatus."
    named = re.search(r"in message (\S+?)\.?$", message)
    if named:
        patterns.append(rf"^[ \t]*BO_[ \t]+\d+[ \t]+{re.escape(named.group(1))}[ \t]*:")
    # "unused VAL_ entries in DBC:\n    VAL_ 352 ACM_VehicleHoldRequired"
    for frame_id, signal in re.findall(r"VAL_ (\d+) (\w+)", message):
        patterns.append(rf"^[ \t]*VAL_[ \t]+{frame_id}[ \t]+{re.escape(signal)}\b")
    for pattern in patterns:
        found = re.search(pattern, text, flags=re.MULTILINE)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


INPUTS_DBC = "keilog_inputs.dbc"
"""The DBC of the logger's own inputs (VSS, tach, analog, switches), in ``dbc/``."""


@functools.cache
def inputs_database() -> Database:
    """``dbc/keilog_inputs.dbc``: how input records (docs/log-format.md, tag 0xF1)
    decode. keilog import applies it to every input record by itself."""
    return load_database(paths.dbc_dir() / INPUTS_DBC)
