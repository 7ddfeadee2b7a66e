"""Trip reports.

- report_trips_rows_per_s: ``keilog.report.list_trips`` over a 10-hour log (10 Hz CAN
  speed frames and 1 Hz GPS, 396,000 rows) vs the direct SQL a straightforward
  implementation writes (``lag()`` and a running ``sum()`` window over every row).
  keilog import keeps a ``trips`` table (keilog.store.trips, computed per segment as it is
  imported), so listing trips reads that table.
- report_trip_10h_s: ``write_report`` of that 10-hour trip (map, speed plot, summary,
  speedometer); the reference is the trip's own duration, so the ratio is "times faster
  than real time". ``--quick`` uses a 1-hour log.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from keilog import paths, store
from keilog.decode import dbc
from keilog.logformat.columns import CanColumns, SegmentColumns
from keilog.logformat.reader import ClockAnchor, GpsFix, Record, SegmentHeader
from keilog.report import list_trips, write_report
from keilog.store import ingest
from keilog.store.frames import temp_frames
from keilog.store.trips import GAP_S

from bench import best_of, entry

START = 1_780_322_400.0  # 2026-06-01T14:00:00Z
WINDOW_SQL = f"""
with t as (
  select device_id, boot, timestamp from gps_fixes where timestamp is not null
  union all
  select d.device_id, s.boot, f.timestamp from frames f join segments s on s.id = f.segment
    join devices d on d.id = s.device where f.timestamp is not null
), g as (
  select *, case when timestamp - lag(timestamp) over w > {GAP_S:g} then 1 else 0 end as new
  from t window w as (partition by device_id, boot order by timestamp)
), s as (
  select *, sum(new) over (partition by device_id, boot order by timestamp
                            rows unbounded preceding) as part from g
)
select device_id, boot, min(timestamp), max(timestamp), count(*)
from s group by device_id, boot, part order by min(timestamp)
"""


def _log(path: Path, seconds: int) -> int:
    """A drive around Gainesville, FL: speed wanders 0-60 mph; rows imported.

    Written through the store's own segment import (keilog.store.ingest), so the tables, and
    the trips it keeps, are those ``keilog import`` writes.
    """
    keicar = dbc.load_databases([paths.keicar_dbc()])
    msg = keicar.get_message_by_name("VEHICLE_SPEED")
    rng = np.random.default_rng(3)
    n_can = seconds * 10
    kmh = np.clip(50 + np.cumsum(rng.normal(0, 0.5, n_can)), 0, 96)
    t_can = np.arange(n_can) / 10
    t_gps = np.arange(seconds, dtype=float)
    mps = np.interp(t_gps, t_can, kmh) / 3.6
    heading = np.cumsum(rng.normal(0, 2, seconds))
    north = np.cumsum(mps * np.cos(np.radians(heading)))
    east = np.cumsum(mps * np.sin(np.radians(heading)))
    lat = 29.6516 + north / 111_195.0
    lon = -82.3248 + east / (111_195.0 * np.cos(np.radians(29.6516)))
    # VEHICLE_SPEED (dbc/keicar.dbc): bytes 0-1, little-endian, 0.01 km/h per bit.
    raw = np.round(kmh / 0.01).astype("<u2")
    data = np.zeros((n_can, 8), np.uint8)
    data[:, :2] = raw.view(np.uint8).reshape(-1, 2)
    can = CanColumns(
        np.arange(n_can, dtype=np.int64) * 100_000,
        np.full(n_can, msg.frame_id, np.uint32),
        np.zeros(n_can, np.bool_),
        np.zeros(n_can, np.bool_),
        np.zeros(n_can, np.bool_),
        np.full(n_can, 8, np.uint8),
        data,
    )
    fixes: list[Record] = [
        GpsFix(i * 1_000_000, None, float(y), float(x), 30.0, float(v), float(h % 360), 0.9, 1, 9)
        for i, (y, x, v, h) in enumerate(zip(lat, lon, mps, heading, strict=True))
    ]
    header = SegmentHeader(0, 1, 0, 1, 0, "KEI-BENCH", (0, 1, 0))
    anchor = ClockAnchor(0, round(START * 1e6), "gps")
    cols = SegmentColumns(header, can, [header, anchor, *fixes], name="BENCH000.KLG")
    ingest._store_columns(store.open_db(path), cols, "bench" * 8, cols.name, keicar, None)
    return n_can + seconds


def run(quick: bool = False) -> dict[str, Any]:
    seconds = 3600 if quick else 36_000
    with tempfile.TemporaryDirectory(prefix="keilog-bench-report-") as tmp:
        path = Path(tmp) / "log.db"
        rows = _log(path, seconds)
        db = store.open_db(path)
        # The reference is SQL over a row per frame: schema 3 packs raw frames, so they
        # are unpacked into a temporary table first (not timed).
        temp_frames(db.conn)
        t_keilog, trips = best_of(lambda: list_trips(db), 3)
        t_window, windows = best_of(lambda: db.execute(WINDOW_SQL).fetchall(), 3)
        assert len(trips) == len(windows) == 1
        t_report, _ = best_of(lambda: write_report(path, Path(tmp) / "r.html"), 1)
        size = (Path(tmp) / "r.html").stat().st_size
    return {
        "report_trips_rows_per_s": entry(
            rows / t_keilog,
            rows / t_window,
            "SQL lag()/sum() window over every row",
            "rows/s",
            True,
            rows=rows,
        ),
        "report_trip_10h_s": entry(
            t_report * (36_000 / seconds),
            36_000.0,
            "the trip's duration (real time)",
            "s",
            False,
            html_bytes=size,
            scaled_from_s=seconds,
        ),
    }
