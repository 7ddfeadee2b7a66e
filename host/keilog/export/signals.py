"""Decoded signals out of a database: physical values with their units, as CSV or MF4.

The database holds one ``msg_<MESSAGE>`` table per decoded message (a column per signal,
physical values as cantools computes them) and the ``signals`` table with each signal's
unit (docs/database.md). This reads the chosen signals of the whole database, one trip,
or a UTC time window, and writes them:

* ``.csv``: one row per sample, ``timestamp,message,signal,value,unit`` in time order
  (long format: messages come at their own rates, so no row would hold every signal);
* ``.mf4``: ASAM MDF 4.10 through asammdf, one channel group per message (its own time
  base), one channel per signal with its unit and the message as its source; time is
  seconds from the first sample, whose UTC time is the file's start time. A channel is
  named after its signal, or ``MESSAGE.SIGNAL`` where several messages share the name
  (e.g. ``COUNTER``). Values are float64; a signal absent from a frame (multiplexed) is
  NaN there.

Signals are named ``SIGNAL`` (every message that has it) or ``MESSAGE.SIGNAL``.
"""

from __future__ import annotations

import csv
import datetime
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlite_utils

from keilog.export.source import ExportError, trip_extent_or_export_error
from keilog.store.names import quote
from keilog.store.schema import has_raw_frames

F64 = npt.NDArray[np.float64]
SIGNAL_SUFFIXES = (".csv", ".mf4")


@dataclass
class SignalSeries:
    """One signal's samples: UTC seconds (logger seconds without a clock) and values."""

    message: str
    signal: str
    unit: str
    t: F64
    v: F64
    integer: bool = False  # an integer signal (the store keeps it as INTEGER); v is float64

    @property
    def name(self) -> str:
        return f"{self.message}.{self.signal}"


@dataclass(frozen=True)
class Window:
    """Which rows of the message tables: a device and boot, UTC or logger time."""

    where: str = ""
    args: tuple[Any, ...] = ()
    label: str = "the database"
    # The trip's frame numbers, for the tables whose rows decode raw frames (a search of
    # their primary key; input records have no frame number and keep ``where`` alone).
    frames: str = ""
    frame_args: tuple[Any, ...] = ()

    def of(self, conn: Any, view: str) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause (with "where", or empty) and its arguments for ``view``."""
        parts = [p for p in (self.where,) if p]
        args: tuple[Any, ...] = self.args
        if self.frames and has_raw_frames(conn, view):
            parts.insert(0, self.frames)
            args = (*self.frame_args, *args)
        return (f" where {' and '.join(parts)}" if parts else ""), args


def window(
    db: sqlite_utils.Database,
    trip: int | None = None,
    start: float | None = None,
    end: float | None = None,
) -> Window:
    """Rows of trip ``trip`` and/or between UTC seconds ``start`` and ``end``."""
    parts: list[str] = []
    args: list[Any] = []
    label = "the database"
    if trip is not None:
        extent = trip_extent_or_export_error(db, trip)
        # The trip's frame numbers first: a search of each sig_ table's primary key
        # (the msg_ views compute timestamp, which no index serves); the window beside.
        frames, frame_args = extent.frame_condition()
        parts.append("device_id = ? and boot = ?")
        args += [extent.device_id, extent.boot]
        if extent.start is not None and extent.end is not None:
            parts.append("timestamp between ? and ?")
            args += [extent.start, extent.end]
        elif extent.mono is not None:
            parts.append("mono_us between ? and ?")
            args += list(extent.mono)
        label = f"trip {trip}"
    if start is not None:
        parts.append("timestamp >= ?")
        args.append(start)
    if end is not None:
        parts.append("timestamp <= ?")
        args.append(end)
    if start is not None or end is not None:
        label += " in the time window"
    if trip is not None:
        return Window(" and ".join(parts), tuple(args), label, frames, tuple(frame_args))
    return Window(" and ".join(parts), tuple(args), label)


def available(db: sqlite_utils.Database) -> list[tuple[str, str, str]]:
    """(message, signal, unit) of every decoded signal in the database."""
    if not db.table("signals").exists():
        return []
    rows = db.execute(
        "select message, signal, coalesce(unit, '') from signals order by message, signal"
    ).fetchall()
    tables = {*db.table_names(), *db.view_names()}
    return [(m, s, u) for m, s, u in rows if f"msg_{m}" in tables]


def resolve(db: sqlite_utils.Database, names: Sequence[str]) -> list[tuple[str, str, str]]:
    """The (message, signal, unit) that ``names`` mean; every signal when empty."""
    known = available(db)
    if not known:
        raise ExportError(
            "the database has no decoded signals; import the logs with --dbc to decode them"
        )
    if not names:
        return known
    chosen: list[tuple[str, str, str]] = []
    for name in names:
        message, dot, signal = name.rpartition(".")
        found = [k for k in known if k[1] == signal and (not dot or k[0] == message)]
        if not found:
            similar = sorted({f"{m}.{s}" for m, s, _ in known if signal.lower() in s.lower()})
            hint = f"; did you mean {', '.join(similar[:5])}?" if similar else ""
            raise ExportError(
                f"no decoded signal {name} in the database{hint} (keilog dbc FILE lists a "
                "DBC's signals)"
            )
        chosen += [k for k in found if k not in chosen]
    return chosen


def read_signals(
    db: sqlite_utils.Database, chosen: Sequence[tuple[str, str, str]], where: Window
) -> list[SignalSeries]:
    """Samples of each chosen signal within ``where``, in time order."""
    out: list[SignalSeries] = []
    for message in dict.fromkeys(m for m, _, _ in chosen):
        cond, cond_args = where.of(db.conn, f"msg_{message}")
        signals = [(s, u) for m, s, u in chosen if m == message]
        columns = db[f"msg_{message}"].columns_dict
        cols = ", ".join(quote(s) for s, _ in signals if s in columns)
        rows = db.execute(
            f"select timestamp, mono_us, {cols} from {quote(f'msg_{message}')}{cond} "
            "order by coalesce(timestamp, mono_us / 1e6), frame_id",
            list(cond_args),
        ).fetchall()
        t = np.array(
            [ts if ts is not None else (mono or 0) / 1e6 for ts, mono, *_ in rows], np.float64
        )
        for k, (signal, unit) in enumerate(s for s in signals if s[0] in columns):
            v = np.array([_number(r[2 + k]) for r in rows], np.float64)
            out.append(SignalSeries(message, signal, unit, t, v, columns[signal] is int))
    return out


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)  # "NaN" (how the store keeps a NaN) reads as nan too
    except (TypeError, ValueError):
        return math.nan


def write_signals_csv(out: Path, series: Sequence[SignalSeries]) -> int:
    """Long-format CSV, rows in time order (none where a signal is absent or NaN); rows
    written."""
    rows: list[tuple[float, int, int]] = []
    for i, s in enumerate(series):
        present = np.flatnonzero(~np.isnan(s.v))
        rows += [(float(s.t[j]), i, int(j)) for j in present.tolist()]
    rows.sort()
    with out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["timestamp", "message", "signal", "value", "unit"])
        for t, i, j in rows:
            s = series[i]
            value = float(s.v[j])
            shown = int(value) if value.is_integer() else value
            writer.writerow([f"{t:.6f}", s.message, s.signal, shown, s.unit])
    return len(rows)


def write_signals_mf4(out: Path, series: Sequence[SignalSeries]) -> int:
    """MDF 4.10 with one channel group per message; samples written."""
    from asammdf import MDF, Signal

    counts: dict[str, int] = {}
    for s in series:
        counts[s.signal] = counts.get(s.signal, 0) + 1
    starts = [float(s.t[0]) for s in series if len(s.t)]
    t0 = min(starts) if starts else 0.0
    mdf = MDF(version="4.10")
    if t0 > 86_400 * 365:  # UTC, not logger seconds
        mdf.header.start_time = datetime.datetime.fromtimestamp(t0, datetime.UTC)
    written = 0
    try:
        for message in dict.fromkeys(s.message for s in series):
            group = [s for s in series if s.message == message and len(s.t)]
            if not group:
                continue
            mdf.append(
                [
                    Signal(
                        samples=s.v,
                        timestamps=s.t - t0,
                        name=s.signal if counts[s.signal] == 1 else s.name,
                        unit=s.unit,
                        comment=f"{s.message}.{s.signal}",
                    )
                    for s in group
                ],
                acq_name=message,
                comment=f"message {message}",
            )
            written += sum(len(s.t) for s in group)
        mdf.save(out, overwrite=True)
    finally:
        mdf.close()
    return written


def export_signals(
    db: sqlite_utils.Database,
    out: Path,
    names: Sequence[str] = (),
    trip: int | None = None,
    start: float | None = None,
    end: float | None = None,
    done: Callable[[int], None] | None = None,
) -> tuple[list[SignalSeries], int]:
    """Write the chosen signals to ``out`` (.csv or .mf4); the series and samples."""
    suffix = out.suffix.lower()
    if suffix not in SIGNAL_SUFFIXES:
        raise ExportError(
            f"{out}: signals export to .csv or .mf4, not {suffix or '(no extension)'}"
        )
    series = read_signals(db, resolve(db, names), window(db, trip, start, end))
    writer = write_signals_mf4 if suffix == ".mf4" else write_signals_csv
    samples = writer(out, series)
    if done is not None:
        done(samples)
    return series, samples
