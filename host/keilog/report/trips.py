"""Trips: which stretch of a database one report, export or check is about.

``keilog import`` keeps a ``trips`` table (keilog.store.trips: one boot of one device, split
at ignition off or where nothing was logged for more than 5 minutes); :func:`list_trips`
reads it, so the report, the check and ``keilog trips`` number trips alike. Databases
without one (written by hand, or by an older keilog) fall back to the same rule without
the ignition: one boot of one device, split where nothing (no frame, no GPS fix) was
logged for more than ``GAP_S`` seconds.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from keilog.errors import KeilogError

GAP_S = 300.0
"""A silence longer than this (5 minutes) ends a trip."""

KMH = 1 / 3.6  # m/s per km/h


class ReportError(KeilogError):
    """A report, export or trip selection cannot be made from what was given."""


def iso(ts: float | None) -> str | None:
    """UTC seconds as ISO 8601 with a Z, to the second (None stays None)."""
    if ts is None or not math.isfinite(ts):
        return None
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class Trip:
    """One trip: a device, a boot, and the UTC span [start, end] in seconds."""

    id: int
    device_id: str
    boot: int
    start: float
    end: float
    gps_fixes: int = 0
    frames: int = 0

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "device_id": self.device_id,
            "boot": self.boot,
            "start": iso(self.start),
            "end": iso(self.end),
            "duration_s": round(self.duration_s, 3),
            "gps_fixes": self.gps_fixes,
            "frames": self.frames,
        }


# Per-minute bins of everything logged: a silence inside one bin is under 60 s, shorter
# than GAP_S, so splitting between bins finds exactly the silences longer than GAP_S, and
# an aggregate over bins is several times faster than window functions over every row.
BIN_S = 60
_BINS = f"""
select device_id, boot, cast(timestamp / {BIN_S} as integer) as bin, min(timestamp),
  max(timestamp), sum(fix), sum(frame)
from (
  select device_id, boot, timestamp, 1 as fix, 0 as frame
  from gps_fixes where timestamp is not null
  union all
  select device_id, boot, timestamp, 0, 1 from frames where timestamp is not null
)
group by device_id, boot, bin order by device_id, boot, bin
"""


def list_trips(db: sqlite_utils.Database, gap_s: float = GAP_S) -> list[Trip]:
    """Every trip in the database, numbered from 1 in order of start time."""
    if _has_trips_table(db):
        return _stored_trips(db)
    for table in ("gps_fixes", "frames"):
        if not db.table(table).exists():
            raise ReportError(
                f"{db_file(db)}: no {table} table; is this a keilog database? Import "
                "logs into it with keilog import"
            )
    if gap_s < BIN_S:
        raise ReportError(f"a trip gap of {gap_s} s is shorter than the {BIN_S} s bins")
    spans: list[list[Any]] = []  # device, boot, start, end, fixes, frames
    for dev, boot, _, a, b, fixes, frames in db.execute(_BINS).fetchall():
        last = spans[-1] if spans else None
        if last is not None and last[:2] == [dev, boot] and a - last[3] <= gap_s:
            last[3] = b
            last[4] += fixes
            last[5] += frames
        else:
            spans.append([dev, boot, a, b, fixes, frames])
    spans.sort(key=lambda x: (x[2], str(x[0]), x[1]))
    return [
        Trip(i, str(dev), int(boot or 0), float(a), float(b), int(fixes), int(frames))
        for i, (dev, boot, a, b, fixes, frames) in enumerate(spans, start=1)
    ]


def db_file(db: sqlite_utils.Database) -> str:
    """The file a database was opened from (for messages)."""
    for _, name, path in db.execute("pragma database_list").fetchall():
        if name == "main":
            return str(path) or ":memory:"
    return ":memory:"


def _has_trips_table(db: sqlite_utils.Database) -> bool:
    table = db.table("trips")
    return table.exists() and {"id", "start", "end"} <= set(table.columns_dict)


def _stored_trips(db: sqlite_utils.Database) -> list[Trip]:
    """The trips table as keilog import keeps it (trips without a UTC clock left out);
    counts are read from it when it has them, else counted."""
    cols = set(db.table("trips").columns_dict)
    dev = "device_id" if "device_id" in cols else "''"
    boot = "boot" if "boot" in cols else "0"
    counts = "gps_fixes, frames" if {"gps_fixes", "frames"} <= cols else "NULL, NULL"
    out = []
    for tid, device, b, start, end, fixes, frames in db.execute(
        f"select id, {dev}, {boot}, [start], [end], {counts} from trips "
        "where [start] is not null and [end] is not null order by [start], id"
    ).fetchall():
        if fixes is None or frames is None:
            fixes, frames = _count(db, start, end, device if dev != "''" else None)
        out.append(
            Trip(int(tid), str(device), int(b or 0), float(start), float(end), fixes, frames)
        )
    return out


def _count(
    db: sqlite_utils.Database, start: float, end: float, device: str | None
) -> tuple[int, int]:
    """GPS fixes and frames between two times (of one device, when given)."""
    where, args = "timestamp between ? and ?", [start, end]
    fixes_where, frames_where = where, where
    if device is not None:
        fixes_where += " and device_id = ?"
        frames_where += (
            " and segment in (select s.id from segments s join devices d on d.id = s.device "
            "where d.device_id = ?)"
        )
    fixes = db.execute(
        f"select count(*) from gps_fixes where {fixes_where}",
        [*args, *([device] if device else [])],
    ).fetchone()[0]
    frames = db.execute(
        f"select count(*) from frames where {frames_where}", [*args, *([device] if device else [])]
    ).fetchone()[0]
    return int(fixes), int(frames)


def select_trips(trips: list[Trip], trip: int | None = None, all_trips: bool = False) -> list[Trip]:
    """The trips asked for: ``trip`` by id, all of them, or else the latest one."""
    if not trips:
        raise ReportError(
            "the database has no trips (no timestamped frames or GPS fixes); import logs "
            "with keilog import first"
        )
    if trip is not None and all_trips:
        raise ReportError("give either --trip N or --all, not both")
    if all_trips:
        return list(trips)
    if trip is None:
        return [trips[-1]]
    for t in trips:
        if t.id == trip:
            return [t]
    raise ReportError(
        f"no trip {trip}; the database has trips {trips[0].id}..{trips[-1].id} "
        "(list them with keilog trips --db FILE)"
    )
