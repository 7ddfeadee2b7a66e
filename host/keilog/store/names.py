"""DBC names as SQLite table and column names: data, never SQL.

A DBC (or KCD, SYM, ARXML) is as untrusted as a log: its message and signal names may
hold any character, including ``]``, quotes and SQL. Every name reaches SQL only through
:func:`quote` (sqlite-utils' own quoting: double quotes, doubled inside), and names
that SQLite would take for the same one are renamed by one rule (docs/database.md,
"Names"):

- a message's table is ``msg_<MESSAGE>``; SQLite compares table names without regard to
  case, so a message whose table name equals an earlier message's (in the DBC's order)
  case-insensitively gets ``_2``, ``_3``, ... (the first that is free);
- a signal's column is its name, unless it equals (case-insensitively) one of the lead
  columns every message table has (``frame_id``, ``timestamp``, ``device_id``,
  ``boot``, ``mono_us``, and ``segment``, which the stored tables of input records
  have), or ``true``/``false`` (SQLite 3.40 names a view column of either ``column1``,
  however it is quoted), or an earlier signal's column of the same message: then it gets
  ``_2``, ``_3``, ... the same way.

Each rename is reported (``SegmentImport.renamed``) and the ``signals`` table lists the
names as stored, so ``msg_<message>.<signal>`` always addresses the data.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils.db import quote_identifier

# Columns every message table has before its signals (keilog.store.decoded fills them).
LEAD_COLUMNS = ("frame_id", "timestamp", "device_id", "boot", "mono_us")
# "true" and "false": SQLite (3.40) turns a view column of either name, quoted or not,
# into "column1", so the msg_ views could not show such a signal under its name.
_RESERVED = (*LEAD_COLUMNS, "segment", "true", "false")


def quote(name: str) -> str:
    """A table or column name for SQL text, whatever characters it holds."""
    return str(quote_identifier(name))


def message_table(name: str) -> str:
    return f"msg_{name}"


def _free(name: str, taken: set[str]) -> str:
    """name, or name_2, name_3, ... : the first not in taken (compared in lower case)."""
    out = name
    n = 1
    while out.lower() in taken:
        n += 1
        out = f"{name}_{n}"
    taken.add(out.lower())
    return out


@dataclass
class StoredNames:
    """The table of each message and the column of each signal of one DBC."""

    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], str] = field(default_factory=dict)
    renamed: dict[str, list[str]] = field(default_factory=dict)  # by message

    def table(self, message: str) -> str:
        return self.tables[message]

    def column(self, message: str, signal: str) -> str:
        return self.columns[(message, signal)]


def stored_names(messages: Iterable[Any]) -> StoredNames:
    """Table and column names for cantools messages, by the rule above."""
    out = StoredNames()
    tables: set[str] = set()
    for msg in messages:
        if msg.name in out.tables:
            continue  # the same name twice: cantools keeps one message of it
        table = _free(message_table(msg.name), tables)
        out.tables[msg.name] = table
        if table != message_table(msg.name):
            out.renamed.setdefault(msg.name, []).append(
                f"message {msg.name!r} is stored in table {table!r} (its name equals another "
                "message's when case is ignored)"
            )
        taken = {c.lower() for c in _RESERVED}
        for sig in msg.signals:
            if (msg.name, sig.name) in out.columns:
                continue
            column = _free(sig.name, taken)
            out.columns[(msg.name, sig.name)] = column
            if column != sig.name:
                why = (
                    "a word SQLite's views take for a value"
                    if sig.name.lower() in ("true", "false")
                    else "a column every message table has"
                    if sig.name.lower() in _RESERVED
                    else "another signal's name when case is ignored"
                )
                out.renamed.setdefault(msg.name, []).append(
                    f"signal {sig.name!r} of message {msg.name!r} is stored in column "
                    f"{column!r} of {table!r} (its name equals {why})"
                )
    return out


_CACHE: weakref.WeakKeyDictionary[Any, StoredNames] = weakref.WeakKeyDictionary()


def names_of(can_db: Any) -> StoredNames:
    """The stored names of a cantools database (computed once per database object)."""
    names = _CACHE.get(can_db)
    if names is None:
        names = _CACHE[can_db] = stored_names(can_db.messages)
    return names


def file_name(name: str) -> str:
    """A table name as a file name for exports: ``/``, ``\\``, control characters and
    a leading dot become ``_`` (the rename is the export's, the table keeps its name)."""
    out = "".join("_" if c in "/\\" or ord(c) < 32 or ord(c) == 127 else c for c in name)
    return "_" + out[1:] if out.startswith(".") else out
