"""Run a scenario: the pure event generator, real-time pacing, and the outputs.

- :func:`simulate` yields :class:`CanFrame` and :class:`NmeaSentence` events in time
  order, computed as fast as Python goes: no clock, no I/O. Tests and the demo feed
  these to the firmware.
- :func:`generate` yields the same events at their due wall-clock time (``speedup``
  times faster than real time), or as fast as possible with ``speedup=None``.
- :func:`run` sends them to a python-can bus (answering OBD-II requests it receives),
  an NMEA port or file, and the firmware's 16-byte stream; ``keilog simulate`` is a
  thin wrapper over it.

A trip: at t = 0 the key goes to ON (the ECUs wake and the bus starts), the engine
cranks at 0.5 s and runs from 1.3 s, the driver releases the parking brake and pulls
away at 4 s, drives the route, stops at the last point, idles 5 s and switches off.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import can

from keilog.errors import ConfigError
from keilog.sim.bus import BusLink, open_bus
from keilog.sim.driver import Driver
from keilog.sim.frames import Periodic, bus_silent, load_dbc, schedule
from keilog.sim.inputs import InputSignals
from keilog.sim.model import (
    IGNITION_OFF,
    IGNITION_ON,
    IGNITION_START,
    CarState,
    KeiTruck,
    KeiTruckSpec,
)
from keilog.sim.nmea import NmeaOptions, Receiver, Truth, utc_at
from keilog.sim.obd import ObdResponder
from keilog.sim.obd import request as obd_request
from keilog.sim.outputs import NmeaOutput
from keilog.sim.route import MPH, Route, sun_elevation_deg
from keilog.sim.scenario import Scenario, resolve
from keilog.sim.stream import StreamWriter

STEP_S = 0.01  # physics step: the fastest message of the car (ENGINE_STATUS, 10 ms)
CRANK_AT_S = 0.5
RUNNING_AT_S = 1.3
PULL_AWAY_AT_S = 4.0
END_IDLE_S = 5.0
STOP_CAPTURE_M = 3.0  # closer than this to a stop point, the driver just stops
DEFAULT_ALT_M = 30.0
INPUT_CHUNK_STEPS = 10  # input stream records handed over every 0.1 s
OBD_RESPONSE_DELAY_S = 0.008  # ECU answer time, well inside J1979's P2 of 50 ms


@dataclass(frozen=True, slots=True)
class CanFrame:
    """A frame on the car's bus; ``message.timestamp`` is UTC epoch seconds."""

    t: float  # seconds since the scenario started
    message: can.Message


@dataclass(frozen=True, slots=True)
class NmeaSentence:
    """One NMEA sentence, without its CR LF."""

    t: float
    text: str


@dataclass(frozen=True, slots=True)
class InputChunk:
    """The logger's own inputs (a car with ``vehicle.inputs``): records of the unix
    port's input stream (keilog.unixport.inputstream) for the time up to ``t``."""

    t: float
    data: bytes


Event = CanFrame | NmeaSentence | InputChunk


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """Where the car really was at a GPS epoch (the ground truth for checks)."""

    t: float
    lat: float
    lon: float
    speed_mps: float
    heading_deg: float
    fix_valid: bool


@dataclass
class Summary:
    scenario: str
    duration_s: float = 0.0
    distance_m: float = 0.0
    max_speed_kmh: float = 0.0
    frames: Counter[int] = field(default_factory=Counter)
    sentences: int = 0
    fixes: int = 0
    fixes_without_position: int = 0
    obd_responses: int = 0
    fuel_used_l: float = 0.0
    coolant_end_c: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "duration_s": round(self.duration_s, 3),
            "distance_m": round(self.distance_m, 1),
            "max_speed_kmh": round(self.max_speed_kmh, 1),
            "max_speed_mph": round(self.max_speed_kmh / 3.6 / MPH, 1),
            "frames": sum(self.frames.values()),
            "frames_by_id": {f"0x{k:03X}": v for k, v in sorted(self.frames.items())},
            "nmea_sentences": self.sentences,
            "gps_fixes": self.fixes,
            "gps_fixes_without_position": self.fixes_without_position,
            "obd_responses": self.obd_responses,
            "fuel_used_l": round(self.fuel_used_l, 3),
            "coolant_end_c": round(self.coolant_end_c, 1),
        }


class Simulation:
    """One run of a scenario. Iterate :meth:`events`; :attr:`state` is the car now."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        nmea: NmeaOptions | None = None,
        seed: int | None = None,
        obd_poll: Sequence[int] = (),
        obd_poll_period_s: float = 1.0,
        spec: KeiTruckSpec | None = None,
        dbc: str | Path | None = None,
        obd_dbc: str | Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.nmea_options = nmea or NmeaOptions()
        self.seed = scenario.seed if seed is None else seed
        self.spec = spec or KeiTruckSpec()
        v = scenario.vehicle
        cap = self.spec.top_speed_kmh / 3.6
        if v.governor_mph is not None:
            cap = min(cap, v.governor_mph * MPH)
        self.car = KeiTruck(self.spec, CarState(), max_speed_mps=cap)
        self.driver = Driver(self.spec)
        pts = scenario.route
        self.route = Route(
            [(p.lat, p.lon) for p in pts],
            [float(p.speed_mph or 0.0) * MPH for p in pts[:-1]],
            stops=[i for i, p in enumerate(pts) if p.stop_s > 0],
            max_speed_mps=cap,
        )
        self._stop_points = [
            (self.route.waypoint_m[i], p.stop_s) for i, p in enumerate(pts) if p.stop_s > 0
        ]
        self._alts = [p.alt_m for p in pts]
        s = self.car.state
        s.ambient_c = scenario.ambient_c
        s.coolant_c = 88.0 if v.engine_warm else scenario.ambient_c
        s.gearbox_oil_c = 80.0 if v.engine_warm else scenario.ambient_c
        s.intake_c = scenario.ambient_c
        s.odometer_km = v.odometer_km
        s.fuel_l = self.spec.fuel_tank_l * v.fuel_pct / 100.0
        s.fuel_pct = v.fuel_pct
        s.speedo_error_pct = v.speedo_error_pct
        s.baro_kpa = 101.3
        self.can_enabled = v.can
        self.periodic: list[Periodic] = schedule(load_dbc(dbc)) if v.can else []
        self.obd: ObdResponder | None = ObdResponder(obd_dbc) if v.can and v.obd else None
        self.obd_poll = list(obd_poll)
        self.obd_poll_period_s = obd_poll_period_s
        if self.obd_poll and self.obd is None:
            raise ConfigError(
                f"{scenario.source}: OBD polling asked for, but the vehicle has "
                "vehicle.can or vehicle.obd set to false"
            )
        self.receiver = Receiver(self.nmea_options, seed=self.seed)
        self.inputs = (
            InputSignals(v.speedo_error_pct, self.seed) if v.inputs else None
        )  # fmt: skip
        self._brake_pedal = 0.0
        self.track: list[TrackPoint] = []
        self.summary = Summary(scenario.name)
        self.finished = False
        self._stops_done_m = -math.inf
        self._dwell_until: float | None = None
        self._ending_at: float | None = None
        self._next_light_check = 0.0
        self._sun_up = True
        # A generous bound: every leg at a fifth of its speed, plus every stop.
        legs = self.route.legs
        slowest = sum(
            leg.length_m / max(0.5, speed / 5)
            for leg, speed in zip(legs, self.route.leg_speeds, strict=True)
        )
        self._time_limit_s = slowest + sum(p.stop_s for p in pts) + 120.0

    # -- the car and its driver ----------------------------------------------------
    @property
    def state(self) -> CarState:
        return self.car.state

    def position(self) -> tuple[float, float, float]:
        """True (lat, lon, heading) of the car now."""
        p = self.route.position(self.state.distance_m)
        return p.lat, p.lon, p.heading_deg

    def _altitude(self, s_m: float) -> float:
        i = self.route.leg_index(s_m)
        first, second = self._alts[i], self._alts[i + 1]
        a = first if first is not None else second if second is not None else DEFAULT_ALT_M
        b = second if second is not None else a
        leg = self.route.legs[i]
        f = 0.0 if leg.length_m == 0 else (s_m - self.route.starts_m[i]) / leg.length_m
        return a + (b - a) * min(1.0, max(0.0, f))

    def _target_speed(self, t: float) -> float:
        s = self.state
        if t < PULL_AWAY_AT_S or self._dwell_until is not None or self._ending_at is not None:
            return 0.0
        dist = s.distance_m
        nxt = self._next_stop()
        if nxt is not None and dist >= nxt[0] - STOP_CAPTURE_M:
            return 0.0
        if dist >= self.route.length_m - STOP_CAPTURE_M:
            return 0.0
        return self.route.target_speed(dist, self._stops_done_m)

    def _next_stop(self) -> tuple[float, float] | None:
        for at_m, dwell in self._stop_points:
            if at_m > self._stops_done_m:
                return at_m, dwell
        return None

    def _drive(self, t: float) -> None:
        """Key, driver and stops at time ``t``, then one physics step."""
        car, s = self.car, self.state
        if (
            t >= CRANK_AT_S
            and s.ignition == IGNITION_ON
            and not s.engine_running
            and (self._ending_at is None)
        ):
            car.set_ignition(IGNITION_START)
        elif t >= RUNNING_AT_S and s.ignition == IGNITION_START:
            car.set_ignition(IGNITION_ON)
        if t >= PULL_AWAY_AT_S - 0.5 and self._ending_at is None and self._dwell_until is None:
            s.parking_brake = False

        target = self._target_speed(t)
        if s.speed_mps < 0.05 and target == 0.0 and t > PULL_AWAY_AT_S:
            nxt = self._next_stop()
            if self._dwell_until is None and self._ending_at is None:
                if nxt is not None and s.distance_m >= nxt[0] - STOP_CAPTURE_M - 1.0:
                    self._dwell_until = t + nxt[1]
                elif s.distance_m >= self.route.length_m - STOP_CAPTURE_M - 1.0:
                    self._ending_at = t + END_IDLE_S
                    s.parking_brake = True
            if self._dwell_until is not None and t >= self._dwell_until and nxt is not None:
                self._stops_done_m = nxt[0]
                self._dwell_until = None
                target = self._target_speed(t)
        if self._ending_at is not None and t >= self._ending_at:
            car.set_ignition(IGNITION_OFF)
            self.finished = True
        controls = self.driver.step(STEP_S, s, target)
        self._brake_pedal = controls.brake
        car.step(STEP_S, controls.throttle, controls.brake, controls.gear)
        if t >= self._next_light_check:
            # Headlights on from sunset to sunrise, checked once a second.
            lat, lon, _h = self.position()
            self._sun_up = sun_elevation_deg(lat, lon, utc_at(self.scenario.start_utc, t)) >= 0
            self._next_light_check = t + 1.0
        s.headlights = not self._sun_up and s.engine_running

    # -- events --------------------------------------------------------------------
    def events(self, duration: float | None = None) -> Iterator[Event]:
        """Every frame and sentence of the run, in time order. ``duration`` stops the
        run early (seconds of simulated time)."""
        sc = self.scenario
        epoch0 = sc.start_epoch
        period = 1.0 / self.nmea_options.hz
        next_fix = 0.0
        next_poll = PULL_AWAY_AT_S if self.obd_poll else math.inf
        pending: list[tuple[float, int, Event]] = []  # sentences and OBD answers ahead
        seq = 0
        self.car.set_ignition(IGNITION_ON)
        k = 0
        while True:
            t = k * STEP_S
            if duration is not None and t >= duration:
                break
            if self.finished and not pending:
                break
            if t > self._time_limit_s:
                raise ConfigError(
                    f"{sc.source}: the car did not reach the end of the route within "
                    f"{self._time_limit_s:.0f} s; check the route's speeds and stops"
                )
            t_next = (k + 1) * STEP_S
            window: list[tuple[float, int, Event]] = []
            # Broadcast frames due in [t, t_next), from the state at t.
            if not bus_silent(self.state):
                for p in self.periodic:
                    while p.next_t < t_next:
                        ts = p.next_t
                        msg = p.frame(self.state, epoch0 + ts)
                        window.append((ts, seq, CanFrame(ts, msg)))
                        seq += 1
                        self.summary.frames[msg.arbitration_id] += 1
                        p.next_t = ts + p.period_s
            else:
                for p in self.periodic:
                    while p.next_t < t_next:
                        p.next_t += p.period_s
            # GPS epoch: a fix from the true position now, its sentences a little later.
            # After the key is off the run only lets the last sentences out.
            while next_fix < t_next and not self.finished:
                seq = self._gps_epoch(next_fix, pending, seq)
                next_fix = round(next_fix + period, 9)
            # A tester polling OBD-II: request now, the ECU's answer a few ms later.
            while next_poll < t_next and self.obd is not None:
                for j, pid in enumerate(self.obd_poll):
                    tq = next_poll + 0.05 * j
                    req = obd_request(pid)
                    req.timestamp = epoch0 + tq
                    heapq.heappush(pending, (tq, seq, CanFrame(tq, req)))
                    seq += 1
                    self.summary.frames[req.arbitration_id] += 1
                    resp = self.obd.respond(req, self.state)
                    if resp is not None:
                        ta = tq + OBD_RESPONSE_DELAY_S
                        resp.timestamp = epoch0 + ta
                        heapq.heappush(pending, (ta, seq, CanFrame(ta, resp)))
                        seq += 1
                        self.summary.frames[resp.arbitration_id] += 1
                        self.summary.obd_responses += 1
                next_poll += self.obd_poll_period_s
            while pending and pending[0][0] < t_next:
                window.append(heapq.heappop(pending))
            # The logger's inputs: edges and levels of [t, t_next) from the state at t,
            # handed over every INPUT_CHUNK_STEPS steps (as the stream's writer would).
            if self.inputs is not None:
                self.inputs.step(t, STEP_S, self.state, self._brake_pedal)
                if (k + 1) % INPUT_CHUNK_STEPS == 0 or self.finished:
                    window.append((t_next, seq, InputChunk(t_next, self.inputs.take(t_next))))
                    seq += 1
            window.sort(key=lambda e: (e[0], e[1]))
            for _ts, _n, ev in window:
                yield ev
            if not self.finished:
                self._drive(t)
                s = self.state
                self.summary.max_speed_kmh = max(self.summary.max_speed_kmh, s.speed_kmh)
            k += 1
        s = self.state
        self.summary.duration_s = k * STEP_S
        self.summary.distance_m = s.distance_m
        self.summary.fuel_used_l = s.fuel_used_l
        self.summary.coolant_end_c = s.coolant_c

    def _gps_epoch(self, t: float, pending: list[tuple[float, int, Event]], seq: int) -> int:
        sc = self.scenario
        s = self.state
        lat, lon, heading = self.position()
        truth = Truth(lat, lon, self._altitude(s.distance_m), s.speed_mps, heading)
        dropout = any(d.covers(t) for d in sc.gps_dropouts)
        fix = self.receiver.fix(t, utc_at(sc.start_utc, t), truth, dropout)
        self.track.append(TrackPoint(t, lat, lon, s.speed_mps, heading, fix.valid))
        self.summary.fixes += 1
        if not fix.valid:
            self.summary.fixes_without_position += 1
        texts = self.receiver.sentences(fix)
        for text, dt in zip(texts, self.receiver.offsets(texts), strict=True):
            heapq.heappush(pending, (t + dt, seq, NmeaSentence(t + dt, text)))
            seq += 1
            self.summary.sentences += 1
        return seq

    def respond(self, request: can.Message) -> can.Message | None:
        """Answer an OBD-II request with the values of this moment (None: no answer)."""
        if self.obd is None:
            return None
        resp = self.obd.respond(request, self.state)
        if resp is not None:
            resp.timestamp = self.scenario.start_epoch + self.state.t
            self.summary.obd_responses += 1
        return resp


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else resolve(scenario)


def simulate(
    scenario: Scenario | str | Path,
    *,
    duration: float | None = None,
    nmea: NmeaOptions | None = None,
    seed: int | None = None,
    obd_poll: Sequence[int] = (),
    obd_poll_period_s: float = 1.0,
) -> Iterator[Event]:
    """Every event of a scenario in time order, with no real time involved.

    ``scenario`` is a :class:`Scenario`, a path, or a built-in name. Frames are
    ``can.Message`` objects stamped with UTC epoch seconds; sentences are text without
    CR LF. ``obd_poll`` lists PIDs that a scan tool requests on 0x7DF every
    ``obd_poll_period_s``; the requests and the car's answers are among the frames.
    """
    sim = Simulation(
        _scenario(scenario),
        nmea=nmea,
        seed=seed,
        obd_poll=obd_poll,
        obd_poll_period_s=obd_poll_period_s,
    )
    return sim.events(duration)


def pace(
    events: Iterator[Event],
    speedup: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Yield each event when it is due: ``t / speedup`` seconds after the first call.
    ``speedup=None`` passes events through as fast as they come. Deadlines are absolute,
    so a late event does not delay the ones after it."""
    if speedup is None:
        yield from events
        return
    if speedup <= 0:
        raise ConfigError(f"speedup {speedup:g}: must be above 0")
    start = clock()
    for ev in events:
        due = start + ev.t / speedup
        delay = due - clock()
        if delay > 0:
            wait(delay)
        yield ev


def generate(
    scenario: Scenario | str | Path,
    *,
    speedup: float | None = 1.0,
    duration: float | None = None,
    nmea: NmeaOptions | None = None,
    seed: int | None = None,
    obd_poll: Sequence[int] = (),
) -> Iterator[Event]:
    """The events of :func:`simulate`, each yielded at its due wall-clock time
    (``speedup`` times real time; ``None`` for as fast as possible)."""
    return pace(
        simulate(scenario, duration=duration, nmea=nmea, seed=seed, obd_poll=obd_poll), speedup
    )


def run(
    scenario: Scenario | str | Path,
    *,
    bus: can.BusABC | None = None,
    interface: str | None = "virtual",
    channel: str | int | None = None,
    bitrate: int | None = None,
    nmea_out: str | NmeaOutput | None = None,
    nmea: NmeaOptions | None = None,
    nmea_baud: int = 9600,
    stream: str | Path | StreamWriter | None = None,
    speedup: float | None = 1.0,
    duration: float | None = None,
    seed: int | None = None,
    obd_poll: Sequence[int] = (),
    progress: Callable[[Simulation], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    inputs_out: str | Path | None = None,
) -> dict[str, Any]:
    """Drive a scenario onto real outputs and return its summary.

    Frames go to ``bus`` (or a bus opened from ``interface``/``channel``/``bitrate``;
    ``interface=None`` for none), OBD-II requests heard there are answered, NMEA goes to
    ``nmea_out`` (a path, serial port, pyserial URL or ``"pty"``), and every frame on
    the bus is written to ``stream`` in the firmware's 16-byte format. ``speedup`` runs
    faster than real time; ``None`` as fast as possible. ``progress`` is called about
    once per simulated second. ``inputs_out`` (a file or FIFO) gets the logger's input
    stream of a car with ``vehicle.inputs`` (the firmware's ``inputs.source``).
    """
    sim = Simulation(_scenario(scenario), nmea=nmea, seed=seed, obd_poll=obd_poll)
    opened: list[Any] = []
    try:
        if bus is None and interface is not None and sim.can_enabled:
            bus = open_bus(interface, channel, bitrate)
            opened.append(bus)
        if isinstance(stream, str | Path):
            stream = StreamWriter(stream)
            opened.append(stream)
        if isinstance(nmea_out, str):
            nmea_out = NmeaOutput(nmea_out, baud=nmea_baud)
            opened.append(nmea_out)
        inputs_file = None
        if inputs_out is not None:
            if sim.inputs is None:
                raise ConfigError(
                    f"{sim.scenario.source}: no input stream to write: the scenario's "
                    "vehicle has no inputs (set vehicle.inputs to true)"
                )
            inputs_file = open(inputs_out, "wb")  # noqa: SIM115 (closed with the others)
            opened.append(inputs_file)
        inputs_bytes = 0
        writer = stream
        link = None
        if bus is not None:
            link = BusLink(bus, sim.respond, writer.write if writer is not None else None)
        if speedup is not None and speedup <= 0:
            raise ConfigError(f"speedup {speedup:g}: must be above 0")
        start = clock()
        next_progress = 0.0
        for ev in sim.events(duration):
            if speedup is not None:
                due = start + ev.t / speedup
                while True:
                    left = due - clock()
                    if link is None:
                        if left > 0:
                            time.sleep(left)
                        break
                    link.service(left)
                    if left <= 0:
                        break
            elif link is not None:
                link.service(0.0)
            if isinstance(ev, CanFrame):
                if link is not None:
                    link.send(ev.message)
                elif writer is not None:
                    writer.write(ev.message)
            elif isinstance(ev, NmeaSentence) and nmea_out is not None:
                nmea_out.write_line(ev.text)
            elif isinstance(ev, InputChunk) and inputs_file is not None:
                inputs_file.write(ev.data)
                inputs_file.flush()
                inputs_bytes += len(ev.data)
            if progress is not None and ev.t >= next_progress:
                progress(sim)
                next_progress += 1.0
        if link is not None:
            link.service(0.0)
        out = sim.summary.as_dict()
        out["wall_s"] = round(clock() - start, 3)
        if link is not None:
            out["bus_frames_sent"] = link.sent
            out["bus_frames_heard"] = link.heard
        if writer is not None:
            out["stream_frames"] = writer.frames
        if inputs_file is not None:
            out["inputs_records"] = inputs_bytes // 8
        if isinstance(nmea_out, NmeaOutput):
            out["nmea_output"] = nmea_out.path
            out["nmea_dropped_bytes"] = nmea_out.dropped_bytes
        return out
    finally:
        for thing in reversed(opened):
            if isinstance(thing, can.BusABC):
                thing.shutdown()
            else:
                thing.close()
