"""``keilog demo``: the whole pipeline on built-in data.

A short drive of the simulated kei truck is encoded with cantools from
``dbc/keicar.dbc``, sent on a python-can virtual bus, logged by the real firmware on
the MicroPython unix port, imported into SQLite, and summarised.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can
import cantools.database

from keilog import dbc, paths, pipeline, store
from keilog.logfile import read_segment


@dataclass
class DemoResult:
    out_dir: Path
    db_path: Path
    frames_sent: int
    frames_logged: int
    segments: list[Path]
    segment_bytes: int
    rows: dict[str, int] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    firmware_seconds: float = 0.0
    interpreter: str = "MicroPython unix port"

    @property
    def bytes_per_frame(self) -> float:
        return self.segment_bytes / self.frames_logged if self.frames_logged else 0.0

    def summary(self) -> str:
        lines = [
            f"keilog demo: {self.frames_sent} frames sent on a virtual CAN bus",
            f"  firmware ({self.interpreter}) logged {self.frames_logged} frames into "
            f"{len(self.segments)} segment(s), {self.segment_bytes} bytes "
            f"({self.bytes_per_frame:.2f} bytes/frame) in {self.firmware_seconds:.1f} s",
            f"  damage found on import: {len(self.damage) or 'none'}",
            f"  database: {self.db_path}",
        ]
        for table, n in sorted(self.rows.items()):
            lines.append(f"    {table:<24} {n:>8} rows")
        return "\n".join(lines)


def drive_profile(t: float, duration: float) -> float:
    """Speed in km/h at t seconds: pull away, cruise at 55 km/h, a stop, brake to rest."""
    if t < 12:
        return 55 * (1 - math.exp(-t / 4))
    if t < duration * 0.5:
        return 55 + 3 * math.sin(t / 5)
    if t < duration * 0.5 + 8:
        return max(0.0, 55 - 7 * (t - duration * 0.5))
    if t < duration * 0.5 + 14:
        return 0.0
    if t < duration - 10:
        return 45 * (1 - math.exp(-(t - duration * 0.5 - 14) / 4))
    return max(0.0, 45 - 4.5 * (t - (duration - 10)))


def builtin_messages(
    can_db: cantools.database.Database, duration: float = 60.0
) -> Iterator[can.Message]:
    """The kei truck's broadcast frames, each message at its DBC cycle time."""
    # Gear ratios of a Suzuki Carry DA16T 5-speed manual (1st 3.882 ... 5th 0.865,
    # final drive 5.125 wheel side of a 145/80R12 tyre, 1.71 m circumference); the
    # full model lives in keilog.sim.
    ratios = [3.882, 2.296, 1.502, 1.0, 0.865]
    final, circumference = 5.125, 1.71
    counters: dict[str, int] = {}
    schedule: list[tuple[float, Any]] = []
    for msg in can_db.messages:
        period = (msg.cycle_time or 100) / 1000
        n = int(duration / period)
        schedule.extend((i * period, msg) for i in range(n))
    schedule.sort(key=lambda item: (item[0], item[1].frame_id))
    odometer = 12345.6
    last_t = 0.0
    for t, msg in schedule:
        v = drive_profile(t, duration)
        odometer += v / 3600 * (t - last_t)
        last_t = t
        gear = 0 if v < 1 else 1 + sum(v > s for s in (15, 28, 42, 60))
        rpm = 850.0
        if gear:
            wheel_rps = v / 3.6 / circumference
            rpm = max(850.0, min(7500.0, wheel_rps * 60 * ratios[gear - 1] * final))
        count = counters.get(msg.name, 0)
        counters[msg.name] = (count + 1) % 16
        values = {
            "ENGINE_RPM": rpm,
            "THROTTLE_POS": min(100.0, 10 + v * 0.8),
            "ENGINE_LOAD": min(100.0, 20 + v * 0.6),
            "ENGINE_RUNNING": 1,
            "COUNTER": count,
            "VEHICLE_SPEED": v,
            "WHEEL_SPEED_FL": v,
            "WHEEL_SPEED_FR": v,
            "ACCEL_LONG": 0.0,
            "GEAR": gear,
            "SHIFT_LEVER": 3,
            "ATF_TEMP": 60,
            "COOLANT_TEMP": min(90.0, 40 + t),
            "INTAKE_TEMP": 25,
            "FUEL_LEVEL": 80.0 - t / 600,
            "BATTERY_VOLTAGE": 14.1,
            "ODOMETER": odometer,
            "IGNITION": 2,
            "HEADLIGHTS": 0,
            "PARKING_BRAKE": 0,
        }
        data = msg.encode({s.name: values[s.name] for s in msg.signals})
        yield can.Message(timestamp=t, arbitration_id=msg.frame_id, data=data, is_extended_id=False)


def run_demo(out_dir: str | Path, duration: float = 60.0, speedup: float = 20.0) -> DemoResult:
    """Run the slice on built-in data; outputs go into out_dir (made fresh)."""
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out / "work", ignore_errors=True)
        (out / "keilog.db").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    can_db = dbc.load_files([paths.keicar_dbc()])
    run = pipeline.log_messages(
        builtin_messages(can_db, duration), out / "work", speedup, allow_shim=True
    )
    db_path = out / "keilog.db"
    imported = store.import_files(db_path, run.segments, can_db)
    frames_logged = sum(len(read_segment(p).frames) for p in run.segments)
    db = store.open_db(db_path)
    rows = {name: db[name].count for name in db.table_names()}
    return DemoResult(
        out_dir=out,
        db_path=db_path,
        frames_sent=run.frames_sent,
        frames_logged=frames_logged,
        segments=run.segments,
        segment_bytes=sum(p.stat().st_size for p in run.segments),
        rows=rows,
        damage=[d for r in imported for d in r.damage],
        firmware_seconds=run.seconds,
        interpreter=run.interpreter,
    )
