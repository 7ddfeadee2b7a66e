"""Simulator: how many frames per second the virtual kei car puts on a virtual bus.

- simulate_frames_per_s: ``keilog.sim.run.run`` driving the built-in demo scenario as
  fast as possible onto a python-can ``virtual`` bus that one other bus listens on
  (physics, driver, cantools encoding, GPS, and python-can's send), vs python-can's own
  virtual-bus throughput: the same number of ready-made frames sent in a loop to the
  same kind of bus with one listener. The reference is the ceiling; the ratio says how
  much of it the simulation costs.
"""

from __future__ import annotations

from typing import Any

import can
from keilog.sim import run as sim_run
from keilog.sim.scenario import builtin

from bench import best_of, entry


def _bus(channel: str) -> tuple[can.BusABC, can.BusABC]:
    sender = can.Bus(interface="virtual", channel=channel, preserve_timestamps=True)
    listener = can.Bus(interface="virtual", channel=channel)
    return sender, listener


def _keilog(duration: float) -> int:
    sender, listener = _bus("bench-sim")
    try:
        out = sim_run.run(builtin(), bus=sender, speedup=None, duration=duration)
        return int(out["bus_frames_sent"])
    finally:
        sender.shutdown()
        listener.shutdown()


def _reference(messages: list[can.Message]) -> int:
    sender, listener = _bus("bench-ref")
    try:
        for m in messages:
            sender.send(m)
        return len(messages)
    finally:
        sender.shutdown()
        listener.shutdown()


def run(quick: bool = False) -> dict[str, Any]:
    duration = 20.0 if quick else 150.0
    repeat = 1 if quick else 3
    t_keilog, n_keilog = best_of(lambda: _keilog(duration), repeat)
    messages = [
        ev.message
        for ev in sim_run.simulate(builtin(), duration=duration)
        if isinstance(ev, sim_run.CanFrame)
    ]
    t_ref, n_ref = best_of(lambda: _reference(messages), repeat)
    return {
        "simulate_frames_per_s": entry(
            n_keilog / t_keilog,
            n_ref / t_ref,
            "python-can virtual bus, send loop of ready-made frames",
            "frames/s",
            higher_is_better=True,
            frames=n_keilog,
            simulated_s=duration,
            realtime_factor=round(duration / t_keilog, 1),
        )
    }
