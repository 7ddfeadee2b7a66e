"""Trips, kept by the store: one drive of one device, as the checks and reports see it.

A trip is what one device logged during one boot, from the first frame or GPS fix on,
until the ignition goes off (an ``ignition_off`` or ``shutdown`` event) or nothing is
logged for more than :data:`GAP_S` seconds (a car left parked with the logger awake).
Logs of other loggers (no boots, no events) split at gaps only, on their own time base.

Each imported segment leaves its *spans* in ``trip_spans``: the stretches of activity
inside it, with their counts, GPS distance and end fixes. Importing a segment then
rebuilds the trips of its device and boot from the spans alone (a few rows per segment,
however many frames), and numbers all trips from 1 in order of start time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.errors import StoreError
from keilog.store.frames import FrameQuery, read_frames
from keilog.units import haversine_m, iso

GAP_S = 300.0
"""A silence longer than this (5 minutes) ends a trip."""

ENDING_EVENTS = ("ignition_off", "shutdown")
STANDING_MPS = 0.5  # steps between two fixes slower than this are GPS jitter, not travel

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


@dataclass
class Fixes:
    """A segment's GPS fixes on the span time axis; NaN lat/lon where invalid."""

    t_us: I64
    lat: F64
    lon: F64
    speed_mps: F64
    quality: I64

    @classmethod
    def empty(cls) -> Fixes:
        z = np.zeros(0)
        return cls(np.zeros(0, np.int64), z, z, z, np.zeros(0, np.int64))


@dataclass
class Span:
    t_start_us: int
    t_end_us: int
    frames: int
    gps_fixes: int
    distance_m: float
    first_fix: tuple[float, float, float] | None  # lat, lon, speed of the first valid fix
    last_fix: tuple[float, float, float] | None
    ends_trip: str | None  # the event that ended it, if one did


def segment_spans(
    frames_t_us: I64,
    fixes: Fixes,
    ending_events: list[tuple[int, str]],
    gap_s: float = GAP_S,
    frame_weights: I64 | None = None,
) -> list[Span]:
    """The stretches of activity (frames and fixes) in one segment, split at silences
    over ``gap_s`` and after each ignition-off/shutdown event.

    ``frame_weights``, when given, is how many frames each time in ``frames_t_us``
    stands for (so a long log can be passed as a few points per second).
    """
    ev_t = np.array([t for t, _ in ending_events], np.int64)
    t = np.concatenate([frames_t_us, fixes.t_us, ev_t])
    kind = np.concatenate(
        [np.zeros(len(frames_t_us), np.int8), np.ones(len(fixes.t_us), np.int8),
         np.full(len(ev_t), 2, np.int8)]
    )  # fmt: skip
    if not len(t):
        return []
    weight = np.concatenate(
        [np.ones(len(frames_t_us), np.int64) if frame_weights is None else frame_weights,
         np.zeros(len(fixes.t_us) + len(ev_t), np.int64)]
    )  # fmt: skip
    order = np.lexsort((kind, t))
    t, kind, weight = t[order], kind[order], weight[order]
    new = np.ones(len(t), np.bool_)
    new[1:] = (kind[:-1] == 2) | (np.diff(t) > gap_s * 1e6)
    span = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(t)) - 1
    n = len(starts)
    frames = np.bincount(span, weights=weight, minlength=n).astype(np.int64)
    fix_counts = np.bincount(span[kind == 1], minlength=n)
    # Fixes are distance-summed within their span, in time order.
    fix_span = span[kind == 1]
    fix_order = np.argsort(fixes.t_us, kind="stable")
    fx = {
        "lat": fixes.lat[fix_order],
        "lon": fixes.lon[fix_order],
        "v": np.nan_to_num(fixes.speed_mps[fix_order]),
    }
    valid = (fixes.quality[fix_order] > 0) & np.isfinite(fx["lat"]) & np.isfinite(fx["lon"])
    vs, vlat, vlon, vv = fix_span[valid], fx["lat"][valid], fx["lon"][valid], fx["v"][valid]
    dist: F64 = np.zeros(n)
    if len(vs) >= 2:
        step = haversine_m(vlat[:-1], vlon[:-1], vlat[1:], vlon[1:])
        keep = (vs[:-1] == vs[1:]) & ~((vv[:-1] < STANDING_MPS) & (vv[1:] < STANDING_MPS))
        dist = np.bincount(vs[:-1][keep], weights=step[keep], minlength=n).astype(np.float64)
    event_names = {t: name for t, name in ending_events}
    out = []
    for i in range(n):
        mine = np.flatnonzero(vs == i)
        first = mine[0] if len(mine) else None
        last = mine[-1] if len(mine) else None
        end_kind = int(kind[ends[i]])
        out.append(
            Span(
                int(t[starts[i]]),
                int(t[ends[i]]),
                int(frames[i]),
                int(fix_counts[i]),
                float(dist[i]),
                None
                if first is None
                else (float(vlat[first]), float(vlon[first]), float(vv[first])),
                None if last is None else (float(vlat[last]), float(vlon[last]), float(vv[last])),
                event_names.get(int(t[ends[i]])) if end_kind == 2 else None,
            )
        )
    return out


def store_spans(
    conn: sqlite3.Connection,
    segment: int,
    device_id: str,
    boot: int,
    clock: str,
    spans: list[Span],
    to_utc: Callable[[int], float | None],
) -> None:
    """Insert one segment's spans; ``clock`` is ``mono`` (the logger's monotonic
    microseconds) or ``log`` (a foreign log's own time base, microseconds)."""
    conn.executemany(
        "insert into trip_spans (segment, device_id, boot, clock, t_start_us, t_end_us, start, "
        '"end", frames, gps_fixes, distance_m, first_fix, last_fix, ends_trip) '
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                segment,
                device_id,
                boot,
                clock,
                s.t_start_us,
                s.t_end_us,
                to_utc(s.t_start_us),
                to_utc(s.t_end_us),
                s.frames,
                s.gps_fixes,
                s.distance_m,
                None if s.first_fix is None else json.dumps(s.first_fix),
                None if s.last_fix is None else json.dumps(s.last_fix),
                s.ends_trip,
            )
            for s in spans
        ],
    )


def rebuild_trips(
    conn: sqlite3.Connection, device_id: str, boot: int, gap_s: float = GAP_S
) -> None:
    """Recompute the trips of one device and boot from their spans.

    A trip keeps its id across later imports: a recomputed trip takes the id of the
    earlier trip of the same device and boot that it overlaps (the lowest, where a new
    segment joins two), and a trip that overlaps none gets the next unused id. So
    ``--trip N`` means the same drive however many segments come after it.
    """
    rows = conn.execute(
        'select segment, clock, t_start_us, t_end_us, start, "end", frames, gps_fixes, '
        "distance_m, first_fix, last_fix, ends_trip from trip_spans "
        "where device_id = ? and boot = ? order by t_start_us, t_end_us, id",
        (device_id, boot),
    ).fetchall()
    trips: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for seg, clock, t0, t1, start, end, frames, fixes, dist, first, last, ends in rows:
        first_fix = json.loads(first) if first else None
        last_fix = json.loads(last) if last else None
        if current is None or current["ended_by"] or t0 - current["t1"] > gap_s * 1e6:
            current = {
                "clock": clock, "t0": t0, "t1": t1, "start": start, "end": end,
                "frames": 0, "gps_fixes": 0, "distance_m": 0.0, "segments": set(),
                "last_fix": None, "ended_by": None,
            }  # fmt: skip
            trips.append(current)
        elif first_fix is not None and current["last_fix"] is not None:
            current["distance_m"] += _step_m(current["last_fix"], first_fix)
        if t1 >= current["t1"]:
            current["t1"], current["end"] = t1, end
        current["frames"] += frames
        current["gps_fixes"] += fixes
        current["distance_m"] += dist
        current["segments"].add(seg)
        if last_fix is not None:
            current["last_fix"] = last_fix
        current["ended_by"] = ends
    kept = [t for t in trips if t["frames"] or t["gps_fixes"]]  # an event alone is no trip
    ids = _stable_ids(conn, device_id, boot, kept)
    conn.execute("delete from trips where device_id = ? and boot = ?", (device_id, boot))
    conn.executemany(
        'insert into trips (id, device_id, boot, start, "end", mono_start_us, mono_end_us, '
        "duration_s, distance_m, gps_fixes, frames, segments, ended_by) "
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                ids[i],
                device_id,
                boot,
                t["start"],
                t["end"],
                t["t0"] if t["clock"] == "mono" else None,
                t["t1"] if t["clock"] == "mono" else None,
                (t["t1"] - t["t0"]) / 1e6,
                round(t["distance_m"], 3),
                t["gps_fixes"],
                t["frames"],
                len(t["segments"]),
                t["ended_by"] or ("log_end" if t is trips[-1] else "gap"),
            )
            for i, t in enumerate(kept)
        ],
    )


def _step_m(a: list[float], b: list[float]) -> float:
    if a[2] < STANDING_MPS and b[2] < STANDING_MPS:
        return 0.0
    arr = np.array
    return float(haversine_m(arr([a[0]]), arr([a[1]]), arr([b[0]]), arr([b[1]]))[0])


def _stable_ids(
    conn: sqlite3.Connection, device_id: str, boot: int, trips: list[dict[str, Any]]
) -> list[int]:
    """Ids for recomputed trips: each keeps the lowest id of the old trips it overlaps."""
    old = conn.execute(
        'select id, mono_start_us, mono_end_us, start, "end" from trips '
        "where device_id = ? and boot = ? order by id",
        (device_id, boot),
    ).fetchall()
    (top,) = conn.execute("select coalesce(max(id), 0) from trips").fetchone()
    used: set[int] = set()
    ids = []
    for t in trips:
        if t["clock"] == "mono":
            span, col = (t["t0"], t["t1"]), (1, 2)
        else:
            span, col = (t["start"], t["end"]), (3, 4)
        match = next(
            (
                row[0]
                for row in old
                if row[0] not in used
                and None not in span
                and row[col[0]] is not None
                and row[col[1]] is not None
                and row[col[0]] <= span[1]
                and span[0] <= row[col[1]]
            ),
            None,
        )
        if match is None:
            top += 1
            match = top
        used.add(match)
        ids.append(match)
    return ids


# -- reading trips back ----------------------------------------------------------------
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


def list_trips(db: sqlite_utils.Database) -> list[Trip]:
    """Every trip in the database, numbered from 1 in order of start time, as import
    keeps them: the one definition the check, the report, the exports and
    ``keilog trips`` all read."""
    table = db.table("trips")
    if not (table.exists() and {"id", "start", "end"} <= set(table.columns_dict)):
        raise StoreError(
            f"{db_file(db)}: no trips table; is this a keilog database? Import logs into a "
            "new database with keilog import (older databases: import them again)"
        )
    return _stored_trips(db)


def db_file(db: sqlite_utils.Database) -> str:
    """The file a database was opened from (for messages)."""
    for _, name, path in db.execute("pragma database_list").fetchall():
        if name == "main":
            return str(path) or ":memory:"
    return ":memory:"


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
    segments = None
    if device is not None:
        where += " and device_id = ?"
        segments = [
            int(r[0])
            for r in db.execute(
                "select s.id from segments s join devices d on d.id = s.device "
                "where d.device_id = ?",
                [device],
            ).fetchall()
        ]
    fixes = db.execute(
        f"select count(*) from gps_fixes where {where}", [*args, *([device] if device else [])]
    ).fetchone()[0]
    query = FrameQuery(segments=segments, start=start, end=end)
    frames = sum(len(part) for part in read_frames(db.conn, query))
    return int(fixes), int(frames)


@dataclass(frozen=True)
class TripExtent:
    """Where the stored rows of one trip are (docs/database.md, "Trips"): its device and
    boot, its window on the logger's clock (``mono``, microseconds; None for other
    loggers' logs) and in UTC seconds (None without a clock), and the frame numbers of
    its segments (inclusive ranges): the primary key of ``frame_blocks`` ranges and of
    every ``sig_`` table, so a condition on them is an index search where a time
    condition on a ``msg_`` view (whose ``timestamp`` is computed) reads every row."""

    id: int
    device_id: str
    boot: int
    mono: tuple[int, int] | None
    start: float | None
    end: float | None
    segments: list[int]
    frames: list[tuple[int, int]]

    def frame_condition(self, column: str = "frame_id") -> tuple[str, list[int]]:
        """SQL that holds for a row whose ``column`` is one of the trip's frame numbers
        (``column`` is SQL the caller wrote, never a name from a log or DBC)."""
        if not self.frames:
            return "0", []
        sql = " or ".join(f"{column} between ? and ?" for _ in self.frames)
        return f"({sql})", [v for lo, hi in self.frames for v in (lo, hi)]


def trip_extent(db: sqlite_utils.Database, trip: int) -> TripExtent:
    """Where trip number ``trip`` is stored: the one reading of a trip's extent that the
    frame queries, the exports and the report share.

    Its segments are those with a span (``trip_spans``) in the trip's window: on the
    logger's clock for the logger's own logs (as :func:`rebuild_trips` gathered them),
    in UTC for other loggers' logs. Every frame lies in a span of its own segment, so
    the frames of the trip's device and boot within its window are all in these
    segments; readers keep their time condition beside the frame numbers for the rest.
    """
    found = db.execute(
        'select device_id, boot, mono_start_us, mono_end_us, start, "end" from trips where id = ?',
        [trip],
    ).fetchone()
    if found is None:
        last = db.execute("select max(id) from trips").fetchone()[0]
        have = f"trips 1..{last}" if last else "no trips"
        raise StoreError(
            f"no trip {trip}; the database has {have} (list them with keilog trips --db FILE)"
        )
    device, boot, mono0, mono1, start, end = found
    if mono0 is not None and mono1 is not None:
        overlap, window = "p.t_start_us <= ? and p.t_end_us >= ?", [mono1, mono0]
    else:
        overlap, window = 'p.start <= ? and p."end" >= ?', [end, start]
    rows = db.execute(
        "select distinct s.id, s.first_frame, s.frames from trip_spans p "
        f"join segments s on s.id = p.segment where p.device_id = ? and p.boot = ? and {overlap} "
        "order by s.first_frame, s.id",
        [device, boot, *window],
    ).fetchall()
    frames: list[tuple[int, int]] = []
    for _, first, n in rows:
        if first is None or not n:
            continue
        lo, hi = int(first), int(first) + int(n) - 1
        if frames and lo <= frames[-1][1] + 1:  # consecutive segments: one range
            frames[-1] = (frames[-1][0], max(hi, frames[-1][1]))
        else:
            frames.append((lo, hi))
    return TripExtent(
        trip,
        str(device),
        int(boot),
        None if mono0 is None or mono1 is None else (int(mono0), int(mono1)),
        None if start is None else float(start),
        None if end is None else float(end),
        [int(r[0]) for r in rows],
        frames,
    )


def select_trips(trips: list[Trip], trip: int | None = None, all_trips: bool = False) -> list[Trip]:
    """The trips asked for: ``trip`` by id, all of them, or else the latest one."""
    if not trips:
        raise StoreError(
            "the database has no trips (no timestamped frames or GPS fixes); import logs "
            "with keilog import first"
        )
    if trip is not None and all_trips:
        raise StoreError("give either --trip N or --all, not both")
    if all_trips:
        return list(trips)
    if trip is None:
        return [trips[-1]]
    for t in trips:
        if t.id == trip:
            return [t]
    raise StoreError(
        f"no trip {trip}; the database has trips {trips[0].id}..{trips[-1].id} "
        "(list them with keilog trips --db FILE)"
    )
