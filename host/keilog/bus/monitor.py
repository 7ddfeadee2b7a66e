"""The latest decoded value of every signal seen on a bus (like ``cantools monitor``).

A :class:`Monitor` takes frames one at a time (cantools decodes each: a live bus gives
them one by one, so the batch decoder would only add latency) and keeps one row per
signal: its value, unit, and how many frames of its message were seen. :func:`watch`
feeds it from a bus and calls back on every decoded frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Event
from typing import Any

import can
from cantools.database import Database, DecodeError

from keilog.bus.connect import BusError


@dataclass
class SignalRow:
    message: str
    signal: str
    value: Any
    unit: str
    frame_id: int
    frames: int  # frames of the message seen
    timestamp: float  # of the latest

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if not isinstance(value, int | float | str | None):
            value = str(value)  # a cantools NamedSignalValue
        return {
            "message": self.message,
            "signal": self.signal,
            "value": value,
            "unit": self.unit,
            "frame_id": self.frame_id,
            "frames": self.frames,
            "timestamp": self.timestamp,
        }


@dataclass
class Update:
    """One decoded frame: its message and the rows it changed."""

    message: str
    timestamp: float
    rows: list[SignalRow]


class Monitor:
    """Decode frames with a cantools database; keep the latest value of each signal."""

    def __init__(self, database: Database, choices: bool = True) -> None:
        self.database = database
        self.choices = choices
        self.table: dict[tuple[str, str], SignalRow] = {}
        self.frames = 0
        self.unknown: dict[int, int] = {}  # frames whose id no DBC defines, by id
        self.undecodable = 0
        self._counts: dict[str, int] = {}
        self._by_id = {(m.frame_id, m.is_extended_frame): m for m in database.messages}

    def feed(self, msg: can.Message) -> Update | None:
        """Decode one frame; its update, or None for frames without signals to show."""
        self.frames += 1
        if msg.is_error_frame or msg.is_remote_frame:
            return None
        message = self._by_id.get((msg.arbitration_id, msg.is_extended_id))
        if message is None:
            self.unknown[msg.arbitration_id] = self.unknown.get(msg.arbitration_id, 0) + 1
            return None
        try:
            values = message.decode(
                bytes(msg.data), decode_choices=self.choices, allow_truncated=True
            )
        except (DecodeError, ValueError, KeyError) as exc:
            del exc
            self.undecodable += 1
            return None
        count = self._counts[message.name] = self._counts.get(message.name, 0) + 1
        units = {s.name: s.unit or "" for s in message.signals}
        rows = []
        for name, value in values.items():  # type: ignore[union-attr]
            row = SignalRow(
                message.name, name, value, units.get(name, ""), message.frame_id, count,
                msg.timestamp,
            )  # fmt: skip
            self.table[(message.name, name)] = row
            rows.append(row)
        return Update(message.name, msg.timestamp, rows)

    def rows(self) -> list[SignalRow]:
        """Every signal seen, by message name then signal name."""
        return [self.table[key] for key in sorted(self.table)]


def watch(
    bus: can.BusABC,
    monitor: Monitor,
    *,
    duration: float | None = None,
    stop: Event | None = None,
    on_update: Callable[[Update], None] | None = None,
    on_idle: Callable[[], None] | None = None,
) -> str:
    """Feed frames from ``bus`` to ``monitor`` until ``duration`` passes, ``stop`` is
    set or Ctrl-C; returns what stopped it. ``on_idle`` runs at least 10 times a second
    (to redraw a screen)."""
    started = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                return "duration"
            if stop is not None and stop.is_set():
                return "stop"
            timeout = 0.1 if duration is None else max(0.0, min(0.1, started + duration - now))
            try:
                msg = bus.recv(timeout=timeout)
            except (can.CanError, OSError) as exc:
                raise BusError(f"the CAN bus failed: {exc}; check the adapter") from exc
            if msg is not None:
                update = monitor.feed(msg)
                if update is not None and on_update is not None:
                    on_update(update)
            if on_idle is not None:
                on_idle()
    except KeyboardInterrupt:
        return "interrupt"
