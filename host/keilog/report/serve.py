"""``keilog serve``: browse a keilog database in Datasette, with metadata that explains it.

Datasette is an optional extra (``pip install 'keilog[serve]'``). keilog writes a
metadata file (titles, descriptions and units of the tables and columns, and canned
queries for trips and violations) and runs Datasette on the database. Violations live in
a check result (``keilog check --json``), not in the database: given one, keilog writes
it into a small second database, ``check``, served beside the first.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlite_utils

from keilog.errors import ReportError
from keilog.rules import CheckResult
from keilog.store.framequery import FRAMES_BETWEEN_SQL, FRAMES_OF_ID_SQL
from keilog.store.trips import GAP_S
from keilog.units import M_PER_MILE, MPS_PER_MPH, iso

INSTALL_HINT = "Datasette is not installed; install it with: pip install 'keilog[serve]'"

# DBC unit strings -> units Datasette's pint understands (others stay in descriptions).
PINT_UNITS = {
    "km/h": "km/h",
    "kph": "km/h",
    "mph": "mph",
    "m/s": "m/s",
    "m/s^2": "m/s^2",
    "rpm": "rpm",
    "degc": "degC",
    "°c": "degC",
    "v": "V",
    "kpa": "kPa",
    "g/s": "g/s",
    "s": "s",
    "km": "km",
    "m": "m",
    "%": "percent",
}

COMMON = {
    "id": "Row number.",
    "segment": "The log segment the row was imported from (segments.id).",
    "device_id": "The logger's device id.",
    "boot": "The logger's boot counter: one power-on of the logger.",
    "mono_us": "The logger's monotonic clock, microseconds since its boot.",
    "timestamp": "UTC time, seconds since 1970-01-01 (from the log's clock anchors).",
}

TABLES: dict[str, dict[str, Any]] = {
    "segments": {
        "title": "Imported log segments",
        "description": "One row per log segment file imported, keyed by the SHA-256 of its "
        "bytes (importing the same file again changes nothing).",
        "columns": {
            "sha256": "SHA-256 of the segment's bytes.",
            "name": "File name of the segment.",
            "device": "The logger (devices.id).",
            "first_frame": "Number of its first frame; its frames follow in order.",
            "seq": "Segment number within the boot.",
            "blocks": "Blocks read from the segment.",
            "frames": "CAN frames in the segment.",
            "gps_fixes": "GPS fixes in the segment.",
            "events": "Logger events in the segment.",
            "damage": "Parts of the segment that could not be read, and why.",
            "imported_at": "When the segment was imported (UTC).",
        },
    },
    "devices": {
        "title": "Loggers",
        "description": "One row per logger (or other logger's log format) imported from.",
        "columns": {
            "firmware": "Firmware version of its latest segment.",
            "first_seen": "UTC of its first record, seconds since 1970-01-01.",
            "last_seen": "UTC of its last record, seconds since 1970-01-01.",
        },
    },
    "trips": {
        "title": "Trips",
        "description": "One boot of one device, split at ignition off or where nothing was "
        f"logged for more than {GAP_S / 60:g} minutes (kept up to date by keilog import).",
        "columns": {
            "start": "UTC of the trip's first record, seconds since 1970-01-01.",
            "end": "UTC of the trip's last record, seconds since 1970-01-01.",
            "distance_m": "Distance along the GPS fixes.",
            "ended_by": "ignition_off, shutdown, gap (a silence over 5 minutes) or log_end.",
        },
        "units": {"distance_m": "m", "duration_s": "s"},
    },
    "frame_blocks": {
        "title": "Raw CAN frames, packed",
        "description": "Every CAN frame the logger recorded, undecoded, packed in blocks of "
        "one identifier spanning at most 60 s (docs/database.md). Read the frames with the "
        "canned queries frames_of_id and frames_between, or in SQL with "
        "json_each(keilog_frames(segment, arbitration_id, is_extended, first_frame, data)).",
        "columns": {
            "arbitration_id": "CAN identifier of the block's frames.",
            "is_extended": "1 for a 29-bit identifier.",
            "first_frame": "Number of the block's first frame.",
            "last_frame": "Number of the block's last frame.",
            "frames": "Frames in the block.",
            "t_start": "UTC of the block's first frame, seconds since 1970-01-01.",
            "t_end": "UTC of the block's last frame, seconds since 1970-01-01.",
            "data": "The frames' columns, zlib-compressed (keilog.store.frames).",
        },
    },
    "gps_fixes": {
        "title": "GPS fixes",
        "description": "Positions and speeds from the GPS receiver (WGS84).",
        "columns": {
            "utc": "The receiver's own UTC time, seconds since 1970-01-01.",
            "lat": "Latitude, degrees north (WGS84).",
            "lon": "Longitude, degrees east (WGS84; negative is west).",
            "alt_m": "Altitude above mean sea level.",
            "speed_mps": "Speed over ground.",
            "course_deg": "Course over ground, degrees clockwise from true north.",
            "quality": "Fix quality (NMEA GGA): 0 no fix, 1 GPS, 2 DGPS.",
            "satellites": "Satellites used in the fix.",
            "hdop": "Horizontal dilution of precision.",
        },
        "units": {"alt_m": "m", "speed_mps": "m/s", "course_deg": "deg"},
    },
    "events": {
        "title": "Logger events",
        "description": "Boots, buffer overruns, CAN bus state changes and other events.",
        "columns": {"kind": "What happened.", "code": "Event code.", "value": "Event value."},
    },
    "clock_anchors": {
        "title": "Clock anchors",
        "description": "Moments where the logger's monotonic clock was tied to UTC.",
        "columns": {"utc_us": "UTC, microseconds since 1970.", "source": "gps, host, rtc..."},
    },
    "signals": {
        "title": "Decoded signals",
        "description": "Units and comments of every signal decoded into a msg_* table, "
        "from the DBC files used at import.",
    },
}

# The trips keilog import keeps (keilog.store.trips), as keilog trips lists them.
TRIPS_SQL = f"""
select id as trip, device_id, boot, datetime(start, 'unixepoch') as start_utc,
  datetime("end", 'unixepoch') as end_utc, round("end" - start, 1) as duration_s,
  round(distance_m / {M_PER_MILE!r}, 2) as miles, gps_fixes, frames, ended_by
from trips where start is not null order by id
"""

SPEED_SQL = f"""
select datetime(timestamp, 'unixepoch') as utc, lat, lon,
  round(speed_mps / {MPS_PER_MPH!r}, 1) as gps_mph, round(speed_mps * 3.6, 1) as gps_kmh
from gps_fixes
where timestamp between strftime('%s', :start) and strftime('%s', :end)
order by timestamp
"""


_WINDOW = (
    ":start and :end are ISO 8601 (2026-06-01 14:00:00, UTC unless it says +09:00 or Z) or "
    "Unix seconds"
)
FRAME_QUERIES: dict[str, Any] = {
    "frames_of_id": {
        "title": "Raw frames of one identifier between two times",
        "description": f"The CAN frames of :id (0x1D0 or 464) between two times; {_WINDOW}. "
        "One indexed query, as keilog frames --id ID --from T1 --until T2 runs it.",
        "sql": FRAMES_OF_ID_SQL.strip(),
    },
    "frames_between": {
        "title": "Raw frames between two times",
        "description": f"Every CAN frame between two times; {_WINDOW}.",
        "sql": FRAMES_BETWEEN_SQL.strip(),
    },
}

# Datasette loads this from serve's plugins folder: keilog's SQL functions (keilog_frames,
# keilog_id, keilog_utc) on every connection, for the canned queries above.
PLUGIN = '''"""keilog's SQL functions in Datasette (written by keilog serve)."""

from datasette import hookimpl

from keilog.store.framequery import register_functions


@hookimpl
def prepare_connection(conn):
    register_functions(conn)
'''


def _unit(text: str) -> str | None:
    return PINT_UNITS.get(text.strip().lower()) if text else None


def metadata(db: sqlite_utils.Database, name: str, with_check: bool = False) -> dict[str, Any]:
    """Datasette metadata for a keilog database served under ``name``."""
    tables: dict[str, Any] = {}
    names = {*db.table_names(), *db.view_names()}
    for table, meta in TABLES.items():
        if table not in names:
            continue
        cols = set(db.table(table).columns_dict)
        entry = dict(meta)
        entry["columns"] = {
            c: d for c, d in {**COMMON, **meta.get("columns", {})}.items() if c in cols
        }
        tables[table] = entry
    if "signals" in names:
        by_message: dict[str, list[tuple[str, str, str]]] = {}
        for message, signal, unit, comment in db.execute(
            "select message, signal, unit, comment from signals order by message, signal"
        ).fetchall():
            by_message.setdefault(message, []).append((signal, unit or "", comment or ""))
        for message, signals in by_message.items():
            table = f"msg_{message}"
            if table not in names:
                continue
            columns = {c: d for c, d in COMMON.items() if c != "id"}
            columns["frame_id"] = "Number of the raw frame this row was decoded from."
            units = {}
            for signal, unit, comment in signals:
                text = comment or signal
                columns[signal] = f"{text} [{unit}]" if unit else text
                if (u := _unit(unit)) is not None:
                    units[signal] = u
            tables[table] = {
                "title": f"CAN message {message}",
                "description": f"Signals of {message}, decoded with the DBC at import.",
                "columns": columns,
                "units": units,
            }
    queries: dict[str, Any] = {
        "trips": {
            "title": "Trips",
            "description": "One boot of one device, split at ignition off or where nothing "
            f"was logged for more than {GAP_S / 60:g} minutes (as keilog trips lists them).",
            "sql": TRIPS_SQL.strip(),
        },
        "speed_between": {
            "title": "GPS speed between two times",
            "description": "Position and GPS speed in mph and km/h between two UTC times "
            "(YYYY-MM-DD HH:MM:SS).",
            "sql": SPEED_SQL.strip(),
        },
    }
    if "frame_blocks" in names:
        queries.update(FRAME_QUERIES)
    databases: dict[str, Any] = {
        name: {
            "title": "keilog log database",
            "description": "CAN frames, GPS fixes and decoded signals imported by keilog.",
            "tables": tables,
            "queries": queries,
        }
    }
    if with_check:
        databases["check"] = {
            "title": "keilog rules check",
            "description": "Violations and unverified stretches from keilog check.",
            "queries": {
                "violations": {
                    "title": "Violations",
                    "description": "Every violation the check found, with its rule and source.",
                    "sql": "select * from violations order by start",
                },
                "unverified": {
                    "title": "Unverified stretches",
                    "description": "Stretches where the check could not decide, and why.",
                    "sql": "select * from unverified order by start",
                },
            },
        }
    return {
        "title": "keilog",
        "description": "Telemetry of an imported kei car or truck, logged by keilog. "
        "Not legal advice: see the cited sources.",
        "databases": databases,
    }


def write_check_db(check: CheckResult, path: Path) -> None:
    """The check's violations and unverified stretches as SQLite tables."""
    path.unlink(missing_ok=True)
    db = sqlite_utils.Database(path)
    violations = []
    unverified = []
    for trip in check.trips:
        for v in trip.violations:
            violations.append(
                {
                    "trip": trip.id,
                    "number": v.number,
                    "rule": v.rule,
                    "state": v.state,
                    "start": iso(v.start),
                    "end": iso(v.end),
                    "duration_s": v.duration_s,
                    "limit_mph": v.limit_mph,
                    "observed_mph": v.observed_mph,
                    "lat": v.lat,
                    "lon": v.lon,
                    "source": v.source,
                    "source_date": v.source_date,
                    "source_url": v.source_url,
                }
            )
        for u in trip.unverified:
            unverified.append(
                {
                    "trip": trip.id,
                    **{k: u.get(k) for k in ("rule", "state", "start", "end", "duration_s")},
                    "reason": u.get("reason"),
                }
            )
    columns = {"trip": int, "rule": str, "state": str, "start": str, "end": str}
    db.table("violations").create(
        {
            **columns,
            "number": int,
            "duration_s": float,
            "limit_mph": float,
            "observed_mph": float,
            "lat": float,
            "lon": float,
            "source": str,
            "source_date": str,
            "source_url": str,
        }
    )
    db.table("violations").insert_all(violations)
    db.table("unverified").create({**columns, "duration_s": float, "reason": str})
    db.table("unverified").insert_all(unverified)
    db.close()


def datasette_available() -> bool:
    return importlib.util.find_spec("datasette") is not None


def prepare(
    db_path: Path, workdir: Path, check: CheckResult | None = None
) -> tuple[list[Path], Path]:
    """Write the metadata (and the check database) into workdir; returns files + metadata."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise ReportError(f"{db_path}: no such database; create it with keilog import")
    try:
        db = sqlite_utils.Database(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True))
        meta = metadata(db, db_path.stem, with_check=check is not None)
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"{db_path}: not a usable SQLite database ({exc})") from None
    files = [db_path]
    if check is not None:
        check_path = workdir / "check.db"
        write_check_db(check, check_path)
        files.append(check_path)
    meta_path = workdir / "metadata.json"
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    plugins = workdir / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "keilog_sql.py").write_text(PLUGIN, encoding="utf-8")
    return files, meta_path


def command(
    files: list[Path], meta_path: Path, host: str = "127.0.0.1", port: int = 8001
) -> list[str]:
    """The Datasette command line. The keilog database is opened read-only
    (``mode=ro``), not immutable: an import may be writing it meanwhile, and each query
    then reads one consistent snapshot of it (immutable mode would read a file that
    changes under it, half old, half new). The check database is ours and stays still.
    keilog's SQL functions come from the plugins folder :func:`prepare` writes beside the
    metadata."""
    db_path, *others = files
    args = [sys.executable, "-m", "datasette", "serve", str(db_path)]
    for f in others:
        args += ["--immutable", str(f)]
    plugins = meta_path.parent / "plugins"
    if plugins.is_dir():
        args += ["--plugins-dir", str(plugins)]
    return [*args, "--metadata", str(meta_path), "--host", host, "--port", str(port)]


def serve(
    db_path: Path,
    workdir: Path,
    check: CheckResult | None = None,
    host: str = "127.0.0.1",
    port: int = 8001,
) -> int:
    """Run Datasette on the database until it is stopped; returns its exit status."""
    if not datasette_available():
        raise ReportError(INSTALL_HINT)
    files, meta_path = prepare(db_path, workdir, check)
    return run_child(command(files, meta_path, host, port))


def run_child(args: list[str], stop_s: float = 10.0) -> int:
    """Run the server as a child until it exits or keilog is told to stop.

    SIGTERM and SIGHUP are passed on to the child (Ctrl-C reaches it anyway, through the
    terminal's process group); keilog then waits for it, so that no server is left
    listening and the caller's temporary folder can be removed.
    """
    proc = subprocess.Popen(args)

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                forward(signal.SIGINT, None)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(stop_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
