"""A kei truck as plain physics: engine, 5-speed gearbox, tyres, drag, brakes, heat, fuel.

The numbers describe a Daihatsu Hijet Truck S500P with the 5-speed manual and the KF
658 cc three-cylinder, the best-selling kei truck in Japan since 2009. Each value says
where it comes from; where no published figure was found, the comment says so and gives
the reasoning. The model is deliberately simple (one longitudinal degree of freedom,
lumped temperatures) but every value it puts on the bus follows from it.

Units inside the model are SI (m, s, kg, N, W, degC); the bus gets km/h as a Japanese
car reports it.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

G = 9.80665  # standard gravity, m/s^2 (CGPM 1901)
AIR_DENSITY = 1.204  # kg/m^3, dry air at 20 degC and 101.325 kPa (ISA-style figure)
PETROL_DENSITY_KG_L = 0.745  # EN 228 petrol: 0.720-0.775 kg/L at 15 degC

# Japan's kei class: engines up to 660 cc since 1990 (Road Transport Vehicle Act
# enforcement regulations, kei jidosha), and the makers' voluntary cap of 64 PS
# (47 kW) since 1987. A spec beyond either is not a kei car; KeiTruckSpec refuses it.
KEI_MAX_DISPLACEMENT_CC = 660
KEI_MAX_POWER_KW = 47.0


@dataclass(frozen=True)
class KeiTruckSpec:
    """The fixed numbers of one kei truck."""

    name: str = "Daihatsu Hijet Truck S500P (KF, 5MT)"
    # KF engine: 658 cc, 34 kW at 5,700 rpm, 60 N*m at 4,000 rpm (Daihatsu figures as
    # listed in nakato/HiJet-S510P-Notes, specs.md, "Power").
    displacement_cc: int = 658
    max_power_kw: float = 34.0
    # Full-load torque curve (rpm, N*m). Anchored on the two published points: 60 N*m
    # at 4,000 rpm, and 34 kW at 5,700 rpm = 57.0 N*m. The shape below and above is the
    # usual one of a small naturally aspirated engine (not published by Daihatsu).
    torque_curve: tuple[tuple[float, float], ...] = (
        (800.0, 40.0),
        (1500.0, 47.0),
        (2500.0, 54.0),
        (3200.0, 58.0),
        (4000.0, 60.0),
        (5000.0, 59.0),
        (5700.0, 57.0),
        (6500.0, 50.0),
        (7200.0, 42.0),
    )
    idle_rpm: float = 850.0  # warm idle of small Japanese petrol engines, 750-900 rpm
    # Red zone taken at 7,000 rpm, the low end of the 7,000-8,000 rpm of kei engines
    # (no Daihatsu figure for the KF was found offline); the fuel cut sits above it.
    redline_rpm: float = 7000.0
    limiter_rpm: float = 7200.0
    # 5MT ratios and final drive of the S500P/S510P (nakato/HiJet-S510P-Notes,
    # specs.md, "Gear Ratios": 4.059 / 2.389 / 1.646 / 1.000 / 0.742, final 6.666).
    gear_ratios: tuple[float, ...] = (4.059, 2.389, 1.646, 1.000, 0.742)
    final_drive: float = 6.666
    # Tyres 145/80R12 80/78N LT, the light-truck size of current kei trucks (older ones
    # wear 145R12 6PR, the same diameter class); not checked against a Daihatsu
    # document here. Diameter = 12 in * 25.4 + 2 * 0.80 * 145 mm = 536.8 mm; a loaded
    # radial rolls on about 97 % of its free radius.
    tyre: str = "145/80R12"
    tyre_rolling_radius_m: float = 0.97 * (12 * 25.4 + 2 * 0.80 * 145) / 2000
    # Mass: about 770 kg kerb for a DA16T Carry 4WD 5MT (japanifiedpete.com review,
    # 2024), the Hijet S500P's direct rival; plus a 75 kg driver (the 75 kg occupant of
    # ISO 2416 / EU kerb-mass practice).
    mass_kg: float = 770.0 + 75.0
    # Rotating inertia, estimated (no published figure): crankshaft, flywheel and
    # clutch of a small three-cylinder about 0.06 kg*m^2; a 12-inch steel wheel with
    # its tyre about 0.35 kg*m^2, four of them. Seen at the wheels, the engine's share
    # grows with the square of the overall ratio (Gillespie, Fundamentals of Vehicle
    # Dynamics, ch. 2), which is what makes first gear feel so short.
    engine_inertia_kgm2: float = 0.06
    wheels_inertia_kgm2: float = 4 * 0.35
    # Aerodynamics (estimates): a flat-fronted cab-over is about Cd 0.45-0.55; frontal
    # area = width 1,475 mm (the kei limit) * height of about 1,780 mm * about 0.76 for
    # rounded corners and the open space under the floor = 2.0 m^2.
    drag_cd: float = 0.45
    frontal_area_m2: float = 2.0
    rolling_resistance: float = 0.012  # LT radials on asphalt: 0.010-0.015 (Gillespie)
    drivetrain_efficiency: float = 0.90  # manual gearbox + hypoid axle: 0.85-0.92
    # Traction: rear-wheel drive (2WD), about 45 % of an empty cab-over's weight on the
    # rear axle (estimate), tyre-road friction 0.8 on dry asphalt. Accelerating moves
    # weight onto the rear axle by m * a * h / L: wheelbase 1,900 mm
    # (nakato/HiJet-S510P-Notes, specs.md), centre of gravity about 0.75 m up (estimate
    # for a cab-over with the engine under the seat).
    driven_axle_share: float = 0.45
    tyre_friction: float = 0.8
    wheelbase_m: float = 1.900
    cg_height_m: float = 0.75
    max_brake_decel_mps2: float = 7.0  # full braking on dry asphalt, about 0.7 g
    # Top speed. In this model drag balances the KF's power near 120 km/h flat out;
    # La Presse (2011-09-12) saw 85 km/h from an older Carry 660 whose dealer claimed
    # 90-100 km/h. The model caps at 110 km/h (68 mph), an estimate between the two.
    top_speed_kmh: float = 110.0
    # Fuel. Tank: 34 L, the capacity listed for the Hijet Truck by importers (not
    # checked against a Daihatsu document here). Fuel flow
    # = idle flow + marginal brake-specific consumption; 0.55 L/h at idle and 380 g/kWh
    # give about 20 km/L at a steady 60 km/h and 15-16 km/L in mixed driving, against
    # 19 km/L (JC08) and 15.6 km/L (WLTC combined) for the S500P 5MT
    # (nakato/HiJet-S510P-Notes, specs.md, "Fuel Efficiency").
    fuel_tank_l: float = 34.0
    idle_fuel_l_per_h: float = 0.55
    bsfc_g_per_kwh: float = 380.0
    # Cooling. Thermostats of small Japanese engines open at 80-84 degC and are fully
    # open near 95 degC; a warm engine runs at 85-95 degC. Heat to coolant is about 30 %
    # of the fuel's energy (petrol 43 MJ/kg lower heating value). Thermal mass of
    # about 3.5 L of coolant plus the engine block: about 40 kJ/K.
    thermostat_open_c: float = 82.0
    thermostat_full_c: float = 95.0
    coolant_heat_share: float = 0.30
    engine_heat_capacity_j_per_k: float = 40_000.0
    radiator_w_per_k: float = 350.0  # fully open, with the fan: 21 kW at 60 K
    block_loss_w_per_k: float = 8.0  # convection from the block with the thermostat shut
    alternator_v: float = 14.2  # charging voltage of a 12 V lead-acid system
    battery_rest_v: float = 12.6

    def __post_init__(self) -> None:
        object.__setattr__(self, "_curve_rpms", tuple(p[0] for p in self.torque_curve))
        if self.displacement_cc > KEI_MAX_DISPLACEMENT_CC:
            raise ValueError(f"{self.displacement_cc} cc is above the kei class's 660 cc")
        peak_kw = max(rpm * t for rpm, t in self.torque_curve) * 2 * math.pi / 60 / 1000
        if peak_kw > KEI_MAX_POWER_KW or self.max_power_kw > KEI_MAX_POWER_KW:
            raise ValueError(f"{peak_kw:.1f} kW is above the kei class's 47 kW (64 PS) cap")

    _curve_rpms: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    @property
    def top_gear(self) -> int:
        return len(self.gear_ratios)

    def overall_ratio(self, gear: int) -> float:
        return self.gear_ratios[gear - 1] * self.final_drive

    def mass_factor(self, gear: int) -> float:
        """Effective mass / mass: rotating parts seen at the wheels. ``gear`` 0 means the
        engine is not coupled (neutral, or a slipping clutch)."""
        r2 = self.tyre_rolling_radius_m**2
        inertia = self.wheels_inertia_kgm2
        if gear > 0:
            inertia += self.engine_inertia_kgm2 * self.overall_ratio(gear) ** 2
        return 1.0 + inertia / r2 / self.mass_kg

    def full_load_torque(self, rpm: float) -> float:
        """Full-throttle torque (N*m) at ``rpm``, linear between the curve's points."""
        curve = self.torque_curve
        if rpm <= curve[0][0]:
            return curve[0][1]
        if rpm >= curve[-1][0]:
            return curve[-1][1] if rpm <= self.limiter_rpm else 0.0
        i = bisect.bisect_right(self._curve_rpms, rpm)
        (r0, t0), (r1, t1) = curve[i - 1], curve[i]
        return t0 + (t1 - t0) * (rpm - r0) / (r1 - r0)

    def traction_n(self, accel_mps2: float) -> float:
        """Most force the driven (rear) tyres can put down while accelerating."""
        load = self.driven_axle_share * self.mass_kg * G
        load += self.mass_kg * max(0.0, accel_mps2) * self.cg_height_m / self.wheelbase_m
        return self.tyre_friction * load

    def friction_torque(self, rpm: float) -> float:
        """Engine braking with the throttle shut (N*m): pumping and friction losses of a
        small petrol engine, about 8 + 2 per 1,000 rpm."""
        return 8.0 + 0.002 * rpm

    def rpm_at(self, speed_mps: float, gear: int) -> float:
        wheel_rps = speed_mps / (2 * math.pi * self.tyre_rolling_radius_m)
        return wheel_rps * 60.0 * self.overall_ratio(gear)

    def resistance_n(self, speed_mps: float, grade: float = 0.0) -> float:
        """Aerodynamic drag + rolling resistance + grade (N), for forward motion."""
        drag = 0.5 * AIR_DENSITY * self.drag_cd * self.frontal_area_m2 * speed_mps**2
        rolling = self.rolling_resistance * self.mass_kg * G if speed_mps > 0.01 else 0.0
        return drag + rolling + self.mass_kg * G * grade


# Key positions as the BODY_STATUS message codes them.
IGNITION_OFF, IGNITION_ACC, IGNITION_ON, IGNITION_START = 0, 1, 2, 3


@dataclass
class CarState:
    """Everything about the car at one moment; what the bus, OBD and GPS report."""

    t: float = 0.0
    speed_mps: float = 0.0  # true speed over ground
    accel_mps2: float = 0.0
    distance_m: float = 0.0
    engine_rpm: float = 0.0
    throttle: float = 0.0  # pedal, 0-1
    load: float = 0.0  # engine torque / full-load torque at this rpm, 0-1
    gear: int = 0  # 0 = neutral (or clutch down while shifting), 1-5
    clutch_slip: bool = False
    engine_running: bool = False
    ignition: int = IGNITION_OFF
    run_time_s: float = 0.0
    coolant_c: float = 20.0
    intake_c: float = 20.0
    gearbox_oil_c: float = 20.0
    ambient_c: float = 20.0
    fuel_l: float = 20.0
    fuel_pct: float = 60.0
    battery_v: float = 12.6
    odometer_km: float = 30_000.0
    baro_kpa: float = 101.3
    map_kpa: float = 101.3
    maf_gps: float = 0.0
    parking_brake: bool = True
    headlights: bool = False
    speedo_error_pct: float = 0.0
    fuel_used_l: float = 0.0

    @property
    def speed_kmh(self) -> float:
        return self.speed_mps * 3.6

    @property
    def speedo_kmh(self) -> float:
        """The speed the car itself reports (meter, CAN, OBD), with its calibration error."""
        return self.speed_kmh * (1.0 + self.speedo_error_pct / 100.0)


@dataclass
class KeiTruck:
    """The vehicle dynamics. Call :meth:`step` with the driver's controls."""

    spec: KeiTruckSpec = field(default_factory=KeiTruckSpec)
    state: CarState = field(default_factory=CarState)
    max_speed_mps: float = math.inf

    def __post_init__(self) -> None:
        self.max_speed_mps = min(self.max_speed_mps, self.spec.top_speed_kmh / 3.6)

    # -- key and engine -------------------------------------------------------------
    def set_ignition(self, position: int) -> None:
        s = self.state
        s.ignition = position
        if position == IGNITION_START:
            s.engine_running = False
            s.engine_rpm = 250.0  # starter cranking speed
        elif position == IGNITION_ON and s.engine_rpm > 0 and not s.engine_running:
            s.engine_running = True
            s.engine_rpm = self.spec.idle_rpm
            s.run_time_s = 0.0
        elif position in (IGNITION_OFF, IGNITION_ACC):
            s.engine_running = False
            s.engine_rpm = 0.0

    # -- one time step ----------------------------------------------------------------
    def step(self, dt: float, throttle: float, brake: float, gear: int) -> None:
        """Advance ``dt`` seconds. ``throttle`` and ``brake`` are pedals (0-1); ``gear``
        is the gear the driver has engaged (0 = neutral / clutch down)."""
        spec, s = self.spec, self.state
        throttle = min(max(throttle, 0.0), 1.0) if s.engine_running else 0.0
        brake = min(max(brake, 0.0), 1.0)
        v = s.speed_mps
        s.gear = gear
        s.throttle = throttle

        drive_n = 0.0
        engine_torque = 0.0
        if s.engine_running and gear > 0:
            ratio = spec.overall_ratio(gear)
            wheel_rpm = spec.rpm_at(v, gear)
            # Pulling away in first: the clutch slips while the engine sits at a launch
            # speed set by the pedal, until the road speed catches up with it.
            launch_rpm = spec.idle_rpm + 2200.0 * throttle
            s.clutch_slip = gear == 1 and wheel_rpm < launch_rpm
            rpm = launch_rpm if s.clutch_slip else wheel_rpm
            rpm = max(rpm, spec.idle_rpm * 0.9) if s.clutch_slip else rpm
            full = spec.full_load_torque(rpm)
            if rpm >= spec.limiter_rpm or s.speed_mps >= self.max_speed_mps:
                throttle = 0.0  # fuel cut: rev limiter or the speed cap
            engine_torque = throttle * full - (1.0 - throttle) * spec.friction_torque(rpm)
            if s.clutch_slip:
                engine_torque = max(engine_torque, 0.0)  # a slipping clutch does not brake
            drive_n = engine_torque * ratio * spec.drivetrain_efficiency
            drive_n /= spec.tyre_rolling_radius_m
            drive_n = min(drive_n, spec.traction_n(s.accel_mps2))
            s.engine_rpm = rpm
            s.load = max(0.0, engine_torque) / full if full > 0 else 0.0
            inertia = spec.mass_factor(0 if s.clutch_slip else gear)
        else:
            s.clutch_slip = False
            if s.engine_running:
                # Free revving in neutral follows the pedal.
                target = spec.idle_rpm + 5000.0 * throttle
                s.engine_rpm += (target - s.engine_rpm) * min(1.0, dt * 4.0)
                s.load = 0.15 * throttle + 0.12
                engine_torque = 0.0
            elif s.ignition != IGNITION_START:
                s.engine_rpm = 0.0
                s.load = 0.0
            inertia = spec.mass_factor(0)

        resist = spec.resistance_n(v)
        brake_n = brake * spec.max_brake_decel_mps2 * spec.mass_kg
        if s.parking_brake and v < 0.01 and drive_n < brake_n + 2000.0:
            brake_n = max(brake_n, drive_n)
        net = drive_n - resist - brake_n
        accel = net / (spec.mass_kg * inertia)
        new_v = v + accel * dt
        if new_v < 0.0:  # brakes and drag stop the car; they do not reverse it
            new_v = 0.0
            accel = -v / dt if dt > 0 else 0.0
        s.accel_mps2 = accel
        s.distance_m += 0.5 * (v + new_v) * dt
        s.odometer_km += 0.5 * (v + new_v) * dt / 1000.0
        s.speed_mps = new_v
        s.t += dt

        self._thermal_and_fuel(dt, engine_torque)

    def _thermal_and_fuel(self, dt: float, engine_torque: float) -> None:
        spec, s = self.spec, self.state
        brake_kw = max(0.0, engine_torque) * s.engine_rpm * 2 * math.pi / 60 / 1000
        if s.engine_running:
            s.run_time_s += dt
            fuel_g_s = (
                spec.idle_fuel_l_per_h * PETROL_DENSITY_KG_L * 1000 / 3600
                + brake_kw * spec.bsfc_g_per_kwh / 3600
            )
            if engine_torque < 0 and s.engine_rpm > spec.idle_rpm * 1.5:
                fuel_g_s = 0.0  # deceleration fuel cut
        else:
            fuel_g_s = 0.0
        used_l = fuel_g_s * dt / (PETROL_DENSITY_KG_L * 1000)
        s.fuel_used_l += used_l
        s.fuel_l = max(0.0, s.fuel_l - used_l)
        s.fuel_pct = 100.0 * s.fuel_l / spec.fuel_tank_l

        # Lumped coolant temperature: heat in from combustion, out through the radiator
        # (thermostat opening linearly between its two temperatures) and the block.
        heat_in = fuel_g_s * 43.0 * 1000 * spec.coolant_heat_share  # 43 kJ/g, in W
        span = spec.thermostat_full_c - spec.thermostat_open_c
        opening = min(1.0, max(0.0, (s.coolant_c - spec.thermostat_open_c) / span))
        dtemp = s.coolant_c - s.ambient_c
        heat_out = (spec.radiator_w_per_k * opening + spec.block_loss_w_per_k) * dtemp
        s.coolant_c += (heat_in - heat_out) * dt / spec.engine_heat_capacity_j_per_k
        # Gearbox oil follows the engine slowly (time constant about 10 minutes).
        s.gearbox_oil_c += (s.coolant_c - 5.0 - s.gearbox_oil_c) * dt / 600.0
        # Intake air: ambient plus under-seat heat soak, blown away by road speed.
        soak = max(0.0, s.coolant_c - s.ambient_c) * 0.25 / (1.0 + s.speed_mps / 8.0)
        s.intake_c += (s.ambient_c + 2.0 + soak - s.intake_c) * min(1.0, dt / 20.0)

        # Manifold pressure and air flow of a 658 cc four-stroke (speed-density):
        # air per second = displacement/2 per revolution * rpm/60 * density * VE.
        if s.engine_running:
            s.map_kpa = 28.0 + (s.baro_kpa - 28.0) * min(1.0, 0.1 + 0.9 * s.load)
            air_density = s.map_kpa * 1000 / (287.05 * (s.intake_c + 273.15))
            ve = 0.85
            litres_per_s = spec.displacement_cc / 1000 / 2 * s.engine_rpm / 60
            s.maf_gps = litres_per_s / 1000 * air_density * ve * 1000
            s.battery_v = spec.alternator_v
        else:
            s.map_kpa = s.baro_kpa
            s.maf_gps = 0.0
            s.battery_v = spec.battery_rest_v if s.ignition == IGNITION_OFF else 12.3
