"""What decoding a FrameBatch gives: one DecodedMessage per message, plus counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Problems counted per message and in DecodeStats (documented in docs/decode.md).
TRUNCATED = "truncated"  # frame shorter than the DBC length: signals past its end absent
UNDEFINED_MULTIPLEXER = "undefined_multiplexer"  # selector value the DBC does not define
UNDECODABLE = "undecodable"  # cantools could not decode the frame (fallback path)
UNSUPPORTED = "unsupported"  # a message keilog cannot decode at all (AUTOSAR container)


@dataclass(eq=False)
class DecodedMessage:
    """All frames of one message in a batch, as columns.

    ``rows`` index into the batch (ascending); ``signals`` holds one array per signal,
    ``len(self)`` long, with the values cantools gives with ``decode_choices=False``:
    int64 (uint64 for unsigned 64-bit raw values, object for Python ints wider than 64
    bits) where cantools returns ints, float64 where it returns floats. A signal absent
    from some frames (multiplexed, or past the end of a short frame) has a bool mask in
    ``present``; its array holds NaN (floats), 0 (ints) or None (objects) there. With
    ``choices=True`` ``labels`` holds, per signal with choices, the label of each
    frame's raw value (None where the DBC has no label for it, or the signal is absent).
    """

    name: str
    frame_id: int
    is_extended: bool
    rows: NDArray[np.int64]
    timestamps: NDArray[np.float64]
    signals: dict[str, NDArray[Any]]
    present: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    labels: dict[str, NDArray[np.object_]] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def is_present(self, signal: str) -> NDArray[np.bool_]:
        """Where ``signal`` has a value (all True unless it is sometimes absent)."""
        if signal not in self.signals:
            raise KeyError(f"message {self.name} has no signal {signal!r}")
        mask = self.present.get(signal)
        return np.ones(len(self), np.bool_) if mask is None else mask

    def signal_dicts(self, choices: bool = False) -> list[dict[str, Any]]:
        """One ``{signal: value}`` dict per frame, as cantools would return it.

        With ``choices`` (and a result decoded with ``choices=True``) a value that has a
        label is replaced by the label, like ``decode_choices=True`` (but as a plain str).
        """
        names = list(self.signals)
        columns: list[list[Any]] = []
        for name in names:
            values = self.signals[name].tolist()
            if choices and name in self.labels:
                values = [
                    v if label is None else label
                    for v, label in zip(values, self.labels[name].tolist(), strict=True)
                ]
            columns.append(values)
        if not self.present:
            return (
                [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
                if names
                else [{} for _ in range(len(self))]
            )
        masks = [self.is_present(name).tolist() for name in names]
        out: list[dict[str, Any]] = []
        for i in range(len(self)):
            out.append({n: col[i] for n, col, m in zip(names, columns, masks, strict=True) if m[i]})
        return out


@dataclass
class DecodeStats:
    """Counts over the frames of one or more decoded batches."""

    frames: int = 0  # every frame in the batch
    decoded: int = 0  # data frames of a message the DBC defines
    unknown: int = 0  # data frames whose id no DBC defines: skipped
    remote: int = 0  # remote frames: skipped (they carry no data)
    error_frames: int = 0  # error frames: skipped
    truncated: int = 0
    undefined_multiplexer: int = 0
    undecodable: int = 0
    unsupported: int = 0
    # frame id | is_extended << 31 -> frames, for the unknown ones
    unknown_ids: dict[int, int] = field(default_factory=dict)

    def add(self, other: DecodeStats) -> None:
        """Accumulate ``other`` (another chunk of the same log) into this one."""
        for f in fields(self):
            if f.name == "unknown_ids":
                for key, count in other.unknown_ids.items():
                    self.unknown_ids[key] = self.unknown_ids.get(key, 0) + count
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "unknown_ids"}
        out["unknown_ids"] = {
            f"0x{key & 0x1FFFFFFF:x}{'x' if key >> 31 else ''}": count
            for key, count in sorted(self.unknown_ids.items())
        }
        return out


class DecodeResult(dict[str, DecodedMessage]):
    """``{message name: DecodedMessage}`` for the messages present in a batch, plus
    ``stats`` and a per-frame view in batch order."""

    def __init__(
        self, messages: dict[str, DecodedMessage], stats: DecodeStats, choices: bool
    ) -> None:
        super().__init__(messages)
        self.stats = stats
        self.choices = choices

    def frames(self) -> Iterator[dict[str, Any]]:
        """One dict per decoded frame, in batch order, shaped as ``keilog decode`` prints it:
        ``{"timestamp", "arbitration_id", "is_extended_id", "message", "signals"}``."""
        messages = list(self.values())
        if not messages:
            return
        rows = np.concatenate([m.rows for m in messages])
        owner = np.concatenate([np.full(len(m), i, np.int64) for i, m in enumerate(messages)])
        position = np.concatenate([np.arange(len(m)) for m in messages])
        order = np.argsort(rows, kind="stable")
        dicts = [m.signal_dicts(self.choices) for m in messages]
        stamps = [m.timestamps.tolist() for m in messages]
        for i, p in zip(owner[order].tolist(), position[order].tolist(), strict=True):
            m = messages[i]
            yield {
                "timestamp": stamps[i][p],
                "arbitration_id": m.frame_id,
                "is_extended_id": m.is_extended,
                "message": m.name,
                "signals": dicts[i][p],
            }
