"""Bulk inserts into SQLite from columns, with many rows per INSERT statement.

Python's ``executemany`` runs one statement per row; most of its cost per row is the
statement's reset and the Python loop around it, not SQLite's work. One statement that
inserts :data:`ROWS_PER_STATEMENT` rows (``values (?,?),(?,?),...``) measured about 40 %
faster here for the store's tables (sqlite3 3.40, CPython 3.11). Nothing in the
standard library or sqlite-utils does this with columns already in hand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from keilog.store.names import quote

ROWS_PER_STATEMENT = 64


def insert_columns(
    conn: sqlite3.Connection,
    table: str,
    names: Sequence[str],
    columns: Sequence[Iterable[Any]],
    rows: int,
) -> None:
    """Insert ``rows`` rows given as one iterable per column (each ``rows`` long; lists
    are used as they are)."""
    if not rows:
        return
    width = len(names)
    flat: list[Any] = [None] * (rows * width)
    for j, column in enumerate(columns):
        values = column if isinstance(column, list) else list(column)
        if len(values) != rows:
            raise ValueError(f"{table}.{names[j]}: {len(values)} values given, {rows} expected")
        flat[j::width] = values  # interleave: one C loop per column
    # Names are data (a DBC's message and signal names): always quoted, never spliced.
    head = f"insert into {quote(table)} ({', '.join(map(quote, names))}) values "
    one = "(" + ",".join("?" * width) + ")"
    per = ROWS_PER_STATEMENT * width
    full = rows // ROWS_PER_STATEMENT * per
    if full:
        conn.executemany(
            head + ",".join([one] * ROWS_PER_STATEMENT),
            (flat[i : i + per] for i in range(0, full, per)),
        )
    if full < len(flat):
        conn.execute(head + ",".join([one] * ((len(flat) - full) // width)), flat[full:])
