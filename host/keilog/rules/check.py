"""Did a logged trip keep to the rules of the states it went through?

``check_database`` reads trips from a keilog database, finds the state of every GPS fix
(``keilog.geo``), the road it was on (``keilog.roads``, optional), the rule in force for
the vehicle's registration class there on that date (``keilog.rules``), and reports
debounced violation events and the stretches it could not verify. docs/rules.md
documents the JSON and the thresholds.

The parts, in the order a trip goes through them: ``context`` (where each fix is and
which rule applies), ``stretches`` (dropouts, outside the states), ``driving`` (road
use, speed cap, daylight, distance), ``road_rules`` (posted limits, banned roads), each
adding to ``findings``; ``tripjson`` writes the trip's JSON and ``result`` the check's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from keilog.errors import ConfigError
from keilog.geo import StateIndex, load_states
from keilog.roads import RoadIndex
from keilog.rules import driving, stretches
from keilog.rules.context import FixContext
from keilog.rules.findings import Findings
from keilog.rules.model import DISCLAIMER, RuleBook, load_rules
from keilog.rules.result import CheckResult
from keilog.rules.road_rules import road_rules
from keilog.rules.thresholds import (
    CROSSING_MAX_S,
    DROPOUT_S,
    MOVING_MPH,
    SPEED_TOLERANCE_MPH,
    THRESHOLDS,
)
from keilog.rules.tripdata import TripData, connect, load_trip, trip_spans
from keilog.rules.tripjson import trip_json
from keilog.rules.vehicle import Vehicle

__all__ = [
    "CROSSING_MAX_S",
    "DROPOUT_S",
    "MOVING_MPH",
    "SPEED_TOLERANCE_MPH",
    "THRESHOLDS",
    "check_database",
    "check_result",
    "check_trip",
]


def check_trip(
    data: TripData,
    vehicle: Vehicle,
    roads: RoadIndex | None = None,
    book: RuleBook | None = None,
    states: StateIndex | None = None,
) -> dict[str, Any]:
    """Check one trip's data; returns the trip's JSON object (docs/rules.md)."""
    ctx = FixContext(data, vehicle, book or load_rules(), states or load_states())
    found = Findings(ctx)
    stretches.gps_dropouts(found)
    stretches.outside_states(found, ctx.moving)
    active = driving.road_use(found, ctx.moving)
    driving.vehicle_speed(found, active)
    road_need, road_posted, road_statutory = road_rules(found, active, roads)
    driving.daylight(found, active)
    step_mi = driving.distance(found, active)
    return trip_json(found, active, road_need, road_posted, road_statutory, step_mi)


def check_result(
    db_path: Path,
    vehicle: Vehicle,
    roads_path: Path | None = None,
    trip: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    book: RuleBook | None = None,
) -> CheckResult:
    """Check every trip (or trip number ``trip``) of a keilog database against ``book``
    (default: the rules keilog ships); the typed result, ``to_json`` gives its JSON."""
    book = book or load_rules()
    if vehicle.registration_state:
        book[vehicle.registration_state].code  # noqa: B018  (raises for an unknown state)
    roads = RoadIndex.load(roads_path) if roads_path else None
    conn = connect(db_path)
    try:
        spans = trip_spans(conn)
        if trip is not None:
            spans = [s for s in spans if s.id == trip]
            if not spans:
                raise ConfigError(
                    f"{db_path}: has no trip {trip}; run keilog check without --trip to list them"
                )
        out = []
        for n, span in enumerate(spans, start=1):
            out.append(check_trip(load_trip(conn, span), vehicle, roads, book))
            if progress is not None:
                progress(n, len(spans))
    finally:
        conn.close()
    return CheckResult.from_json(
        {
            "vehicle": vehicle.to_dict(),
            "disclaimer": DISCLAIMER,
            "rules_version": book.version,
            "thresholds": THRESHOLDS,
            "roads": str(roads_path) if roads_path else None,
            "trips": out,
        },
        str(db_path),
        book,
    )


def check_database(
    db_path: Path,
    vehicle: Vehicle,
    roads_path: Path | None = None,
    trip: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    book: RuleBook | None = None,
) -> dict[str, Any]:
    """``check_result`` as the JSON object ``keilog check --json`` prints (docs/rules.md)."""
    return check_result(db_path, vehicle, roads_path, trip, progress, book).to_json()
