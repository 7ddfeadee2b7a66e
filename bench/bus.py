"""keilog log and keilog play against python-can's own logger and player loops.

Recording: N frames queued on python-can's in-process virtual bus are received and
written as KLG segments by ``keilog.bus.record`` (the firmware's encoder under CPython),
against python-can's ``can.Logger`` writing the same frames as a candump ``.log`` (what
``python -m can.logger`` does). The floor is receiving them alone (``bus.recv``). A
500 kbit/s bus carries at most about 4,000 frames/s of 8 bytes: both must stay well
above that.

Playing: the same frames sent back to back (``--as-fast-as-possible``) from a candump
log by ``keilog.bus.play`` against python-can's ``MessageSync`` loop with
``skip``/``gap`` 0 (what ``python -m can.player`` runs).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import can
from keilog.bus import log_messages, play, record

from bench import entry

MAX_FRAMES_PER_S_500K = 4_000  # 8-byte 11-bit frames at 500 kbit/s, about 125 bits each


def _frames(n: int) -> list[can.Message]:
    return [
        can.Message(arbitration_id=0x100 + i % 64, is_extended_id=False,
                    data=(i & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))
        for i in range(n)
    ]  # fmt: skip


def _queued(channel: str, frames: list[can.Message]) -> can.BusABC:
    rx = can.Bus(interface="virtual", channel=channel)
    with can.Bus(interface="virtual", channel=channel) as tx:
        for msg in frames:
            tx.send(msg)
    return rx


def _rate(frames: list[can.Message], channel: str, consume: Any) -> float:
    rx = _queued(channel, frames)
    try:
        t0 = time.perf_counter()
        consume(rx)
        return len(frames) / (time.perf_counter() - t0)
    finally:
        rx.shutdown()


def run(quick: bool) -> dict[str, Any]:
    n = 5_000 if quick else 100_000
    frames = _frames(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def keilog_log(bus: can.BusABC) -> None:
            record(bus, folder / "klg", frames=n)

        def python_can_logger(bus: can.BusABC) -> None:
            with can.Logger(str(folder / "ref.log")) as writer:
                for _ in range(n):
                    writer.on_message_received(bus.recv(timeout=1))

        def floor(bus: can.BusABC) -> None:
            for _ in range(n):
                bus.recv(timeout=1)

        ours = _rate(frames, "bench-log", keilog_log)
        ref = _rate(frames, "bench-ref", python_can_logger)
        bare = _rate(frames, "bench-floor", floor)

        log = folder / "ref.log"
        with can.Bus(interface="virtual", channel="bench-play") as bus:
            t0 = time.perf_counter()
            play(bus, log_messages([log]), as_fast_as_possible=True)
            play_rate = n / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            with can.LogReader(str(log)) as reader:
                for msg in can.MessageSync(reader, timestamps=False, gap=0, skip=0):
                    bus.send(msg)
            play_ref = n / (time.perf_counter() - t0)
    return {
        "bus_log_frames_per_s": entry(
            ours, ref, "python-can can.Logger to candump .log", "frames/s recorded",
            higher_is_better=True, floor_frames_per_s=round(bare),
            floor_name="virtual bus recv alone", bus_500k_frames_per_s=MAX_FRAMES_PER_S_500K,
        ),
        "bus_play_frames_per_s": entry(
            play_rate, play_ref, "python-can MessageSync (can.player)", "frames/s sent",
            higher_is_better=True, bus_500k_frames_per_s=MAX_FRAMES_PER_S_500K,
        ),
    }  # fmt: skip
