"""Reference decoding with cantools, for comparing keilog's decoder value by value."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from cantools.database.can import Message, Signal
from cantools.database.errors import DecodeError
from keilog.decode import DecodeResult, FrameBatch
from keilog.decode.compile import MuxNode

REL = 1e-9  # the tolerance for floats; in practice values are bit-identical


def same_value(expected: Any, got: Any) -> bool:
    """cantools' value and keilog's: ints exactly (and both int), floats to 1e-9."""
    if isinstance(expected, float) or isinstance(got, float):
        if not (isinstance(expected, float) and isinstance(got, float)):
            return False
        if math.isnan(expected) or math.isnan(got):
            return math.isnan(expected) and math.isnan(got)
        return expected == got or math.isclose(expected, got, rel_tol=REL, abs_tol=0.0)
    return type(expected) is type(got) and expected == got


def diff(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Signals whose presence or value differs, {} when the dicts agree."""
    return {
        name: (expected.get(name, "<absent>"), got.get(name, "<absent>"))
        for name in set(expected) | set(got)
        if name not in expected or name not in got or not same_value(expected[name], got[name])
    }


def rows_by_index(result: DecodeResult) -> dict[int, tuple[str, dict[str, Any]]]:
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    for name, decoded in result.items():
        for row, signals in zip(decoded.rows.tolist(), decoded.signal_dicts(), strict=True):
            out[row] = (name, signals)
    return out


def lone_signal_message(message: Message, signal: Signal, length: int) -> Message:
    """A message holding only ``signal``, unmultiplexed, ``length`` bytes long.

    cantools decodes it independently of the multiplexer tree, which gives the expected
    value of a signal wherever keilog says it is present.
    """
    lone = copy.copy(signal)
    lone.multiplexer_ids = None
    lone.multiplexer_signal = None
    lone.is_multiplexer = False
    return Message(
        frame_id=message.frame_id,
        name=message.name,
        length=length,
        signals=[lone],
        is_extended_frame=message.is_extended_frame,
        strict=False,
    )


_LONE: dict[tuple[int, str], Message] = {}


def decode_lone(message: Message, signal: Signal, payload: bytes) -> Any:
    """The signal's cantools value from ``payload``, or None past the payload's end."""
    key = (id(message), signal.name)
    if key not in _LONE:
        _LONE[key] = lone_signal_message(message, signal, 64)
    lone = _LONE[key]
    try:
        return lone.decode(payload, decode_choices=False, allow_truncated=True).get(signal.name)
    except DecodeError:
        return None


def cantools_or_error(message: Message, payload: bytes) -> dict[str, Any] | DecodeError:
    try:
        return message.decode(payload, decode_choices=False, allow_truncated=True)
    except DecodeError as exc:
        return exc


def set_signal_bits(message: Message, signal: Signal, frame: bytearray, raw: int) -> None:
    """Write ``raw`` into ``signal``'s bits of ``frame`` with cantools' encoder."""
    width = len(frame)
    lone = lone_signal_message(message, signal, width)
    ones = -1 if signal.is_signed else (1 << signal.length) - 1
    mask = lone.encode({signal.name: ones}, scaling=False, padding=False, strict=False)
    bits = lone.encode({signal.name: raw}, scaling=False, padding=False, strict=False)
    for i in range(width):
        frame[i] = (frame[i] & ~mask[i] & 0xFF) | bits[i]


def random_frames(
    message: Message, tree: list[str | MuxNode], rng: np.random.Generator, count: int, width: int
) -> list[bytes]:
    """``count`` random payloads of the message's length; for a multiplexed message the
    selectors are set to values the DBC defines (picked at random along the tree)."""
    length = min(message.length, width)
    frames = []
    for _ in range(count):
        frame = bytearray(rng.integers(0, 256, length, dtype=np.uint8).tobytes())
        if any(isinstance(n, MuxNode) for n in tree) and length:
            nodes = tree
            while True:
                muxes = [n for n in nodes if isinstance(n, MuxNode)]
                if not muxes:
                    break
                mux = muxes[int(rng.integers(len(muxes)))]
                value = list(mux.branches)[int(rng.integers(len(mux.branches)))]
                signal = message.get_signal_by_name(mux.signal)
                try:
                    set_signal_bits(message, signal, frame, value)
                except (OverflowError, ValueError):  # selector value beyond its bits
                    break
                nodes = mux.branches[value]
        frames.append(bytes(frame))
    return frames


def batch_of(
    message_frames: list[tuple[Message, list[bytes]]], width: int
) -> tuple[FrameBatch, list[tuple[Message, bytes]]]:
    rows = [(m, p) for m, payloads in message_frames for p in payloads]
    n = len(rows)
    data = np.zeros((n, width), np.uint8)
    for i, (_, payload) in enumerate(rows):
        data[i, : len(payload)] = np.frombuffer(payload, np.uint8)
    batch = FrameBatch(
        timestamp=np.arange(n) * 0.001 + 1717250400.0,
        arbitration_id=np.array([m.frame_id for m, _ in rows], np.uint32),
        is_extended=np.array([m.is_extended_frame for m, _ in rows], np.bool_),
        dlc=np.array([len(p) for _, p in rows], np.uint8),
        data=data,
    )
    return batch, rows


def keicar_drive(db: Any, seconds: float, t0: float = 1717250400.0) -> list[Any]:
    """Frames of every message of ``db`` at its DBC cycle time, random payloads of the
    DBC length, timestamps from ``t0`` (2024-06-01 14:00 UTC), standard ids."""
    import can

    rng = np.random.default_rng(464)
    schedule = []
    for message in db.messages:
        period = (message.cycle_time or 100) / 1000
        schedule += [(i * period, message) for i in range(int(seconds / period))]
    schedule.sort(key=lambda item: (item[0], item[1].frame_id))
    return [
        can.Message(
            timestamp=t0 + t,
            arbitration_id=m.frame_id,
            is_extended_id=m.is_extended_frame,
            data=rng.integers(0, 256, m.length, dtype=np.uint8).tobytes(),
            channel=0,
        )
        for t, m in schedule
    ]
