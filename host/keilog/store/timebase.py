"""A segment's clock in the database: ``clock_pieces``, from which the ``msg_`` views
compute each decoded row's UTC timestamp from its stored ``mono_us``.

keilog.logformat.clock maps a boot's monotonic microseconds to UTC, piecewise: rate 1
from a reference point (steps, and before the first and after the last GPS point), or
linear between two GPS points. Each piece is a row (segment, mono_from, mono_ref,
utc_ref, slope): a time ``m`` belongs to the piece with the largest ``mono_from <= m``,
and its UTC is ``(utc_ref + (m - mono_ref)) / 1e6`` (slope NULL) or
``(slope * (m - mono_ref) + utc_ref) / 1e6``, the same double-precision operations
numpy's ``interp`` does, so the view gives the very timestamps the import computed.
Other loggers' logs have one piece at rate 1 from 0: their rows store the log's own
timestamps in microseconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from keilog.logformat.clock import Clock

FIRST = -(1 << 63)  # mono_from of the piece that reaches back before every point

Piece = tuple[int, int, int, float | None]  # mono_from, mono_ref, utc_ref, slope


def pieces(clock: Clock) -> list[Piece]:
    """The pieces of a clock (none when it is unknown)."""
    if not clock.known:
        return []
    m = [int(v) for v in clock.mono_us]
    u = [int(v) for v in clock.utc_us]
    out: dict[int, Piece] = {FIRST: (FIRST, m[0], u[0], None)}
    if clock.interpolate and len(m) >= 2:
        for j in range(len(m) - 1):
            if m[j + 1] != m[j]:
                slope = (float(u[j + 1]) - float(u[j])) / (float(m[j + 1]) - float(m[j]))
                out[m[j]] = (m[j], m[j], u[j], slope)
        out[m[-1]] = (m[-1], m[-1], u[-1], None)
    else:
        for mj, uj in zip(m[1:], u[1:], strict=True):
            out[mj] = (mj, mj, uj, None)  # the latest point at or before a time
    return list(out.values())


LOG_PIECES: list[Piece] = [(FIRST, 0, 0, None)]  # a log's own timestamps, in microseconds


def store_pieces(conn: sqlite3.Connection, segment: int, rows: list[Piece]) -> None:
    conn.executemany(
        "insert into clock_pieces (segment, mono_from, mono_ref, utc_ref, slope) "
        "values (?,?,?,?,?)",
        [(segment, *row) for row in rows],
    )


def load_pieces(conn: sqlite3.Connection, segment: int) -> list[Piece]:
    """The stored pieces of a segment's clock, in order (none: its clock is unknown)."""
    return [
        (int(f), int(m), int(u), None if s is None else float(s))
        for f, m, u, s in conn.execute(
            "select mono_from, mono_ref, utc_ref, slope from clock_pieces "
            "where segment = ? order by mono_from",
            [segment],
        )
    ]


def utc_at(rows: Sequence[Piece], time_us: NDArray[np.int64]) -> NDArray[np.float64]:
    """UTC seconds of times on a segment's time base, by its pieces, with the very
    operations of the ``msg_`` views' SQL (NaN everywhere when there are no pieces)."""
    if not rows:
        return np.full(len(time_us), np.nan)
    mono_from = np.array([r[0] for r in rows], np.int64)
    mono_ref = np.array([r[1] for r in rows], np.int64)
    utc_ref = np.array([r[2] for r in rows], np.int64)
    slope = np.array([np.nan if r[3] is None else r[3] for r in rows], np.float64)
    at = np.searchsorted(mono_from, time_us, side="right") - 1
    at[at < 0] = 0  # cannot happen: the first piece starts at FIRST
    since = time_us - mono_ref[at]
    out = (utc_ref[at] + since).astype(np.float64)  # SQL: integer sum, then / 1e6
    sloped = ~np.isnan(slope[at])
    if sloped.any():
        out[sloped] = slope[at][sloped] * since[sloped].astype(np.float64) + utc_ref[at][
            sloped
        ].astype(np.float64)
    return out / 1e6
