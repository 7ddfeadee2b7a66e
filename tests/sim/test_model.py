"""The kei truck model: class limits, acceleration, top speed, warm-up and fuel."""

import math

import pytest
from keilog.sim.driver import Driver
from keilog.sim.model import IGNITION_ON, IGNITION_START, KeiTruck, KeiTruckSpec

MPH = 0.44704  # m/s, exact
STEP = 0.01


def drive_flat_out(truck: KeiTruck, seconds: float, target_mps: float = 100.0):
    """Start the engine and ask the driver for more than the truck can do."""
    truck.set_ignition(IGNITION_START)
    truck.set_ignition(IGNITION_ON)
    truck.state.parking_brake = False
    driver = Driver(truck.spec)
    trace = []
    for _ in range(round(seconds / STEP)):
        c = driver.step(STEP, truck.state, target_mps)
        truck.step(STEP, c.throttle, c.brake, c.gear)
        trace.append((truck.state.t, truck.state.speed_mps, truck.state.engine_rpm))
    return trace


def test_zero_to_sixty_mph_takes_15_to_20_seconds():
    # The target for a 660 cc kei truck: 15-20 s from rest to 60 mph.
    trace = drive_flat_out(KeiTruck(), 40.0)
    t60 = next(t for t, v, _rpm in trace if v >= 60 * MPH)
    assert 15.0 <= t60 <= 20.0


def test_top_speed_is_capped_at_110_kmh_and_the_engine_never_passes_its_limiter():
    truck = KeiTruck()
    trace = drive_flat_out(truck, 150.0)
    top = max(v for _t, v, _rpm in trace)
    assert top * 3.6 == pytest.approx(110.0, abs=1.0)
    assert max(rpm for *_x, rpm in trace) <= truck.spec.limiter_rpm + 1
    # and it really gets there: the cap, not the engine, is the limit
    assert truck.state.speed_kmh > 108.0


def test_a_governor_caps_lower():
    truck = KeiTruck(max_speed_mps=25 * MPH)  # Alabama's mini-truck governor: 25 mph
    trace = drive_flat_out(truck, 60.0)
    assert max(v for _t, v, _rpm in trace) == pytest.approx(25 * MPH, abs=0.3)


def test_engine_is_a_kei_engine():
    spec = KeiTruckSpec()
    assert spec.displacement_cc <= 660
    peak_kw = max(
        rpm * spec.full_load_torque(rpm) * 2 * math.pi / 60 / 1000 for rpm in range(800, 7201, 50)
    )
    # the published 34 kW of the KF engine, within the 47 kW (64 PS) kei cap
    assert peak_kw == pytest.approx(34.0, abs=1.0)
    assert peak_kw <= 47.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"displacement_cc": 1000}, "660 cc"), ({"max_power_kw": 60.0}, "47 kW")],
)
def test_specs_beyond_the_kei_class_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        KeiTruckSpec(**changes)


def test_speed_in_each_gear_follows_the_ratios():
    spec = KeiTruckSpec()
    # 5th gear at 100 km/h: 27.78 m/s / (2 pi * 0.2603 m) * 60 * 0.742 * 6.666 = 5,039 rpm
    assert spec.rpm_at(100 / 3.6, 5) == pytest.approx(5039, abs=5)


def test_coolant_warms_from_cold_to_about_90_degrees():
    truck = KeiTruck()
    truck.state.coolant_c = truck.state.ambient_c = 20.0
    drive_flat_out(truck, 20.0, target_mps=60 / 3.6)
    assert truck.state.coolant_c < 40.0
    driver = Driver(truck.spec)
    for _ in range(round(900 / STEP)):  # a quarter of an hour at 60 km/h
        c = driver.step(STEP, truck.state, 60 / 3.6)
        truck.step(STEP, c.throttle, c.brake, c.gear)
    assert 82.0 <= truck.state.coolant_c <= 95.0


def test_fuel_level_falls_with_distance_at_a_plausible_rate():
    truck = KeiTruck()
    truck.state.fuel_l = 20.0
    drive_flat_out(truck, 300.0, target_mps=60 / 3.6)
    km = truck.state.distance_m / 1000
    used = 20.0 - truck.state.fuel_l
    assert used == pytest.approx(truck.state.fuel_used_l)
    # S500P 5MT: 19 km/L JC08, 15.6 km/L WLTC combined (nakato/HiJet-S510P-Notes);
    # a steady 60 km/h after a cold start lands between those and about 22 km/L
    assert 15.0 <= km / used <= 22.0
    assert truck.state.fuel_pct == pytest.approx(100 * truck.state.fuel_l / 34.0)
