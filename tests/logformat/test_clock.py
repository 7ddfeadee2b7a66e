"""Monotonic microseconds to UTC: GPS points interpolate, other anchors step."""

from __future__ import annotations

import numpy as np
import pytest
from keilog.logformat.clock import build_clock

T0 = 1_780_322_400_000_000  # 2026-06-01T14:00:00Z in microseconds


def test_no_reference_gives_unknown_time():
    clock = build_clock([])
    assert not clock.known
    assert np.isnan(clock.utc([5])).all()


def test_one_anchor_runs_at_rate_one_both_ways():
    clock = build_clock([(1_000_000, T0, "system")])
    assert clock.utc([0, 1_000_000, 3_500_000]).tolist() == [
        (T0 - 1_000_000) / 1e6,
        T0 / 1e6,
        (T0 + 2_500_000) / 1e6,
    ]


def test_gps_points_interpolate_and_take_out_drift():
    # The board's crystal runs 100 ppm fast: 1,000,100 us of monotonic time per GPS
    # second. Between fixes the record's UTC follows GPS, not the crystal.
    points = [(k * 1_000_100, T0 + k * 1_000_000, "gps") for k in range(5)]
    clock = build_clock(points)
    mid = 2 * 1_000_100 + 500_050  # half way between fix 2 and fix 3
    assert clock.utc_one(mid) == pytest.approx((T0 + 2_500_000) / 1e6, abs=1e-6)


def test_time_compressed_simulation_maps_back_to_scenario_time():
    # keilog demo --speedup 20: one scenario second passes in 50 ms of firmware time.
    points = [(k * 50_000, T0 + k * 1_000_000, "gps") for k in range(10)]
    clock = build_clock(points)
    assert clock.utc_one(125_000) == pytest.approx((T0 + 2_500_000) / 1e6)


def test_outside_the_gps_points_time_runs_at_rate_one():
    clock = build_clock([(1_000_000, T0, "gps"), (2_000_000, T0 + 1_000_000, "gps")])
    assert clock.utc_one(500_000) == pytest.approx((T0 - 500_000) / 1e6)
    assert clock.utc_one(4_000_000) == pytest.approx((T0 + 3_000_000) / 1e6)


def test_gps_beats_host_beats_system():
    pts = [(0, T0 + 7_000_000, "system"), (10, T0 + 5_000_000, "host")]
    assert build_clock(pts).source == "host"
    assert build_clock([*pts, (20, T0, "gps")]).source == "gps"


def test_gps_time_going_backwards_is_dropped():
    clock = build_clock(
        [(0, T0, "gps"), (1_000_000, T0 - 60_000_000, "gps"), (2_000_000, T0 + 2_000_000, "gps")]
    )
    assert clock.mono_us.tolist() == [0, 2_000_000]


def test_steps_use_the_latest_anchor_at_or_before_each_record():
    clock = build_clock([(0, T0, "host"), (1_000_000, T0 + 5_000_000, "host")])
    assert clock.utc([999_999, 1_000_000]).tolist() == [
        (T0 + 999_999) / 1e6,
        (T0 + 5_000_000) / 1e6,
    ]
