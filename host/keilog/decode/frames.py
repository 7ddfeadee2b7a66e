"""A batch of CAN frames as columns of numpy arrays: what the fast decoder works on.

One row per frame. ``data`` is zero-padded to a fixed width (8 bytes for classic CAN,
up to 64 for CAN FD); ``dlc`` is the number of data bytes the frame really carried
(python-can's convention: for CAN FD this is the length, not the 4-bit DLC code).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import can
import numpy as np
from numpy.typing import NDArray

MAX_WIDTH = 64
OPTIONAL_FLAGS = ("is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator")


@dataclass(frozen=True, eq=False)
class FrameBatch:
    """Columnar CAN frames.

    timestamp: float64 seconds (UTC Unix time or log-relative, as the source gives them).
    arbitration_id: uint32; is_extended: bool; dlc: uint8 byte count;
    data: uint8 of shape (N, W), W a multiple of 8 from 8 to 64, zero past ``dlc``.
    is_remote / is_error: bool, or None when the batch has no such frames; the decoder
    skips remote and error frames (they carry no signal data) and counts them. A remote
    frame's ``dlc`` is the length it requests; its data is all zero.
    is_fd / bitrate_switch / error_state_indicator: CAN FD flags (python-can's), or None
    when the batch has no CAN FD frames.
    """

    timestamp: NDArray[np.float64]
    arbitration_id: NDArray[np.uint32]
    is_extended: NDArray[np.bool_]
    dlc: NDArray[np.uint8]
    data: NDArray[np.uint8]
    is_remote: NDArray[np.bool_] | None = None
    is_error: NDArray[np.bool_] | None = None
    is_fd: NDArray[np.bool_] | None = None
    bitrate_switch: NDArray[np.bool_] | None = None
    error_state_indicator: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        def column(name: str, dtype: type[np.generic]) -> None:
            value = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            if value.ndim != 1:
                raise ValueError(f"FrameBatch.{name} must be one-dimensional, got {value.shape}")
            object.__setattr__(self, name, value)

        column("timestamp", np.float64)
        column("arbitration_id", np.uint32)
        column("is_extended", np.bool_)
        column("dlc", np.uint8)
        for name in OPTIONAL_FLAGS:
            if getattr(self, name) is not None:
                column(name, np.bool_)
        data = np.ascontiguousarray(self.data, dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] % 8 or not 8 <= data.shape[1] <= MAX_WIDTH:
            raise ValueError(
                f"FrameBatch.data must have shape (N, W) with W a multiple of 8 from 8 to "
                f"{MAX_WIDTH}, got {data.shape}"
            )
        object.__setattr__(self, "data", data)
        n = len(self.timestamp)
        for name in ("arbitration_id", "is_extended", "dlc", "data", *OPTIONAL_FLAGS):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"FrameBatch.{name} has {len(value)} rows, timestamp has {n}")
        if n and int(self.dlc.max()) > data.shape[1]:
            row = int(np.argmax(self.dlc > data.shape[1]))
            raise ValueError(
                f"frame {row} has {int(self.dlc[row])} data bytes but the batch is only "
                f"{data.shape[1]} bytes wide"
            )

    def __len__(self) -> int:
        return len(self.timestamp)

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @classmethod
    def empty(cls, width: int = 8) -> FrameBatch:
        return cls(
            timestamp=np.zeros(0),
            arbitration_id=np.zeros(0, np.uint32),
            is_extended=np.zeros(0, np.bool_),
            dlc=np.zeros(0, np.uint8),
            data=np.zeros((0, width), np.uint8),
        )

    @classmethod
    def from_messages(cls, messages: Iterable[can.Message], width: int | None = None) -> FrameBatch:
        """Build a batch from python-can messages (as any python-can reader yields them).

        ``width`` defaults to 8, or 64 when any frame carries more than 8 bytes.
        """
        return FrameBuilder(width).extend(messages).build()

    def take(self, rows: NDArray[np.integer[Any]] | slice) -> FrameBatch:
        """The frames at ``rows`` (an index array or a slice), in that order."""
        return FrameBatch(
            timestamp=self.timestamp[rows],
            arbitration_id=self.arbitration_id[rows],
            is_extended=self.is_extended[rows],
            dlc=self.dlc[rows],
            data=self.data[rows],
            **{
                name: None if getattr(self, name) is None else getattr(self, name)[rows]
                for name in OPTIONAL_FLAGS
            },
        )

    def flag(self, name: str) -> NDArray[np.bool_]:
        """One of the optional flag columns, all False when the batch has none."""
        value: NDArray[np.bool_] | None = getattr(self, name)
        return np.zeros(len(self), np.bool_) if value is None else value

    def chunks(self, size: int) -> Iterator[FrameBatch]:
        """Consecutive slices of at most ``size`` frames."""
        for start in range(0, len(self), size):
            yield self.take(slice(start, start + size))

    def payload(self, row: int) -> bytes:
        """The data bytes of one frame (``dlc`` of them; none for a remote frame)."""
        if self.is_remote is not None and self.is_remote[row]:
            return b""
        return self.data[row, : int(self.dlc[row])].tobytes()


class FrameBuilder:
    """Accumulates python-can messages into columns."""

    def __init__(self, width: int | None) -> None:
        self.width = width
        self.timestamp: list[float] = []
        self.arbitration_id: list[int] = []
        self.is_extended: list[bool] = []
        self.dlc: list[int] = []
        self.payloads: list[bytes] = []
        self.is_remote: list[bool] = []
        self.is_error: list[bool] = []
        self.is_fd: list[bool] = []
        self.bitrate_switch: list[bool] = []
        self.error_state_indicator: list[bool] = []

    def extend(self, messages: Iterable[can.Message]) -> FrameBuilder:
        for msg in messages:
            remote = msg.is_remote_frame
            payload = b"" if remote else bytes(msg.data)
            self.timestamp.append(msg.timestamp)
            self.arbitration_id.append(msg.arbitration_id)
            self.is_extended.append(msg.is_extended_id)
            self.dlc.append(min(msg.dlc, MAX_WIDTH) if remote else len(payload))
            self.payloads.append(payload)
            self.is_remote.append(remote)
            self.is_error.append(msg.is_error_frame)
            self.is_fd.append(msg.is_fd)
            self.bitrate_switch.append(msg.bitrate_switch)
            self.error_state_indicator.append(msg.error_state_indicator)
        return self

    def build(self) -> FrameBatch:
        longest = max((*map(len, self.payloads), *self.dlc), default=0)
        if longest > MAX_WIDTH:
            raise ValueError(f"a frame carries {longest} data bytes; CAN FD allows at most 64")
        width = self.width or (8 if longest <= 8 else MAX_WIDTH)
        if longest > width:
            raise ValueError(f"a frame carries {longest} data bytes, more than width {width}")
        blob = b"".join(p.ljust(width, b"\0") for p in self.payloads)
        n = len(self.payloads)
        return FrameBatch(
            timestamp=np.array(self.timestamp, np.float64),
            arbitration_id=np.array(self.arbitration_id, np.uint32),
            is_extended=np.array(self.is_extended, np.bool_),
            dlc=np.array(self.dlc, np.uint8),
            data=np.frombuffer(blob, np.uint8).reshape(n, width),
            **{
                name: np.array(values, np.bool_) if any(values) else None
                for name in OPTIONAL_FLAGS
                if (values := getattr(self, name)) is not None
            },
        )
