"""Frames as plain rows, to compare keilog's log readers with python-can's exactly."""

from __future__ import annotations

from collections.abc import Iterable

import can
import numpy as np
from keilog.decode import FrameBatch
from keilog.decode.frames import OPTIONAL_FLAGS

Row = tuple[float, int, bool, int, bytes, bool, bool, bool, bool, bool]


def rows(batches: Iterable[FrameBatch]) -> list[Row]:
    """Every frame: timestamp, id, extended, dlc, payload and the five flags."""
    out: list[Row] = []
    for b in batches:
        flags = [b.flag(name).tolist() for name in OPTIONAL_FLAGS]
        columns = zip(
            b.timestamp.tolist(), b.arbitration_id.tolist(), b.is_extended.tolist(),
            b.dlc.tolist(), *flags, strict=True,
        )  # fmt: skip
        for i, (t, ident, ext, dlc, *flag) in enumerate(columns):
            out.append((t, ident, ext, dlc, b.payload(i), *flag))  # type: ignore[arg-type]
    return out


def python_can_rows(messages: Iterable[can.Message]) -> list[Row]:
    """The same rows from python-can's messages, as FrameBatch.from_messages keeps them."""
    return rows([FrameBatch.from_messages(list(messages))])


def concat(batches: Iterable[FrameBatch]) -> FrameBatch:
    """One batch of several (the width of the widest)."""
    parts = [b for b in batches if len(b)]
    if not parts:
        return FrameBatch.empty()
    width = max(b.width for b in parts)

    def flag(name: str) -> list[bool] | None:
        values = [v for b in parts for v in b.flag(name).tolist()]
        return values if any(values) else None

    data = np.zeros((sum(map(len, parts)), width), np.uint8)
    at = 0
    for b in parts:
        data[at : at + len(b), : b.width] = b.data
        at += len(b)
    return FrameBatch(
        timestamp=np.concatenate([b.timestamp for b in parts]),
        arbitration_id=np.concatenate([b.arbitration_id for b in parts]),
        is_extended=np.concatenate([b.is_extended for b in parts]),
        dlc=np.concatenate([b.dlc for b in parts]),
        data=data,
        **{name: flag(name) for name in OPTIONAL_FLAGS},
    )
