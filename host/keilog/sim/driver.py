"""The driver: pedals and gear lever, chasing the speed the route asks for.

A plain speed controller (desired acceleration proportional to the speed error, turned
into pedal positions with the car's own force balance) and the shift habits of someone
driving a kei truck with a manual gearbox: change up early when cruising, rev it out
when asked for everything, clutch down before stopping.
"""

from __future__ import annotations

from dataclasses import dataclass

from keilog.sim.model import CarState, KeiTruckSpec

# Everyday acceleration and braking limits of a driver (not of the car): a driver who
# wants more than 2.5 m/s^2 simply floors it; normal braking up to 3.5 m/s^2 (0.36 g).
SPEED_GAIN_PER_S = 0.8
MAX_WANTED_ACCEL = 2.5
MAX_WANTED_DECEL = 3.5
# Pulling away from rest with a slipping clutch: about 0.3 g, no wheelspin.
LAUNCH_ACCEL = 3.0
# One gear change with a manual box: clutch down, lever across, clutch up.
SHIFT_TIME_S = 0.4
# Pedals are moved at a finite rate (full travel in a third of a second).
PEDAL_RATE_PER_S = 3.0


@dataclass
class Controls:
    throttle: float
    brake: float
    gear: int


class Driver:
    """Turns a target speed into pedals and a gear, step by step."""

    def __init__(self, spec: KeiTruckSpec) -> None:
        self.spec = spec
        self.gear = 0
        self.shifting_to: int | None = None
        self.shift_left_s = 0.0
        self.throttle = 0.0
        self.brake = 0.0
        # How hard the driver wants to accelerate, as a share of what the car can do
        # (above 1 = more than it can). Kept through a gear change.
        self.demand = 0.0

    def _max_drive_n(self, state: CarState, gear: int) -> float:
        spec = self.spec
        rpm = max(spec.rpm_at(state.speed_mps, gear), spec.idle_rpm + 1500.0 * (gear == 1))
        torque = spec.full_load_torque(min(rpm, spec.limiter_rpm - 1))
        force = torque * spec.overall_ratio(gear) * spec.drivetrain_efficiency
        force /= spec.tyre_rolling_radius_m
        return min(force, spec.traction_n(state.accel_mps2))

    def _throttle_for(self, state: CarState, need_n: float) -> float:
        """The pedal that makes the engine give ``need_n`` at the wheels: the model's
        torque law, throttle * full load - (1 - throttle) * friction, solved for the
        throttle."""
        spec = self.spec
        if state.clutch_slip:
            # Feathering the clutch: pull away at LAUNCH_ACCEL without spinning the tyres.
            launch_n = spec.mass_kg * spec.mass_factor(0) * LAUNCH_ACCEL + spec.resistance_n(
                state.speed_mps
            )
            return launch_n / max(1.0, self._max_drive_n(state, self.gear))
        rpm = spec.rpm_at(state.speed_mps, self.gear)
        torque = need_n * spec.tyre_rolling_radius_m
        torque /= spec.overall_ratio(self.gear) * spec.drivetrain_efficiency
        full = spec.full_load_torque(min(rpm, spec.limiter_rpm - 1))
        friction = spec.friction_torque(rpm)
        return (torque + friction) / (full + friction)

    def _engine_brake_n(self, state: CarState, gear: int) -> float:
        if gear == 0:
            return 0.0
        spec = self.spec
        rpm = spec.rpm_at(state.speed_mps, gear)
        force = spec.friction_torque(rpm) * spec.overall_ratio(gear)
        return force / spec.tyre_rolling_radius_m

    def _choose_gear(self, state: CarState, target: float, wanted_accel: float) -> int:
        spec, v, gear = self.spec, state.speed_mps, self.gear
        if v < 0.3 and target < 0.3:
            return 0  # standing: clutch down, in neutral
        if gear == 0:
            if target < 0.3:
                return 0
            # Moving off, or rolling in neutral: pick the gear that suits this speed.
            for g in range(1, spec.top_gear + 1):
                if spec.rpm_at(v, g) < 2500.0 or g == spec.top_gear:
                    return g if spec.rpm_at(v, g) > 1200.0 or g == 1 else max(1, g - 1)
            return 1
        rpm = spec.rpm_at(v, gear)
        if wanted_accel < -0.3 and gear == 1 and v < 2.0:
            return 0  # clutch down before the car stalls
        if wanted_accel < -0.3 and v < 3.0 and gear > 1:
            return 0
        # Change up: early when cruising, near peak power when the pedal is floored.
        demand = min(1.0, self.demand)
        upshift_rpm = 2800.0 + 4000.0 * demand
        if gear < spec.top_gear and rpm > upshift_rpm:
            next_rpm = spec.rpm_at(v, gear + 1)
            if next_rpm > spec.idle_rpm * 1.4:
                return gear + 1
        # Change down when the engine labours or when more pull is wanted.
        if gear > 1:
            lower_rpm = spec.rpm_at(v, gear - 1)
            if rpm < 1300.0 and lower_rpm < spec.redline_rpm - 1500:
                return gear - 1
            kick_down = demand > 0.95 and wanted_accel > 0.5 and rpm < 3500.0
            if kick_down and lower_rpm < spec.redline_rpm - 1200:
                return gear - 1
        return gear

    def step(self, dt: float, state: CarState, target_mps: float) -> Controls:
        spec = self.spec
        v = state.speed_mps
        wanted = SPEED_GAIN_PER_S * (target_mps - v)
        wanted = max(-MAX_WANTED_DECEL, min(MAX_WANTED_ACCEL, wanted))

        if self.shifting_to is not None:
            self.shift_left_s -= dt
            if self.shift_left_s <= 0:
                self.gear = self.shifting_to
                self.shifting_to = None
            else:
                self.throttle = 0.0
                return Controls(0.0, self.brake, 0)
        gear = self._choose_gear(state, target_mps, wanted)
        if gear != self.gear:
            if self.gear != 0 and gear != 0:
                self.shifting_to = gear
                self.shift_left_s = SHIFT_TIME_S
                self.throttle = 0.0
                return Controls(0.0, self.brake, 0)
            self.gear = gear

        resist = spec.resistance_n(v)
        need_n = spec.mass_kg * spec.mass_factor(self.gear) * wanted + resist
        throttle, brake = 0.0, 0.0
        if need_n > 0:
            probe = self.gear or 1
            self.demand = need_n / max(1.0, self._max_drive_n(state, probe))
            if self.gear > 0:
                throttle = self._throttle_for(state, need_n)
                if wanted >= MAX_WANTED_ACCEL and not state.clutch_slip:
                    throttle = 1.0  # wants more than everyday driving: floors it
        else:
            self.demand = 0.0
        if need_n < 0:
            coast_n = self._engine_brake_n(state, self.gear)
            brake = (-need_n - coast_n) / (spec.max_brake_decel_mps2 * spec.mass_kg)
        if target_mps < 0.05 and v < 0.5:
            brake = max(brake, 0.3)  # hold the car at a stop
        step = PEDAL_RATE_PER_S * dt
        throttle = min(1.0, max(0.0, throttle))
        brake = min(1.0, max(0.0, brake))
        self.throttle += max(-step, min(step, throttle - self.throttle))
        self.brake += max(-step, min(step, brake - self.brake))
        return Controls(self.throttle, self.brake, self.gear)
