"""Trip reports.

- report_trips_rows_per_s: ``keilog.report.list_trips`` (per-minute bins, then splits in
  Python) over a 10-hour log (10 Hz CAN speed frames and 1 Hz GPS, 396,001 rows) vs the
  direct SQL a straightforward implementation writes (``lag()`` and a running ``sum()``
  window over every row).
- report_trip_10h_s: ``write_report`` of that 10-hour trip (map, speed plot, summary,
  speedometer); the reference is the trip's own duration, so the ratio is "times faster
  than real time". ``--quick`` uses a 1-hour log.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from keilog import dbc, paths, store
from keilog.report import list_trips, write_report
from keilog.report.trips import GAP_S

from bench import best_of, entry

START = 1_780_322_400.0  # 2026-06-01T14:00:00Z
WINDOW_SQL = f"""
with t as (
  select device_id, boot, timestamp from gps_fixes where timestamp is not null
  union all
  select device_id, boot, timestamp from frames where timestamp is not null
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
    """A drive around Gainesville, FL: speed wanders 0-60 mph; rows inserted."""
    db = store.open_db(path)
    keicar = dbc.load_files([paths.keicar_dbc()])
    table = store._ensure_message_table(db, keicar.get_message_by_name("VEHICLE_SPEED"))
    rng = np.random.default_rng(3)
    t_can = START + np.arange(seconds * 10) / 10
    kmh = np.clip(50 + np.cumsum(rng.normal(0, 0.5, len(t_can))), 0, 96)
    t_gps = START + np.arange(seconds, dtype=float)
    mps = np.interp(t_gps, t_can, kmh) / 3.6
    heading = np.cumsum(rng.normal(0, 2, seconds))
    north = np.cumsum(mps * np.cos(np.radians(heading)))
    east = np.cumsum(mps * np.sin(np.radians(heading)))
    lat = 29.6516 + north / 111_195.0
    lon = -82.3248 + east / (111_195.0 * np.cos(np.radians(29.6516)))
    key = ("bench", "KEI-BENCH", 1)
    with db.conn:
        db.conn.executemany(
            "insert into frames (id, segment, device_id, boot, mono_us, timestamp, "
            "arbitration_id, is_extended, is_remote, is_error, dlc, data) "
            "values (?,?,?,?,?,?,464,0,0,0,8,x'0000000000000000')",
            ((i + 1, *key, i * 100_000, float(t)) for i, t in enumerate(t_can)),
        )
        db.conn.executemany(
            f"insert into [{table}] (frame_id, timestamp, device_id, boot, mono_us, "
            "VEHICLE_SPEED) values (?,?,?,?,?,?)",
            (
                (i + 1, float(t), "KEI-BENCH", 1, i * 100_000, float(v))
                for i, (t, v) in enumerate(zip(t_can, kmh, strict=True))
            ),
        )
        db.conn.executemany(
            "insert into gps_fixes (segment, device_id, boot, mono_us, timestamp, lat, lon, "
            "alt_m, speed_mps, course_deg, quality, satellites, hdop) "
            "values (?,?,?,?,?,?,?,30,?,?,1,9,0.9)",
            (
                (*key, i * 1_000_000, float(t), float(y), float(x), float(s), float(h % 360))
                for i, (t, y, x, s, h) in enumerate(zip(t_gps, lat, lon, mps, heading, strict=True))
            ),
        )
    return len(t_can) + len(t_gps)


def run(quick: bool = False) -> dict[str, Any]:
    seconds = 3600 if quick else 36_000
    with tempfile.TemporaryDirectory(prefix="keilog-bench-report-") as tmp:
        path = Path(tmp) / "log.db"
        rows = _log(path, seconds)
        db = store.open_db(path)
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
