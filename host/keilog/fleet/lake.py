"""The fleet lake: every vehicle's trips as Parquet, partitioned by device and date.

Layout (docs/fleet.md)::

    LAKE/vehicles.parquet                             the fleet file as a table
    LAKE/trips/device=KEI00001/date=2026-06-01/part.parquet
    LAKE/results/{trips,events,daily}/*.parquet       written by keilog fleet check

A row of ``trips`` is one trip as keilog import keeps it (``keilog.store.trips``), with
what the rules check reads as list columns: its GPS fixes (``t, lat, lon, speed_mps,
course_deg, quality``) and the vehicle's own logged speed (``can_t, can_mph``). One row
per trip keeps a partition one file, so replacing it is one atomic rename.

Ingest is idempotent: a trip is keyed by device, boot and start, with a SHA-256 of its
samples; a partition is rewritten only when a trip is new or changed (a later segment
of the same boot grew it), and re-ingesting the same logs writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keilog import paths
from keilog.decode.dbc import load_databases
from keilog.errors import ConfigError, StoreError
from keilog.fleet.config import VehicleEntry, load_fleet
from keilog.fleet.needs import need
from keilog.outputs import undo_on_failure
from keilog.store import import_files
from keilog.store.fixes import read_fixes
from keilog.store.trips import Trip, list_trips

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlite_utils

KMH_PER_MPH = 1.609344
# The vehicle's own speed, in the order the rules check prefers it (docs/rules.md):
# the ABS speed of the kei car DBC, else OBD-II PID 0x0D; values in km/h.
SPEED_SIGNALS = [("msg_VEHICLE_SPEED", "VEHICLE_SPEED", "CAN VEHICLE_SPEED (ABS)")] + [
    (f"msg_OBD2_RESPONSE_ECU{i}", "VEHICLE_SPEED", f"OBD-II PID 0x0D (ECU{i})") for i in range(1, 9)
]
SAMPLE_COLUMNS = ("t", "lat", "lon", "speed_mps", "course_deg", "quality", "can_t", "can_mph")
PART = "part.parquet"
SQLITE_MAGIC = b"SQLite format 3\x00"


def trips_schema() -> pa.Schema:
    import pyarrow as pa

    floats = pa.list_(pa.float64())
    return pa.schema(
        [
            ("device_id", pa.string()),
            ("date", pa.string()),
            ("trip_key", pa.string()),
            ("boot", pa.int64()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("frames", pa.int64()),
            ("can_label", pa.string()),
            *[(name, floats) for name in SAMPLE_COLUMNS],
            ("sha256", pa.string()),
            ("source", pa.string()),
        ]
    )


def vehicles_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("device_id", pa.string()),
            ("name", pa.string()),
            ("registration_state", pa.string()),
            ("class", pa.string()),
            ("lights", pa.bool_()),
            ("driver", pa.string()),
        ]
    )


@dataclass
class IngestResult:
    sources: int = 0
    trips_added: int = 0
    trips_replaced: int = 0
    trips_unchanged: int = 0
    partitions_written: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "trips_added": self.trips_added,
            "trips_replaced": self.trips_replaced,
            "trips_unchanged": self.trips_unchanged,
            "partitions_written": len(self.partitions_written),
        }


def partition_dir(lake: Path, device_id: str, date: str) -> Path:
    """``trips/device=<id>/date=<YYYY-MM-DD>``; the id percent-encoded as Hive does."""
    return lake / "trips" / f"device={urllib.parse.quote(device_id, safe='')}" / f"date={date}"


def trip_files(lake: Path) -> list[Path]:
    return sorted((lake / "trips").glob("device=*/date=*/*.parquet"))


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write a Parquet file next to ``path`` and rename it into place (all or nothing)."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- vehicles -----------------------------------------------------------------------------


def write_vehicles(lake: Path, vehicles: list[VehicleEntry]) -> None:
    import pyarrow as pa

    rows = [v.to_row() for v in vehicles]
    write_atomic(pa.Table.from_pylist(rows, schema=vehicles_schema()), lake / "vehicles.parquet")


def read_vehicles(lake: Path) -> list[VehicleEntry]:
    import pyarrow.parquet as pq

    path = lake / "vehicles.parquet"
    if not path.is_file():
        raise ConfigError(
            f"{lake}: no vehicles.parquet; give --fleet fleet.toml to keilog fleet ingest"
        )
    return [VehicleEntry.from_row(r) for r in pq.read_table(path).to_pylist()]


def check_lake(lake: Path) -> None:
    """Refuse a folder that is not a lake, or one with trips of an unregistered device."""
    files = trip_files(lake)
    if not (lake / "vehicles.parquet").is_file() or not files:
        raise StoreError(
            f"{lake}: not a fleet lake with trips; make one with keilog fleet ingest LOGS "
            f"--lake {lake} --fleet fleet.toml"
        )
    known = {v.device_id for v in read_vehicles(lake)}
    for f in files:
        device = urllib.parse.unquote(f.parent.parent.name.removeprefix("device="))
        if device not in known:
            raise ConfigError(
                f"{f.parent}: device {device} is not in the lake's vehicles; ingest again "
                "with --fleet FILE listing it"
            )


# -- reading trips from keilog databases ---------------------------------------------------


def _columns(db: sqlite_utils.Database, table: str) -> set[str]:
    return {row[1] for row in db.execute(f'pragma table_info("{table}")').fetchall()}


def _speed(db: sqlite_utils.Database, trip: Trip) -> tuple[np.ndarray, np.ndarray, str | None]:
    for table, column, label in SPEED_SIGNALS:
        if not {column, "device_id", "boot", "timestamp"} <= _columns(db, table):
            continue
        rows = db.execute(
            f'select timestamp, "{column}" from "{table}" where device_id = ? and boot = ? '
            f'and timestamp between ? and ? and "{column}" is not null order by timestamp',
            [trip.device_id, trip.boot, trip.start, trip.end],
        ).fetchall()
        if rows:
            a = np.array(rows, dtype=np.float64)
            return a[:, 0], a[:, 1] / KMH_PER_MPH, label
    return np.zeros(0), np.zeros(0), None


def _digest(arrays: Iterable[np.ndarray], label: str | None) -> str:
    h = hashlib.sha256((label or "").encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date().isoformat()


def database_trips(
    db: sqlite_utils.Database, trips: list[Trip], source: str
) -> Iterator[dict[str, Any]]:
    """Lake rows of ``trips`` (of ``list_trips``) that have GPS fixes."""
    for trip in trips:
        if not trip.gps_fixes:
            continue
        fx = read_fixes(db, trip)
        if not len(fx):
            continue
        can_t, can_mph, label = _speed(db, trip)
        arrays = [fx.t, fx.lat, fx.lon, fx.speed_mps, fx.course_deg, fx.quality, can_t, can_mph]
        yield {
            "device_id": trip.device_id,
            "date": _date(trip.start),
            "trip_key": f"{trip.boot}-{round(trip.start * 1000)}",
            "boot": trip.boot,
            "start": trip.start,
            "end": trip.end,
            "frames": trip.frames,
            "can_label": label,
            **{name: a.tolist() for name, a in zip(SAMPLE_COLUMNS, arrays, strict=True)},
            "sha256": _digest(arrays, label),
            "source": source,
        }


def _open_ro(path: Path) -> sqlite_utils.Database:
    import sqlite_utils

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc})") from None
    return sqlite_utils.Database(conn)


def is_database(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def _sources(
    inputs: list[Path], scratch: Path, dbc_files: list[Path] | None
) -> list[tuple[str, Path]]:
    """(label, database) for every input: databases as they are, segments (files or
    folders of them) imported together into one scratch database by keilog.store, so
    trips that span segments are made exactly as keilog import makes them."""
    dbs = [(p.name, p) for p in inputs if p.is_file() and is_database(p)]
    logs = [p for p in inputs if not (p.is_file() and is_database(p))]
    files: list[Path] = []
    for p in logs:
        if not p.exists():
            raise ConfigError(f"{p}: no such file or folder")
        if p.is_dir():  # a fleet archive: a folder per device (keilog sync --into, or SD cards)
            found = sorted(f for f in p.rglob("*") if f.suffix.upper() == ".KLG" and f.is_file())
            if not found:
                raise ConfigError(f"{p}: no log segments (*.KLG) in this folder or below it")
            files.extend(found)
        else:
            files.append(p)
    if files:
        db_path = scratch / "segments.db"
        import_files(db_path, files, can_db=load_databases(dbc_files or [paths.keicar_dbc()]))
        dbs.append(("segments", db_path))
    return dbs


# -- ingest -------------------------------------------------------------------------------


def _merge(
    old: list[dict[str, Any]], new: list[dict[str, Any]], result: IngestResult
) -> list[dict[str, Any]] | None:
    """The partition's rows after adding ``new``; None when nothing changed.

    A new trip replaces the stored trips of its device and boot that it overlaps (the
    same drive, grown by a later segment); an identical one (same SHA-256) is kept."""
    rows = list(old)
    changed = False
    for trip in new:
        same = [
            r
            for r in rows
            if r["device_id"] == trip["device_id"]
            and r["boot"] == trip["boot"]
            and r["start"] <= trip["end"]
            and trip["start"] <= r["end"]
        ]
        if len(same) == 1 and same[0]["sha256"] == trip["sha256"]:
            result.trips_unchanged += 1
            continue
        if same:
            result.trips_replaced += 1
        else:
            result.trips_added += 1
        rows = [r for r in rows if all(r is not s for s in same)] + [trip]
        changed = True
    return sorted(rows, key=lambda r: (r["start"], r["trip_key"])) if changed else None


def ingest(
    inputs: list[Path],
    lake: Path,
    fleet_file: Path | None = None,
    dbc_files: list[Path] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Bring segments or keilog databases of many devices into the lake.

    Segments are decoded with ``dbc_files`` (default: the kei car DBC), so the vehicle's
    own speed is found as ``keilog check`` finds it. Every device must be in the fleet
    file (given now, or at an earlier ingest). Each partition (device, date) is replaced
    atomically; a failure leaves every partition either as it was or complete.
    """
    need("pyarrow")
    if not inputs:
        raise ConfigError("give log segments, folders of them, or keilog databases to ingest")
    vehicles = load_fleet(fleet_file) if fleet_file else None
    known = read_vehicles(lake) if vehicles is None else vehicles
    # A lake this run creates is removed if the run fails before a partition is complete.
    with undo_on_failure(lake, keep_if=lambda: bool(trip_files(lake))):
        lake.mkdir(parents=True, exist_ok=True)
        return _ingest(inputs, lake, vehicles, {v.device_id for v in known}, dbc_files, progress)


def _ingest(
    inputs: list[Path],
    lake: Path,
    vehicles: list[VehicleEntry] | None,
    ids: set[str],
    dbc_files: list[Path] | None,
    progress: Callable[[int, int], None] | None,
) -> IngestResult:
    result = IngestResult()
    with tempfile.TemporaryDirectory(prefix=".ingest-", dir=lake) as tmp:
        opened = []
        try:
            for label, path in _sources([Path(p) for p in inputs], Path(tmp), dbc_files):
                opened.append((label, _open_ro(path)))
            # Every device is known before anything is written.
            plan = []
            for label, db in opened:
                trips = [t for t in list_trips(db) if t.gps_fixes]
                for t in trips:
                    if t.device_id not in ids:
                        raise ConfigError(
                            f"{label}: device {t.device_id} is not in the fleet file; add it "
                            "as a [[vehicle]] and ingest again (nothing was written)"
                        )
                plan.append((label, db, trips))
            if vehicles is not None:
                write_vehicles(lake, vehicles)
            total = sum(len(trips) for _, _, trips in plan)
            done = 0
            for label, db, trips in plan:
                # One device at a time: memory holds one device's trips, not the fleet's.
                for dev in sorted({t.device_id for t in trips}):
                    mine = [t for t in trips if t.device_id == dev]
                    parts: dict[str, list[dict[str, Any]]] = {}
                    for row in database_trips(db, mine, label):
                        parts.setdefault(row["date"], []).append(row)
                    for date, rows in sorted(parts.items()):
                        _write_partition(lake, dev, date, rows, result)
                    done += len(mine)
                    if progress is not None:
                        progress(done, total)
        finally:
            for _, db in opened:
                db.close()
        result.sources = len(opened)
    return result


def _write_partition(
    lake: Path, device_id: str, date: str, rows: list[dict[str, Any]], result: IngestResult
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = partition_dir(lake, device_id, date) / PART
    try:
        old = pq.read_table(path).to_pylist() if path.is_file() else []
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(
            f"{path}: not a readable lake partition ({str(exc).splitlines()[0]}); remove it and "
            "ingest that device's logs again (the other partitions are complete)"
        ) from None
    merged = _merge(old, rows, result)
    if merged is not None:
        write_atomic(pa.Table.from_pylist(merged, schema=trips_schema()), path)
        result.partitions_written.append(str(path.parent.relative_to(lake)))
