"""Turn decoded columns into rows for the store's ``sig_<MESSAGE>`` tables.

The store inserts one row per decoded frame: its frame number, its time on the segment's
time base and a column per signal, built straight from the decoder's numpy columns
(``tolist`` once per column, no per-value Python work), with None (NULL) where a signal
is absent from a frame and the text ``"NaN"`` where a float signal's value is NaN (SQLite
would store a NaN REAL as NULL). A signal stored raw (keilog.store.schema.stores_raw)
gets its raw integer, recovered from the value as ``round((value - offset) / scale)``
and kept only where ``raw * scale + offset`` gives the value back bit for bit (the view
``msg_<MESSAGE>`` computes exactly that); any other value is stored as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keilog.decode import DecodeResult
from keilog.store.names import StoredNames

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
NAN_TEXT = "NaN"
"""How a signal value that is NaN is stored (NULL means the signal was absent)."""

Scales = dict[str, tuple[float, float]]  # stored column -> (scale, offset) of raw signals


@dataclass
class MessageRows:
    """The rows of one message table, as one iterable of values per column."""

    message: str
    columns: list[str]
    values: list[Iterable[Any]]
    count: int


def message_rows(
    result: DecodeResult,
    frame_ids: NDArray[np.int64],
    time_us: NDArray[np.int64] | None,
    names: StoredNames | None = None,
    scales: Any = None,
) -> Iterator[MessageRows]:
    """Rows for each message table: ``frame_ids`` and ``time_us`` (``mono_us``: the
    logger's microseconds, or a log's timestamps in microseconds) are per batch row.
    names: the stored column of each signal (default: the signal's own name).
    scales(message) -> Scales: the signals stored raw (default: none)."""
    for name, decoded in result.items():
        if not decoded.signals:
            continue
        signals = list(decoded.signals)
        columns = [names.column(name, s) if names else s for s in signals]
        raw: Scales = scales(name) if scales else {}
        rows = decoded.rows
        values: list[Iterable[Any]] = [
            frame_ids[rows].tolist(),
            [None] * len(rows) if time_us is None else _times(time_us[rows]),
        ]
        for column, (signal, values_of) in zip(columns, decoded.signals.items(), strict=True):
            mask = decoded.present.get(signal)
            values.append(_column(values_of, mask, raw.get(column.lower())))
        yield MessageRows(name, ["frame_id", "mono_us", *columns], values, len(decoded))


def _times(t: NDArray[np.int64]) -> list[Any]:
    return t.tolist()


def _column(
    values: NDArray[Any],
    mask: NDArray[np.bool_] | None,
    scale: tuple[float, float] | None = None,
) -> list[Any]:
    """One signal's values for SQLite: None where absent, ``NAN_TEXT`` for a NaN value,
    the raw integer where the signal is stored raw."""
    if scale is not None and values.dtype.kind == "f":
        s, o = scale
        with np.errstate(invalid="ignore", over="ignore"):
            raw = np.rint((values - o) / s)
            back = raw * s + o
            exact = (back == values) & (np.abs(raw) < 2.0**62)
        column: list[Any] = raw.astype(np.int64).tolist()
        if not exact.all():
            plain = values.tolist()
            for i in np.flatnonzero(~exact).tolist():
                column[i] = NAN_TEXT if plain[i] != plain[i] else plain[i]
    else:
        column = values.tolist()
        if values.dtype == np.uint64 or values.dtype == object:
            # SQLite INTEGER is signed 64-bit: wider integers are kept exact as text.
            column = [v if v is None or INT64_MIN <= v <= INT64_MAX else str(v) for v in column]
        elif values.dtype.kind == "f":
            nan = np.isnan(values)
            if mask is not None:
                nan &= mask
            if nan.any():
                # SQLite stores a NaN REAL as NULL, which means "absent"; a decoded NaN
                # (an IEEE float signal carrying NaN) is kept apart as text.
                for i in np.flatnonzero(nan).tolist():
                    column[i] = NAN_TEXT
    if mask is not None and not mask.all():
        column = [v if p else None for v, p in zip(column, mask.tolist(), strict=True)]
    return column
