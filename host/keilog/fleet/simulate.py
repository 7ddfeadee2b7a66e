"""A simulated fleet: N kei trucks x D days of driving in several states, as log segments.

Each vehicle has a home base in one of a few states and a registration class; each day
it makes two short trips (sometimes a third after dark), each one boot of the logger
written as one segment: a GPS clock anchor, a GPS fix per second and the ABS speed frame
(``VEHICLE_SPEED``, 0x1D0 of ``dbc/keicar.dbc``) per second, then ``ignition_off``.
Tracks are a seeded random walk from the base: the point is many realistic trips for the
fleet ingest, check and bench, not a road-accurate drive (``keilog.sim`` does that for
one car, through the firmware).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keilog.errors import ConfigError
from keilog.fleet.config import VehicleEntry, write_fleet_file
from keilog.fleet.segments import Anchor, Event, Fix, Frame, encode_segment, segment_name
from keilog.units import EARTH_RADIUS_M, MPS_PER_MPH

VEHICLE_SPEED_ID = 0x1D0  # dbc/keicar.dbc: VEHICLE_SPEED, bytes 0-1 little-endian, 0.01 km/h
KMH_PER_MPS = 3.6
EARTH_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180  # metres per degree of latitude
BOOT_MONO_US = 5_000_000  # the logger boots 5 s before the first fix

# Home bases inland of the coasts and borders: (state, lat, lon, class, cruise mph).
# The classes and speeds are chosen so a fleet meets clean trips, speed-cap violations
# (LSVs cruising above 25 mph), and classes a state does not allow.
BASES = [
    ("FL", 29.65, -82.32, "mini_truck", 30.0),
    ("TN", 36.16, -86.78, "mini_truck", 40.0),
    ("NC", 35.78, -78.64, "lsv", 30.0),
    ("TX", 30.27, -97.74, "lsv", 24.0),
    ("CO", 39.74, -104.99, "mini_truck", 35.0),
    ("ME", 44.31, -69.78, "mini_truck", 45.0),
    ("GA", 33.95, -83.38, "lsv", 22.0),
    ("OH", 39.96, -82.99, "mini_truck", 35.0),
]
DRIVERS = ["Ana", "Ben", "Chen", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo"]


@dataclass
class FleetSummary:
    vehicles: int
    days: int
    trips: int
    fixes: int
    frames: int
    bytes: int
    fleet_file: Path
    segments_dir: Path


def device_id(n: int) -> str:
    return f"KEI{n:05d}"


def _speed_frame(mono_us: int, mps: float) -> Frame:
    raw = min(round(mps * KMH_PER_MPS / 0.01), 0xFFFF)
    return Frame(mono_us, VEHICLE_SPEED_ID, raw.to_bytes(2, "little") + bytes(6))


def _track(
    rng: np.random.Generator, lat0: float, lon0: float, seconds: int, cruise_mph: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """lat, lon, speed (m/s) and course (deg) at 1 Hz: accelerate, cruise, stop."""
    cruise = cruise_mph * MPS_PER_MPH * rng.uniform(0.9, 1.1)
    t = np.arange(seconds, dtype=np.float64)
    ramp = np.minimum(np.minimum(t, seconds - 1 - t) * 2.0, cruise)  # 2 m/s^2 up and down
    speed = np.clip(ramp + rng.normal(0, 0.3, seconds), 0, None)
    speed[-3:] = 0.0
    course = (rng.uniform(0, 360) + np.cumsum(rng.normal(0, 4, seconds))) % 360
    north = np.cumsum(speed * np.cos(np.radians(course)))
    east = np.cumsum(speed * np.sin(np.radians(course)))
    lat = lat0 + north / EARTH_M_PER_DEG
    lon = lon0 + east / (EARTH_M_PER_DEG * math.cos(math.radians(lat0)))
    return lat, lon, speed, course


def simulate_fleet(
    out: Path,
    vehicles: int,
    days: int,
    start: dt.date = dt.date(2026, 6, 1),
    trip_minutes: float = 10.0,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> FleetSummary:
    """Write ``out/fleet.toml`` and ``out/segments/<device>/BBBBSSSS.KLG``."""
    if vehicles < 1 or days < 1:
        raise ConfigError("a fleet needs at least one vehicle and one day")
    seg_dir = out / "segments"
    entries: list[VehicleEntry] = []
    trips = fixes = frames = size = 0
    for v in range(vehicles):
        rng = np.random.default_rng([seed, v])
        state, lat_b, lon_b, vclass, cruise = BASES[v % len(BASES)]
        dev = device_id(v + 1)
        entries.append(
            VehicleEntry(
                device_id=dev,
                name=f"Truck {v + 1}",
                registration_state=state,
                vehicle_class=vclass,
                lights=True,
                driver=DRIVERS[v % len(DRIVERS)],
            )
        )
        folder = seg_dir / dev
        folder.mkdir(parents=True, exist_ok=True)
        boot = 0
        local_offset_h = lon_b / 15.0  # solar time: local noon is 12 - lon/15 UTC
        for d in range(days):
            day = start + dt.timedelta(days=d)
            hours = [9.0, 15.0] + ([20.5] if rng.random() < 0.15 else [])
            for h in hours:
                boot += 1
                secs = int(trip_minutes * 60 * rng.uniform(0.7, 1.3))
                lat0 = lat_b + rng.normal(0, 0.01)
                lon0 = lon_b + rng.normal(0, 0.01)
                lat, lon, speed, course = _track(rng, lat0, lon0, secs, cruise)
                t0 = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(
                    hours=h - local_offset_h + rng.uniform(0, 1.5)
                )
                utc0_us = int(t0.timestamp()) * 1_000_000
                mono0 = BOOT_MONO_US
                items: list[Anchor | Fix | Frame | Event] = [Anchor(mono0, utc0_us)]
                for i in range(secs):
                    mono = mono0 + i * 1_000_000
                    items.append(
                        Fix(mono, utc0_us + i * 1_000_000, lat[i], lon[i], speed[i], course[i])
                    )
                    # The ABS speed reads 2 % high, as speedometers do.
                    items.append(_speed_frame(mono + 500_000, speed[i] * 1.02))
                items.append(Event(mono0 + secs * 1_000_000, 6, 12_000))  # ignition_off
                data = encode_segment(dev, boot, 0, mono0 - 1000, items)
                (folder / segment_name(boot, 0)).write_bytes(data)
                trips += 1
                fixes += secs
                frames += secs
                size += len(data)
        if progress is not None:
            progress(v + 1, vehicles)
    fleet_file = out / "fleet.toml"
    write_fleet_file(fleet_file, entries)
    return FleetSummary(vehicles, days, trips, fixes, frames, size, fleet_file, seg_dir)
