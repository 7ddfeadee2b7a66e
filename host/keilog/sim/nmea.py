"""NMEA 0183 sentences from a simulated GPS receiver, with realistic noise.

Writes RMC and GGA for every fix, optionally VTG and GSA, as a consumer receiver does
at 1-10 Hz (the NMEA 0183 v2.3 field layout most receivers default to; talker ``GP``,
``GN``, ``GL`` or ``GA``). The noise model:

- horizontal error: a slowly wandering offset (first-order Gauss-Markov process,
  sigma 2 m per axis, correlation time 30 s; CEP50 = 1.18 sigma, about 2.4 m, the
  figure consumer modules such as the u-blox NEO-M8 quote for open sky) plus 0.3 m of
  white noise;
- altitude: sigma 4 m (vertical error is about 1.5-2x horizontal);
- speed: Doppler-derived, sigma 0.05 m/s; course: from the velocity vector, so it is
  noisy at walking pace and frozen when stopped;
- dropouts (tunnels, parking decks) from the scenario: the receiver keeps talking but
  reports no fix (RMC status V, GGA quality 0, empty position fields).

Writing sentences here by hand is simpler than any library: the format is a fixed
comma-separated layout with an XOR checksum (pynmea2 parses but does not model a
receiver).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from keilog.errors import ConfigError

KNOTS_PER_MPS = 3600.0 / 1852.0  # 1 international nautical mile = 1852 m
METRES_PER_DEG_LAT = 111_320.0  # near enough for metre-scale offsets

H_SIGMA_M = 2.0
H_TAU_S = 30.0
H_WHITE_M = 0.3
V_SIGMA_M = 4.0
SPEED_SIGMA_MPS = 0.05
STOPPED_MPS = 0.3


def checksum(body: str) -> str:
    """Two hex digits: XOR of every character between ``$`` and ``*``."""
    x = 0
    for ch in body.encode("ascii"):
        x ^= ch
    return f"{x:02X}"


def sentence(body: str) -> str:
    """``$body*HH`` (without the CR LF that ends it on the wire)."""
    return f"${body}*{checksum(body)}"


def _lat(lat: float) -> tuple[str, str]:
    a = abs(lat)
    deg = int(a)
    minutes = (a - deg) * 60.0
    if round(minutes, 5) >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg:02d}{minutes:08.5f}", "N" if lat >= 0 else "S"


def _lon(lon: float) -> tuple[str, str]:
    a = abs(lon)
    deg = int(a)
    minutes = (a - deg) * 60.0
    if round(minutes, 5) >= 60.0:
        deg, minutes = deg + 1, 0.0
    return f"{deg:03d}{minutes:08.5f}", "E" if lon >= 0 else "W"


@dataclass(frozen=True)
class NmeaOptions:
    hz: float = 1.0
    vtg: bool = False
    gsa: bool = False
    talker: str = "GP"
    latency_s: float = 0.05  # fix epoch to first byte out
    baud: int = 115_200  # only sets the spacing of sentences within one epoch

    def __post_init__(self) -> None:
        if not 1.0 <= self.hz <= 10.0:
            raise ConfigError(f"NMEA rate {self.hz:g} Hz: choose 1 to 10 Hz")
        if self.talker not in ("GP", "GN", "GL", "GA"):
            raise ConfigError(f"NMEA talker {self.talker!r}: choose GP, GN, GL or GA")


@dataclass(frozen=True)
class Truth:
    """Where the car really is at a fix epoch."""

    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    heading_deg: float


@dataclass(frozen=True)
class Fix:
    """What the receiver reports (after noise); ``valid`` False during a dropout."""

    utc: datetime
    valid: bool
    lat: float
    lon: float
    alt_m: float
    speed_mps: float
    course_deg: float
    satellites: int
    hdop: float


class Receiver:
    """Turns true positions into noisy fixes and fixes into sentences."""

    def __init__(self, options: NmeaOptions, seed: int = 0, geoid_sep_m: float = -30.0) -> None:
        self.options = options
        self.rng = random.Random(seed)
        self.north_m = self.rng.gauss(0.0, H_SIGMA_M)
        self.east_m = self.rng.gauss(0.0, H_SIGMA_M)
        self.up_m = self.rng.gauss(0.0, V_SIGMA_M)
        self.course = 0.0
        self.last_t: float | None = None
        self.geoid_sep_m = geoid_sep_m  # EGM96 geoid height: about -30 m in the US South
        self.prns = sorted(self.rng.sample(range(1, 33), 12))
        self.sats = 9

    def _walk(self, dt: float) -> None:
        # First-order Gauss-Markov step with the exact discretisation.
        phi = math.exp(-dt / H_TAU_S)
        q = math.sqrt(1.0 - phi * phi)
        g = self.rng.gauss
        self.north_m = phi * self.north_m + q * H_SIGMA_M * g(0.0, 1.0)
        self.east_m = phi * self.east_m + q * H_SIGMA_M * g(0.0, 1.0)
        self.up_m = phi * self.up_m + q * V_SIGMA_M * g(0.0, 1.0)
        if self.rng.random() < 0.02 * dt:
            self.sats = max(6, min(12, self.sats + self.rng.choice((-1, 1))))

    def fix(self, t: float, utc: datetime, truth: Truth, dropout: bool) -> Fix:
        """The receiver's fix for epoch ``t`` (seconds since the scenario started)."""
        dt = 1.0 if self.last_t is None else max(1e-3, t - self.last_t)
        self.last_t = t
        self._walk(dt)
        g = self.rng.gauss
        if dropout:
            return Fix(utc, False, 0.0, 0.0, 0.0, 0.0, self.course, self.rng.randint(0, 3), 99.9)
        north = self.north_m + g(0.0, H_WHITE_M)
        east = self.east_m + g(0.0, H_WHITE_M)
        lat = truth.lat + north / METRES_PER_DEG_LAT
        lon = truth.lon + east / (METRES_PER_DEG_LAT * max(0.01, math.cos(math.radians(truth.lat))))
        # Velocity noise on each axis, then speed and course from the vector.
        vn = truth.speed_mps * math.cos(math.radians(truth.heading_deg)) + g(0, SPEED_SIGMA_MPS)
        ve = truth.speed_mps * math.sin(math.radians(truth.heading_deg)) + g(0, SPEED_SIGMA_MPS)
        speed = math.hypot(vn, ve)
        if truth.speed_mps >= STOPPED_MPS:
            self.course = math.degrees(math.atan2(ve, vn)) % 360.0
        hdop = round(0.7 + 4.0 / self.sats + abs(g(0.0, 0.05)), 1)
        return Fix(
            utc, True, lat, lon, truth.alt_m + self.up_m, speed, self.course, self.sats, hdop
        )

    def sentences(self, fix: Fix) -> list[str]:
        """The sentences a receiver sends for one fix, in its usual order."""
        o = self.options
        tk = o.talker
        hms = fix.utc.strftime("%H%M%S") + f".{fix.utc.microsecond // 10000:02d}"
        dmy = fix.utc.strftime("%d%m%y")
        out: list[str] = []
        if fix.valid:
            lat, ns = _lat(fix.lat)
            lon, ew = _lon(fix.lon)
            knots = f"{fix.speed_mps * KNOTS_PER_MPS:.3f}"
            course = f"{fix.course_deg:.2f}"
            out.append(
                sentence(f"{tk}RMC,{hms},A,{lat},{ns},{lon},{ew},{knots},{course},{dmy},,,A")
            )
            out.append(
                sentence(
                    f"{tk}GGA,{hms},{lat},{ns},{lon},{ew},1,{fix.satellites:02d},{fix.hdop:.1f},"
                    f"{fix.alt_m:.1f},M,{self.geoid_sep_m:.1f},M,,"
                )
            )
            if o.vtg:
                kmh = f"{fix.speed_mps * 3.6:.3f}"
                out.append(sentence(f"{tk}VTG,{course},T,,M,{knots},N,{kmh},K,A"))
            if o.gsa:
                used = self.prns[: fix.satellites]
                prn = ",".join(f"{p:02d}" for p in used) + "," * (12 - len(used))
                pdop = fix.hdop * 1.6
                vdop = fix.hdop * 1.3
                out.append(sentence(f"{tk}GSA,A,3,{prn},{pdop:.1f},{fix.hdop:.1f},{vdop:.1f}"))
        else:
            out.append(sentence(f"{tk}RMC,{hms},V,,,,,,,{dmy},,,N"))
            out.append(sentence(f"{tk}GGA,{hms},,,,,0,{fix.satellites:02d},99.99,,,,,,"))
            if o.vtg:
                out.append(sentence(f"{tk}VTG,,T,,M,,N,,K,N"))
            if o.gsa:
                out.append(sentence(f"{tk}GSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"))
        return out

    def offsets(self, sentences: list[str]) -> list[float]:
        """Seconds after the fix epoch at which each sentence has been sent."""
        o = self.options
        t = o.latency_s
        out = []
        for s in sentences:
            t += (len(s) + 2) * 10.0 / o.baud  # 8N1: 10 bits per byte, plus CR LF
            out.append(t)
        return out


def utc_at(start: datetime, t: float) -> datetime:
    return (start + timedelta(seconds=t)).astimezone(UTC)
