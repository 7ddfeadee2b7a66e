"""Build a keilog database from a simulator scenario, without the firmware.

The simulator (keilog.sim) drives the scenario; its CAN frames and NMEA sentences become
the records a logger would have written (NMEA parsed by pynmea2, positions and speeds as
the receiver reported them, dropouts included) and go through the store's own segment
import (``keilog.store.ingest``), so the tables are exactly those ``keilog import`` writes.
The firmware's part is covered by the e2e tests; here it would only cost time.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pynmea2
from keilog import paths, store
from keilog.decode import dbc
from keilog.logformat.reader import CanFrame, ClockAnchor, GpsFix, Segment, SegmentHeader
from keilog.sim.run import CanFrame as SimFrame
from keilog.sim.run import NmeaSentence, Simulation
from keilog.sim.scenario import Scenario, resolve
from keilog.store import ingest

KNOT = 1852 / 3600  # m/s per knot (1 international nautical mile = 1852 m)
MONO0_US = 1_000_000  # the logger's monotonic clock when the scenario starts
DEVICE = "KEI-TEST"
BOOT = 7


def _fix(rmc: pynmea2.RMC, gga: pynmea2.GGA | None, mono_us: int) -> GpsFix:
    ok = rmc.status == "A"
    return GpsFix(
        mono_us=mono_us,
        utc_us=None,
        lat=rmc.latitude if ok else None,
        lon=rmc.longitude if ok else None,
        alt_m=float(gga.altitude) if ok and gga is not None and gga.altitude is not None else None,
        speed_mps=float(rmc.spd_over_grnd) * KNOT if ok else None,
        course_deg=float(rmc.true_course) if ok and rmc.true_course is not None else None,
        hdop=float(gga.horizontal_dil) if gga is not None and gga.horizontal_dil else None,
        quality=int(gga.gps_qual or 0) if gga is not None else (1 if ok else 0),
        satellites=int(gga.num_sats or 0) if gga is not None else 0,
    )


def records(scenario: Scenario) -> tuple[list[CanFrame | GpsFix | ClockAnchor], Simulation]:
    sim = Simulation(scenario)
    start = scenario.start_epoch
    out: list[CanFrame | GpsFix | ClockAnchor] = [ClockAnchor(MONO0_US, round(start * 1e6), "gps")]
    pending: dict[str, tuple[pynmea2.RMC, int]] = {}
    for ev in sim.events():
        mono = MONO0_US + round(ev.t * 1e6)
        if isinstance(ev, SimFrame):
            m = ev.message
            out.append(
                CanFrame(
                    mono, m.arbitration_id, m.is_extended_id, False, False, m.dlc, bytes(m.data)
                )
            )
        elif isinstance(ev, NmeaSentence):
            msg = pynmea2.parse(ev.text)
            if isinstance(msg, pynmea2.RMC):
                pending[str(msg.timestamp)] = (msg, mono)
            elif isinstance(msg, pynmea2.GGA) and str(msg.timestamp) in pending:
                rmc, at = pending.pop(str(msg.timestamp))
                out.append(_fix(rmc, msg, at))
    out.sort(key=lambda r: r.mono_us)
    return out, sim


def build(db_path: Path, scenario: str | Path = "florida_rural") -> Simulation:
    """Write the scenario's trip into a new database at db_path; returns the simulation."""
    return build_repeated(db_path, scenario, 1)


def build_repeated(
    db_path: Path, scenario: str | Path = "florida_rural", times: int = 1, every_s: int = 3600
) -> Simulation:
    """The scenario driven ``times`` times, ``every_s`` seconds apart, by one logger in
    one boot (the logger left awake between drives: each drive its own trip), one segment
    a drive, as a long-running logger writes them; returns the simulation."""
    sc = resolve(scenario)
    recs, sim = records(sc)
    can_db = dbc.load_databases([paths.keicar_dbc()])
    db = store.open_db(db_path)
    for k in range(times):
        shift = k * every_s * 1_000_000
        moved = [
            replace(r, mono_us=r.mono_us + shift, utc_us=r.utc_us + shift)
            if isinstance(r, ClockAnchor)
            else replace(r, mono_us=r.mono_us + shift)
            for r in recs
        ]
        header = SegmentHeader(shift, 1, 0, BOOT, k, DEVICE, (0, 1, 0))
        seg = Segment(header, [header, *moved], name=f"SIM{k:05d}.KLG")
        sha = hashlib.sha256(f"{sc.name}:{len(recs)}{f':{k}' if k else ''}".encode()).hexdigest()
        ingest._store_segment(db, seg, sha, seg.name, can_db)
    return sim
