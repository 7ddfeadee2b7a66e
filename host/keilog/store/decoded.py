"""Turn decoded columns into rows for the store's ``msg_<MESSAGE>`` tables.

The store inserts one row per decoded frame, with a column per signal; this builds those
columns straight from the decoder's numpy columns (``tolist`` once per column, no per-value
Python work), with None (NULL) where a signal is absent from a frame and the text
``"NaN"`` where a float signal's value is NaN (SQLite would store a NaN REAL as NULL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keilog.decode import DecodedMessage, DecodeResult
from keilog.store.names import LEAD_COLUMNS, StoredNames

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
NAN_TEXT = "NaN"
"""How a signal value that is NaN is stored (NULL means the signal was absent)."""


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
    device_id: str,
    boot: int,
    mono_us: Sequence[int | None] | NDArray[np.int64] | None,
    names: StoredNames | None = None,
) -> Iterator[MessageRows]:
    """Rows for each message table: ``frame_ids`` and ``mono_us`` are per batch row.
    names: the stored column of each signal (default: the signal's own name)."""
    for name, decoded in result.items():
        if not decoded.signals:
            continue
        signals = list(decoded.signals)
        yield MessageRows(
            name,
            [*LEAD_COLUMNS, *(names.column(name, s) if names else s for s in signals)],
            _columns(decoded, frame_ids, device_id, boot, mono_us),
            len(decoded),
        )


def _columns(
    decoded: DecodedMessage,
    frame_ids: NDArray[np.int64],
    device_id: str,
    boot: int,
    mono_us: Sequence[int | None] | NDArray[np.int64] | None,
) -> list[Iterable[Any]]:
    n = len(decoded)
    rows = decoded.rows
    if mono_us is None:
        monos: list[Any] = [None] * n
    elif isinstance(mono_us, np.ndarray):
        monos = mono_us[rows].tolist()
    else:
        monos = np.asarray(mono_us, dtype=object)[rows].tolist()
    columns: list[Iterable[Any]] = [
        frame_ids[rows].tolist(),
        decoded.timestamps.tolist(),  # NaN (no clock) is stored as NULL
        [device_id] * n,
        [boot] * n,
        monos,
    ]
    for signal, values in decoded.signals.items():
        columns.append(_column(values, decoded.present.get(signal)))
    return columns


def _column(values: NDArray[Any], mask: NDArray[np.bool_] | None) -> list[Any]:
    """One signal's values for SQLite: None where absent, ``NAN_TEXT`` for a NaN value."""
    column: list[Any] = values.tolist()
    if values.dtype == np.uint64 or values.dtype == object:
        # SQLite INTEGER is signed 64-bit: wider integers are kept exact as text.
        column = [v if v is None or INT64_MIN <= v <= INT64_MAX else str(v) for v in column]
    elif values.dtype.kind == "f":
        nan = np.isnan(values)
        if mask is not None:
            nan &= mask
        if nan.any():
            # SQLite stores a NaN REAL as NULL, which means "absent"; a decoded NaN (an
            # IEEE float signal carrying NaN) is kept apart as text.
            for i in np.flatnonzero(nan).tolist():
                column[i] = NAN_TEXT
    if mask is not None and not mask.all():
        column = [v if p else None for v, p in zip(column, mask.tolist(), strict=True)]
    return column
