"""Turn decoded columns into rows for the store's ``msg_<MESSAGE>`` tables.

The store inserts one row per decoded frame, with a column per signal; this builds those
rows straight from the decoder's numpy columns (``tolist`` once per column, no per-value
Python work), with None where a signal is absent from a frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keilog.decode import DecodedMessage, DecodeResult

# Columns every message table has before its signals (store.py creates them).
LEAD_COLUMNS = ("frame_id", "timestamp", "device_id", "boot", "mono_us")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass
class MessageRows:
    message: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def message_rows(
    result: DecodeResult,
    frame_ids: NDArray[np.int64],
    device_id: str,
    boot: int,
    mono_us: Sequence[int | None] | NDArray[np.int64] | None,
) -> Iterator[MessageRows]:
    """Rows for each message table: ``frame_ids`` and ``mono_us`` are per batch row."""
    for name, decoded in result.items():
        if not decoded.signals:
            continue
        yield MessageRows(
            name,
            [*LEAD_COLUMNS, *decoded.signals],
            _rows(decoded, frame_ids, device_id, boot, mono_us),
        )


def _rows(
    decoded: DecodedMessage,
    frame_ids: NDArray[np.int64],
    device_id: str,
    boot: int,
    mono_us: Sequence[int | None] | NDArray[np.int64] | None,
) -> list[tuple[Any, ...]]:
    n = len(decoded)
    rows = decoded.rows
    columns: list[list[Any]] = [
        frame_ids[rows].tolist(),
        decoded.timestamps.tolist(),
        [device_id] * n,
        [boot] * n,
        [None] * n if mono_us is None else np.asarray(mono_us, dtype=object)[rows].tolist(),
    ]
    for signal, values in decoded.signals.items():
        column = values.tolist()
        if values.dtype == np.uint64 or values.dtype == object:
            # SQLite INTEGER is signed 64-bit: wider integers are kept exact as text.
            column = [v if v is None or INT64_MIN <= v <= INT64_MAX else str(v) for v in column]
        mask = decoded.present.get(signal)
        if mask is not None:
            column = [v if p else None for v, p in zip(column, mask.tolist(), strict=True)]
        columns.append(column)
    return list(zip(*columns, strict=True))
