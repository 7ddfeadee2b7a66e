"""``keilog demo``: the whole pipeline on a scenario (built-in by default).

simulated kei car (keilog.sim) -> CAN frames on a python-can virtual bus + NMEA ->
the real firmware on the MicroPython unix port -> log segments -> USB sync over a pty
(when the firmware's sync link is available, else the segment folder) -> SQLite ->
rules check (``check.json``) -> trip report (``report.html``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can

from keilog import paths, store
from keilog.decode import dbc
from keilog.logformat.reader import read_segment
from keilog.outputs import undo_on_failure
from keilog.sim import run as sim_run
from keilog.sim import scenario as sim_scenario
from keilog.store.frames import frame_count
from keilog.unixport import harness

Status = Callable[[str], None]

DEMO_FILES = ("keilog.db", "check.json", "report.html", "roads.npz")
"""The files a demo writes into its folder, beside ``work/`` and ``archive/``."""


@dataclass
class DemoResult:
    out_dir: Path
    scenario: str
    db_path: Path
    frames_sent: int
    sentences_sent: int
    frames_logged: int
    gps_fixes_logged: int
    segments: list[Path]
    segment_bytes: int
    rows: dict[str, int] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    input_records_logged: int = 0
    firmware_seconds: float = 0.0
    interpreter: str = "MicroPython unix port"
    synced: bool = False
    check_path: Path | None = None
    check: dict[str, Any] | None = None
    report_path: Path | None = None
    report_bytes: int = 0

    @property
    def bytes_per_frame(self) -> float:
        return self.segment_bytes / self.frames_logged if self.frames_logged else 0.0

    def summary(self) -> str:
        lines = [
            f"keilog demo: scenario {self.scenario!r}",
            f"  simulator sent {self.frames_sent} CAN frames on a virtual bus and "
            f"{self.sentences_sent} NMEA sentences",
            f"  firmware ({self.interpreter}) logged {self.frames_logged} frames"
            + (
                f", {self.input_records_logged} input samples (VSS, tach, analog)"
                if self.input_records_logged
                else ""
            )
            + f" and {self.gps_fixes_logged} GPS fixes into {len(self.segments)} segment(s), "
            f"{self.segment_bytes} bytes"
            + (f" ({self.bytes_per_frame:.2f} bytes/frame)" if self.frames_logged else "")
            + " "
            f"in {self.firmware_seconds:.1f} s",
            f"  {'synced over USB (pty) and imported' if self.synced else 'imported'}: "
            f"damage found: {len(self.damage) or 'none'}",
            f"  database: {self.db_path}",
        ]
        for table, n in sorted(self.rows.items()):
            if n:
                lines.append(f"    {table:<24} {n:>8} rows")
        if self.check is not None and self.check_path is not None:
            lines.append(f"  rules check: {self.check_path}")
            for trip in self.check.get("trips", []):
                lines.append(
                    f"    trip {trip['id']}: {trip['verdict']} in {', '.join(trip['states'])}"
                    f", {len(trip['violations'])} violation(s), "
                    f"{len(trip['unverified'])} unverified stretch(es)"
                )
                for v in trip["violations"]:
                    observed = v.get("observed_mph")
                    limit = v.get("limit_mph")
                    detail = (
                        f" {observed:.0f} mph where {limit:.0f} mph applies"
                        if observed is not None and limit is not None
                        else ""
                    )
                    statute = v.get("road_limit_source")
                    if v.get("road_limit_basis") == "statutory_default" and statute:
                        detail += (
                            f" (unposted road: its limit by {statute['cite'].split(';')[0]},"
                            f" {v.get('confidence', 'low')} confidence)"
                        )
                    speed = f", speed from {v['speed_source']}" if v.get("speed_source") else ""
                    lines.append(
                        f"      {v['rule']} in {v['state']} for {v['duration_s']:.0f} s:"
                        f"{detail} ({v['source']}{speed})"
                    )
        if self.report_path is not None:
            lines.append(f"  report: {self.report_path} ({self.report_bytes} bytes)")
        return "\n".join(lines)


def scenario_events(
    sc: sim_scenario.Scenario, duration: float | None = None
) -> Iterator[can.Message | harness.Nmea | harness.Inputs]:
    """The simulator's CAN frames, NMEA sentences and input stream records (a car with
    ``vehicle.inputs``) on one clock (UTC epoch seconds)."""
    start = sc.start_epoch
    for ev in sim_run.simulate(sc, duration=duration):
        if isinstance(ev, sim_run.CanFrame):
            yield ev.message
        elif isinstance(ev, sim_run.InputChunk):
            yield harness.Inputs(start + ev.t, ev.data)
        else:
            yield harness.Nmea(start + ev.t, ev.text)


def builtin_messages(can_db: Any = None, duration: float = 60.0) -> Iterator[can.Message]:
    """CAN frames of the built-in demo drive (the simulator, frames encoded from
    dbc/keicar.dbc), for the first duration seconds; with can_db, only the frames of
    messages it defines."""
    sc = sim_scenario.builtin(sim_scenario.DEMO)
    ids = {(m.frame_id, bool(m.is_extended_frame)) for m in can_db.messages} if can_db else None
    for ev in sim_run.simulate(sc, duration=duration):
        if isinstance(ev, sim_run.CanFrame):
            msg = ev.message
            if ids is None or (msg.arbitration_id, msg.is_extended_id) in ids:
                yield msg


def run_demo(
    out_dir: str | Path,
    scenario: str | Path | None = None,
    speedup: float | None = 20.0,
    duration: float | None = None,
    status: Status | None = None,
    sync: bool = True,
) -> DemoResult:
    """Run the whole pipeline on a scenario; outputs go into out_dir (made fresh).

    A failure or Ctrl-C leaves none of this run's outputs behind."""
    say = status or (lambda _msg: None)
    out = Path(out_dir)
    for stale in ("work", "archive"):
        shutil.rmtree(out / stale, ignore_errors=True)
    for stale_file in DEMO_FILES:
        (out / stale_file).unlink(missing_ok=True)
    # Everything below is this run's; a failure or Ctrl-C anywhere removes all of it (and
    # the folder, if this run made it): no half-made database, segments or report.
    with undo_on_failure(out, *(out / name for name in ("work", "archive", *DEMO_FILES))):
        out.mkdir(parents=True, exist_ok=True)
        return _run_demo(out, scenario, speedup, duration, say, sync)


def _run_demo(
    out: Path,
    scenario: str | Path | None,
    speedup: float | None,
    duration: float | None,
    say: Status,
    sync: bool,
) -> DemoResult:
    from keilog.report import write_report
    from keilog.roads import build_roads
    from keilog.rules.check import check_database
    from keilog.rules.vehicle import Vehicle
    from keilog.store.checks import save_check
    from keilog.sync.run import sync_port

    sc = sim_scenario.resolve(scenario or sim_scenario.DEMO)
    say(f"scenario {sc.name}: driving with the firmware logging ...")
    can_db = dbc.load_databases([paths.keicar_dbc(), paths.dbc_dir() / "obd2.dbc"])
    db_path = out / "keilog.db"
    archive = out / "archive"

    def usb_sync(port: str) -> Any:
        say(f"syncing the logger over USB ({port}) ...")
        return sync_port(port, archive, db_path, can_db=can_db)

    run = harness.log_events(
        scenario_events(sc, duration),
        out / "work",
        speedup,
        allow_shim=True,
        can_bus=sc.vehicle.can,
        sync=usb_sync if sync else None,
        inputs=sc.vehicle.inputs,
    )
    if run.sync is not None:
        segments = [Path(archive) / f"{r.sha256}.KLG" for r in run.sync.segments if r.sha256]
        damage = [d for r in run.sync.segments for d in r.damage]
    else:
        say(f"importing {len(run.segments)} segment(s) ...")
        segments = run.segments
        imported = store.import_files(db_path, segments, can_db)
        damage = [d for r in imported for d in r.damage]
    frames_logged = fixes_logged = inputs_logged = 0
    for p in segments:
        seg = read_segment(p)
        frames_logged += len(seg.frames)
        fixes_logged += sum(1 for r in seg.records if type(r).__name__ == "GpsFix")
        inputs_logged += sum(1 for r in seg.records if type(r).__name__ == "InputFrame")
    db = store.open_db(db_path)
    # Rows as the tables hold them for a reader: raw frames (packed in frame_blocks)
    # counted one by one, decoded messages by their msg_ views.
    rows = {
        name: db[name].count
        for name in [*db.table_names(), *db.view_names()]
        if not name.startswith("sig_") and name not in ("frame_blocks", "clock_pieces")
    }
    rows["frames"] = frame_count(db.conn)

    roads_path = None
    if sc.roads is not None:
        roads_path = out / "roads.npz"
        build_roads(sc.roads, roads_path)
    say("checking the trip against the state rules ...")
    vehicle = Vehicle(sc.name, sc.vehicle.registered_state, sc.vehicle.vehicle_class)
    check = check_database(db_path, vehicle, roads_path)
    check_path = out / "check.json"
    check_path.write_text(json.dumps(check, indent=2) + "\n")
    save_check(db_path, check)  # keilog report --db keilog-demo/keilog.db shows it too
    say("writing the report ...")
    report_path = out / "report.html"
    write_report(db_path, report_path, all_trips=True, check=check, roads=roads_path)
    return DemoResult(
        out_dir=out,
        scenario=sc.name,
        db_path=db_path,
        frames_sent=run.frames_sent,
        sentences_sent=run.sentences_sent,
        frames_logged=frames_logged,
        gps_fixes_logged=fixes_logged,
        input_records_logged=inputs_logged,
        segments=segments,
        segment_bytes=sum(p.stat().st_size for p in segments),
        rows=rows,
        damage=damage,
        synced=run.sync is not None,
        firmware_seconds=run.seconds,
        interpreter=run.interpreter,
        check_path=check_path,
        check=check,
        report_path=report_path,
        report_bytes=report_path.stat().st_size,
    )
