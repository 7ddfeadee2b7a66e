"""The per-trip work both engines run: a lake trip row -> the rules check -> result rows.

Everything rule-related is ``keilog.rules.check.check_trip`` (the same check as
``keilog check``) on a ``TripData`` built from the row. Both engines (DuckDB here on one
machine, Spark's ``applyInPandas`` on a cluster) call :func:`check_row` on every trip and
:func:`event_rows` on its result, so they give the same rows by construction; the
per-day summary is one SQL text both engines run (``DAILY_SQL``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keilog.fleet.config import VehicleEntry
from keilog.rules.check import check_trip
from keilog.rules.tripdata import TripData, TripSpan
from keilog.units import haversine_m

if TYPE_CHECKING:
    from keilog.geo import StateIndex
    from keilog.roads import RoadIndex
    from keilog.rules.model import RuleBook

M_PER_MILE = 1609.344

# (name, Arrow type name, Spark SQL type) of a checked trip; one row per trip.
RESULT_COLUMNS = [
    ("device_id", "string", "string"),
    ("date", "string", "string"),
    ("trip_key", "string", "string"),
    ("start", "float64", "double"),
    ("end", "float64", "double"),
    ("duration_s", "float64", "double"),
    ("distance_mi", "float64", "double"),
    ("judged_mi", "float64", "double"),
    ("verdict", "string", "string"),
    ("states", "string", "string"),
    ("speed_source", "string", "string"),
    ("fixes", "int64", "bigint"),
    ("speed_frames", "int64", "bigint"),
    ("frames", "int64", "bigint"),
    ("violations", "int64", "bigint"),
    ("unverified", "int64", "bigint"),
    ("crossings", "int64", "bigint"),
    ("detail", "string", "string"),
]
# One row per event of a trip: kind is violation, unverified or crossing.
EVENT_COLUMNS = [
    ("device_id", "string", "string"),
    ("date", "string", "string"),
    ("trip_key", "string", "string"),
    ("kind", "string", "string"),
    ("rule", "string", "string"),
    ("state", "string", "string"),
    ("start", "string", "string"),
    ("end", "string", "string"),
    ("duration_s", "float64", "double"),
    ("reason", "string", "string"),
    ("source", "string", "string"),
    ("lat", "float64", "double"),
    ("lon", "float64", "double"),
]

# Per vehicle and day (UTC date of the trip's start). Standard SQL that DuckDB and Spark
# both run as it is; sums are cast and rounded so the engines agree to the digit.
DAILY_SQL = """
select t.device_id, t.date, v.name, v.driver, v.registration_state, v.class,
  count(*) as trips,
  round(sum(t.distance_mi), 3) as distance_mi,
  round(sum(t.duration_s), 1) as duration_s,
  round(sum(t.judged_mi), 3) as judged_mi,
  case when sum(t.distance_mi) > 0
       then round(sum(t.judged_mi) / sum(t.distance_mi), 4) end as judged_share,
  cast(sum(t.violations) as bigint) as violations,
  cast(sum(t.unverified) as bigint) as unverified,
  case when sum(case when t.verdict = 'violations' then 1 else 0 end) > 0 then 'violations'
       when sum(case when t.verdict = 'unverified' then 1 else 0 end) > 0 then 'unverified'
       else 'clean' end as verdict,
  cast(sum(t.fixes) as bigint) as fixes,
  cast(sum(t.speed_frames) as bigint) as speed_frames
from trips t left join vehicles v on v.device_id = t.device_id
group by t.device_id, t.date, v.name, v.driver, v.registration_state, v.class
"""
# Per driver and day, over DAILY_SQL's rows (a vehicle without a driver counts as its name).
DRIVER_DAY_SQL = """
select coalesce(driver, name) as driver, date,
  count(*) as vehicles,
  cast(sum(trips) as bigint) as trips,
  round(sum(distance_mi), 3) as distance_mi,
  round(sum(duration_s), 1) as duration_s,
  cast(sum(violations) as bigint) as violations,
  cast(sum(unverified) as bigint) as unverified,
  case when sum(case when verdict = 'violations' then 1 else 0 end) > 0 then 'violations'
       when sum(case when verdict = 'unverified' then 1 else 0 end) > 0 then 'unverified'
       else 'clean' end as verdict
from daily group by coalesce(driver, name), date
"""


def spark_ddl(columns: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"`{name}` {spark}" for name, _, spark in columns)


def arrow_schema(columns: list[tuple[str, str, str]]) -> Any:
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind, _ in columns])


@functools.lru_cache(maxsize=4)
def context(roads_path: str | None) -> tuple[RuleBook, StateIndex, RoadIndex | None]:
    """Rules, state polygons and roads, loaded once per process (a Spark worker too)."""
    from keilog.geo import load_states
    from keilog.roads import RoadIndex
    from keilog.rules.model import load_rules

    roads = RoadIndex.load(Path(roads_path)) if roads_path else None
    return load_rules(), load_states(), roads


def _f64(value: Any) -> np.ndarray:
    return np.asarray(value if value is not None else [], dtype=np.float64)


def trip_data(row: Mapping[str, Any]) -> TripData:
    """The check's input for a lake row (times are UTC: the lake keeps clocked trips)."""
    span = TripSpan(0, str(row["device_id"]), int(row["boot"]), 0, 0)
    return TripData(
        span=span,
        utc_known=True,
        t=_f64(row["t"]),
        lat=_f64(row["lat"]),
        lon=_f64(row["lon"]),
        gps_speed_mps=_f64(row["speed_mps"]),
        course_deg=_f64(row["course_deg"]),
        quality=_f64(row["quality"]),
        can_t=_f64(row["can_t"]),
        can_speed_mph=_f64(row["can_mph"]),
        can_label=row["can_label"],
    )


def _seconds(stamp: str | None) -> float | None:
    if stamp is None:
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def judged_share(data: TripData, unverified: list[dict[str, Any]]) -> float:
    """Share of the trip's GPS distance outside every unverified stretch (0..1).

    A step between two fixes counts as judged unless its midpoint falls in a stretch the
    check could not verify (an unknown rule, no road data, a GPS dropout, ...)."""
    ok = np.isfinite(data.lat) & np.isfinite(data.lon)
    t, lat, lon = data.t[ok], data.lat[ok], data.lon[ok]
    if len(t) < 2:
        return 0.0
    step = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    mid = (t[:-1] + t[1:]) / 2
    covered = np.zeros(len(mid), dtype=bool)
    for e in unverified:
        a, b = _seconds(e.get("start")), _seconds(e.get("end"))
        if a is not None and b is not None:
            covered |= (mid >= a - 0.0005) & (mid <= b + 0.0005)  # ISO times are to the ms
    total = float(step.sum())
    return float(step[~covered].sum()) / total if total > 0 else 0.0


def check_row(
    row: Mapping[str, Any], vehicle: VehicleEntry, roads_path: str | None = None
) -> dict[str, Any]:
    """Check one lake trip for its vehicle; the result row (RESULT_COLUMNS)."""
    book, states, roads = context(roads_path)
    data = trip_data(row)
    out = check_trip(data, vehicle.vehicle(), roads, book, states)
    distance = float(out["distance_mi"])
    share = judged_share(data, out["unverified"])
    return {
        "device_id": str(row["device_id"]),
        "date": str(row["date"]),
        "trip_key": str(row["trip_key"]),
        "start": float(row["start"]),
        "end": float(row["end"]),
        "duration_s": float(out["duration_s"]),
        "distance_mi": distance,
        "judged_mi": round(distance * share, 3),
        "verdict": out["verdict"],
        "states": ",".join(out["states"]),
        "speed_source": out["speed_source"]["source"],
        "fixes": len(data.t),
        "speed_frames": len(data.can_t),
        "frames": int(row["frames"]),
        "violations": len(out["violations"]),
        "unverified": len(out["unverified"]),
        "crossings": len(out["crossings"]),
        "detail": json.dumps(out, sort_keys=True),
    }


def event_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The violations, unverified stretches and crossings of one result row."""
    detail = json.loads(result["detail"])
    rows = []
    for kind, key in (
        ("violation", "violations"),
        ("unverified", "unverified"),
        ("crossing", "crossings"),
    ):
        for e in detail[key]:
            rows.append(
                {
                    "device_id": result["device_id"],
                    "date": result["date"],
                    "trip_key": result["trip_key"],
                    "kind": kind,
                    "rule": e["rule"],
                    "state": e.get("state"),
                    "start": e.get("start"),
                    "end": e.get("end"),
                    "duration_s": float(e["duration_s"]),
                    "reason": e.get("reason"),
                    "source": e.get("source"),
                    "lat": e.get("lat"),
                    "lon": e.get("lon"),
                }
            )
    return rows
