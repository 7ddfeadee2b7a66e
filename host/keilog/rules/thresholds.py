"""The check's thresholds, one definition each (the report draws with the same ones)."""

from __future__ import annotations

from keilog.roads import SNAP_RADIUS_M
from keilog.rules.events import MERGE_GAP_S, MIN_EVENT_S

SPEED_TOLERANCE_MPH = 1.0
"""Speed over a vehicle cap must exceed it by more than this (GPS/CAN noise)."""
CROSSING_MAX_S = 20.0
"""A stretch this short on a faster or banned road counts as crossing it."""
DROPOUT_S = 5.0
"""Fixes further apart than this leave a GPS dropout between them."""
MOVING_MPH = 3.0
"""Below this the vehicle counts as stopped (parked on a driveway is not driving)."""

# MIN_EVENT_S and MERGE_GAP_S are the debouncing's (events), SNAP_RADIUS_M the road index's.
THRESHOLDS = {
    "min_event_s": MIN_EVENT_S,
    "merge_gap_s": MERGE_GAP_S,
    "speed_tolerance_mph": SPEED_TOLERANCE_MPH,
    "crossing_max_s": CROSSING_MAX_S,
    "gps_dropout_s": DROPOUT_S,
    "moving_mph": MOVING_MPH,
    "snap_radius_m": SNAP_RADIUS_M,
}
"""The thresholds as the check's JSON lists them (docs/rules.md)."""
