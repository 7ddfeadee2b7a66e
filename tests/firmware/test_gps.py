"""The firmware's NMEA reader and GPS records, under MicroPython.

Expected values come from the sentences themselves: the textbook RMC/GGA examples of the
NMEA 0183 literature (gpsd's "NMEA revealed"), and for the simulated drive pynmea2, an
independent reader, parses the same sentences the firmware parsed.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime

import pynmea2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.logformat.reader import ClockAnchor, Event, GpsFix, read_segment
from keilog.sim.nmea import NmeaOptions
from keilog.sim.run import NmeaSentence, Simulation
from keilog.sim.scenario import builtin

from tests.conftest import TESTS, run_mp

POS, ALT, MOTION, HDOP, TIME = 1, 2, 4, 8, 16
EPOCH = date(1970, 1, 1)


def nmea(body: str) -> str:
    cs = functools.reduce(lambda a, c: a ^ c, body.encode(), 0)
    return f"${body}*{cs:02X}\r\n"


def parse(tmp_path, text: str | bytes, chunks: str = "4096") -> dict:
    path = tmp_path / "nmea.txt"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    out = run_mp(TESTS / "firmware" / "mp_nmea.py", str(path), chunks)
    return json.loads(out.stdout)


# The RMC and GGA of "NMEA revealed" (gpsd): 12:35:19 UTC, 48°07.038' N 11°31.000' E.
RMC = "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
GGA = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
VTG = "GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A"
GSA = "GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1"


def test_an_epoch_merges_rmc_gga_vtg_gsa(tmp_path):
    out = parse(tmp_path, nmea(RMC) + nmea(GGA) + nmea(VTG) + nmea(GSA))
    assert out["sentences"] == 4 and out["bad"] == out["bad_checksum"] == 0
    [e] = out["epochs"]
    assert e == {
        "ticks": 0,
        "day": (date(1994, 3, 23) - EPOCH).days,
        "tod": ((12 * 60 + 35) * 60 + 19) * 1000,
        "lat": 48117300,  # 48 + 7.038 / 60 degrees
        "lon": 11516667,  # 11 + 31.000 / 60, rounded to 1e-6
        "alt": 5454,  # 545.4 m
        "speed": 1152,  # 22.4 knots * 1852 m / 3600 s = 11.5236 m/s (RMC wins over VTG)
        "course": 8440,
        "hdop": 90,  # GGA's 0.9 (GSA's 1.3 only when GGA has none)
        "quality": 1,
        "sats": 8,
        "valid": POS | ALT | MOTION | HDOP | TIME,
    }


@pytest.mark.parametrize(
    ("sentences", "fields"),
    [
        # southern and western hemispheres are negative
        (
            ["GNRMC,000001.50,A,3352.1280,S,15112.6440,W,0.00,,010126,,,D"],
            {"lat": -33868800, "lon": -151210733, "tod": 1500, "course": 0, "quality": 2},
        ),
        # VTG alone gives motion: 10.2 km/h = 283 cm/s
        (["GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A"], {"speed": 283, "valid": MOTION}),
        # GSA alone gives HDOP when there is a 2D/3D fix
        (["GLGSA,A,3,65,66,,,,,,,,,,,1.9,0.8,1.7"], {"hdop": 80, "valid": HDOP}),
        (["GAGSA,A,1,,,,,,,,,,,,,99.9,99.9,99.9"], {"hdop": 0, "valid": 0}),
        # a void RMC (status V): the receiver's clock, but no fix: nothing valid
        (
            ["GPRMC,123519,V,,,,,,,230394,,,N"],
            {"valid": 0, "lat": 0, "tod": 0, "day": 0, "quality": 0},
        ),
        # GGA without a fix still says how many satellites it sees
        (["GPGGA,123520,,,,,0,03,,,M,,M,,"], {"sats": 3, "valid": 0, "quality": 0}),
        # negative altitude (Dead Sea shore, -430 m)
        (
            ["GPGGA,080000,3130.000,N,03530.000,E,1,09,1.0,-430.5,M,18.0,M,,"],
            {"alt": -4305, "valid": POS | ALT | HDOP},
        ),
    ],
)
def test_sentence_fields(tmp_path, sentences, fields):
    out = parse(tmp_path, "".join(nmea(s) for s in sentences))
    [e] = out["epochs"]
    assert {k: e[k] for k in fields} == fields


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA"])
def test_every_supported_talker_is_read(tmp_path, talker):
    out = parse(tmp_path, nmea(talker + RMC[2:]))
    assert out["sentences"] == 1 and out["epochs"][0]["valid"] & POS


@pytest.mark.parametrize(
    ("line", "counter"),
    [
        ("$" + RMC + "*00\r\n", "bad_checksum"),  # wrong checksum
        ("$" + RMC + "\r\n", "bad"),  # no checksum at all
        (nmea("BD" + RMC[2:]), "ignored"),  # BeiDou talker: not one we read
        (nmea("PUBX,00,123519"), "ignored"),  # proprietary
        (nmea("GPZDA,123519,23,03,1994,00,00"), "ignored"),  # a sentence we do not use
        (nmea("GPRMC,123519,A,4807.038,N,01131.000,X,022.4,084.4,230394,,"), "bad"),
        (nmea("GPRMC,126019,A,4807.038,N,01131.000,E,022.4,084.4,230394,,"), "bad"),  # 60 min
        (nmea("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,231394,,"), "bad"),  # month 13
        (nmea("GPRMC,123519,A,9107.038,N,01131.000,E,022.4,084.4,230394,,"), "bad"),  # 91°
        (nmea("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,1234567890,M,,M,,"), "bad"),
        ("$GPRMC," + "1" * 100 + "\r\n", "bad"),  # longer than any sentence
    ],
)
def test_bad_sentences_are_counted_and_ignored(tmp_path, line, counter):
    out = parse(tmp_path, line + nmea(GGA))
    assert out[counter] == 1
    assert out["sentences"] == 1  # the GGA after it is still read
    assert out["epochs"][0]["lat"] == 48117300


def sim_stream() -> tuple[bytes, list[list[str]]]:
    sim = Simulation(builtin("florida_rural"), nmea=NmeaOptions(vtg=True, gsa=True, talker="GN"))
    texts = [ev.text for ev in sim.events() if isinstance(ev, NmeaSentence)]
    epochs: list[list[str]] = []
    for t in texts:
        if t[3:6] == "RMC":
            epochs.append([])
        epochs[-1].append(t)
    return "".join(t + "\r\n" for t in texts).encode(), epochs


@pytest.fixture(scope="module")
def drive():
    return sim_stream()


def expected(sentences: list[str]) -> dict:
    """One epoch's fix by pynmea2's reading of the same sentences."""
    msgs = {s[3:6]: pynmea2.parse(s, check=True) for s in sentences}
    rmc, gga = msgs["RMC"], msgs.get("GGA")
    valid = 0
    out: dict = {}
    if rmc.status == "A":
        valid |= POS | MOTION
        out["lat"], out["lon"] = round(rmc.latitude * 1e6), round(rmc.longitude * 1e6)
        out["speed"] = round(float(rmc.spd_over_grnd) * 1852 / 36)
        t = datetime.combine(rmc.datestamp, rmc.timestamp).replace(tzinfo=UTC)
        out["day"] = (t.date() - EPOCH).days
        out["tod"] = (t.hour * 3600 + t.minute * 60 + t.second) * 1000 + t.microsecond // 1000
        valid |= TIME
    if gga is not None and gga.gps_qual:
        valid |= POS | ALT | HDOP
        out["alt"] = round(float(gga.altitude) * 10)
        out["hdop"] = round(float(gga.horizontal_dil) * 100)
        out["sats"] = int(gga.num_sats)
    out["valid"] = valid
    return out


def test_a_simulated_drive_reads_as_pynmea2_reads_it(tmp_path, drive):
    stream, epochs = drive
    out = parse(tmp_path, stream, "4096")
    assert out["bad"] == out["bad_checksum"] == out["ignored"] == 0
    assert len(out["epochs"]) == len(epochs)
    for got, sentences in zip(out["epochs"], epochs, strict=True):
        want = expected(sentences)
        for key, value in want.items():
            tolerance = 1 if key in ("lat", "lon", "speed") else 0  # rounding of the last digit
            assert abs(got[key] - value) <= tolerance, (key, got, sentences)


@pytest.fixture(scope="module")
def whole(drive, tmp_path_factory):
    stream = drive[0][:3000]
    out = parse(tmp_path_factory.mktemp("whole"), stream, "4096")
    return stream, [{k: v for k, v in e.items() if k != "ticks"} for e in out["epochs"]]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_chunking_gives_the_same_epochs(tmp_path_factory, whole, data):
    stream, epochs = whole
    sizes = data.draw(st.lists(st.integers(1, 97), min_size=1, max_size=6))
    split = parse(tmp_path_factory.mktemp("chunks"), stream, ",".join(map(str, sizes)))
    assert [{k: v for k, v in e.items() if k != "ticks"} for e in split["epochs"]] == epochs


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.lists(st.binary(max_size=120), min_size=1, max_size=8))
def test_garbage_between_sentences_never_breaks_the_reader(tmp_path_factory, garbage):
    # Line noise, a receiver's binary protocol, a baud-rate mismatch: whatever arrives,
    # the reader counts it and reads every intact sentence after a line break.
    good = nmea(RMC) + nmea(GGA)
    text = b"".join(g + b"\r\n" + good.encode() for g in garbage)
    out = parse(tmp_path_factory.mktemp("garbage"), text, "13,64")
    assert out["sentences"] >= 2 * len(garbage)
    for e in out["epochs"]:
        if e["valid"] & POS:
            assert (e["lat"], e["lon"], e["tod"]) == (48117300, 11516667, 45319000)
        assert -90_000_000 <= e["lat"] <= 90_000_000
        assert 0 <= e["speed"] < 65536 and 0 <= e["course"] < 36000 and 0 <= e["valid"] < 32


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=600))
def test_arbitrary_bytes_are_survived(tmp_path_factory, raw):
    out = parse(tmp_path_factory.mktemp("raw"), raw, "7,50")
    for e in out["epochs"]:  # random bytes rarely pass a checksum; if they do, stay in range
        assert 0 <= e["valid"] < 32 and e["quality"] <= 9


def test_per_sentence_path_allocates_nothing_and_sets_the_clock(tmp_path, drive):
    stream, epochs = drive
    nmea_file = tmp_path / "drive.nmea"
    nmea_file.write_bytes(stream)
    out = json.loads(
        run_mp(TESTS / "firmware" / "mp_gps_heap.py", str(nmea_file), str(tmp_path / "log")).stdout
    )
    assert out["in_lock"] > 0  # blocks were sealed and written with the heap locked
    assert out["epochs"] == len(epochs)
    [seg] = [read_segment(p) for p in sorted((tmp_path / "log").glob("*.KLG"))]
    fixes = [r for r in seg.records if isinstance(r, GpsFix)]
    assert len(fixes) == len(epochs)
    first = next(f for f in fixes if f.lat is not None and f.utc_us is not None)
    gps_anchors = [a for a in seg.anchors if a.source == "gps"]
    assert len(gps_anchors) == 1  # the first valid fix sets the clock, once
    assert (gps_anchors[0].mono_us, gps_anchors[0].utc_us) == (first.mono_us, first.utc_us)
    assert [r.value for r in seg.records if isinstance(r, Event) and r.code == 2] == [1]
    assert isinstance(seg.records[1], ClockAnchor)  # the system clock's anchor at boot
