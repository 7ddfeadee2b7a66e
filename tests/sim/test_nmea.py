"""NMEA output: valid checksums, and positions that parse back to the route within the
receiver's noise (parsed with pynmea2, an independent reader)."""

import math
import re
from datetime import UTC, datetime

import pynmea2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keilog.errors import ConfigError
from keilog.sim.nmea import NmeaOptions, checksum, sentence
from keilog.sim.route import haversine_m
from keilog.sim.run import NmeaSentence, Simulation
from keilog.sim.scenario import builtin

KNOT = 1852 / 3600  # m/s, exact (international nautical mile)


def run_gps(name="florida_rural", **options):
    sim = Simulation(builtin(name), nmea=NmeaOptions(**options))
    texts = [ev for ev in sim.events() if isinstance(ev, NmeaSentence)]
    return sim, texts


@pytest.fixture(scope="module")
def demo():
    return run_gps()


def test_checksum_of_a_textbook_sentence():
    # the GGA example of the NMEA 0183 literature, checksum 47
    body = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
    assert checksum(body) == "47"
    assert sentence(body) == f"${body}*47"


def test_every_sentence_has_a_valid_checksum_and_parses(demo):
    _sim, texts = demo
    assert texts
    for ev in texts:
        m = re.fullmatch(r"\$([^*]+)\*([0-9A-F]{2})", ev.text)
        assert m, ev.text
        assert checksum(m.group(1)) == m.group(2)
        pynmea2.parse(ev.text, check=True)


def test_positions_parse_back_to_the_route_within_the_jitter(demo):
    sim, texts = demo
    truth = {round(p.t, 3): p for p in sim.track}
    worst = 0.0
    n = 0
    start = sim.scenario.start_utc
    for ev in texts:
        msg = pynmea2.parse(ev.text)
        if not isinstance(msg, pynmea2.types.talker.GGA) or msg.gps_qual == 0:
            continue
        when = datetime.combine(start.date(), msg.timestamp).replace(tzinfo=UTC)
        true = truth[round((when - start).total_seconds(), 3)]
        worst = max(worst, haversine_m(msg.latitude, msg.longitude, true.lat, true.lon))
        n += 1
    assert n > 100
    # horizontal noise: sigma 2 m per axis, so 5 sigma radial is about 10 m (plus 0.3 m
    # white noise and 1 cm of format resolution): 12 m bounds every fix
    assert worst < 12.0


def test_speed_and_course_parse_back_from_rmc(demo):
    sim, texts = demo
    by_time = {round(p.t, 3): p for p in sim.track}
    start = sim.scenario.start_utc
    checked = 0
    for ev in texts:
        msg = pynmea2.parse(ev.text)
        if not isinstance(msg, pynmea2.types.talker.RMC) or msg.status != "A":
            continue
        when = datetime.combine(msg.datestamp, msg.timestamp).replace(tzinfo=UTC)
        true = by_time[round((when - start).total_seconds(), 3)]
        assert msg.spd_over_grnd * KNOT == pytest.approx(true.speed_mps, abs=0.3)
        if true.speed_mps > 5:
            diff = (msg.true_course - true.heading_deg + 180) % 360 - 180
            assert abs(diff) < 3.0
            checked += 1
    assert checked > 50


def test_a_dropout_gives_sentences_without_a_fix_for_its_whole_span(demo):
    sim, texts = demo  # florida_rural: dropout after 100 s for 8 s
    no_fix = sorted({round(p.t, 3) for p in sim.track if not p.fix_valid})
    assert no_fix == [float(t) for t in range(100, 108)]
    rmc_void = [ev for ev in texts if ev.text.startswith("$GPRMC") and ",V," in ev.text]
    assert len(rmc_void) == 8
    for ev in rmc_void:
        msg = pynmea2.parse(ev.text)
        assert msg.status == "V" and msg.lat == ""
    gga_void = [pynmea2.parse(ev.text) for ev in texts if ev.text.startswith("$GPGGA")]
    assert sum(1 for m in gga_void if m.gps_qual == 0) == 8


def test_rate_talker_and_optional_sentences():
    sim = Simulation(
        builtin("tennessee_speed_cap"),
        nmea=NmeaOptions(hz=10, vtg=True, gsa=True, talker="GN"),
    )
    texts = [ev.text for ev in sim.events(duration=3.0) if isinstance(ev, NmeaSentence)]
    kinds = [t[1:6] for t in texts]
    assert kinds[:4] == ["GNRMC", "GNGGA", "GNVTG", "GNGSA"]
    assert kinds.count("GNRMC") == 30  # 10 Hz for 3 s
    for t in texts:
        pynmea2.parse(t, check=True)
    vtg = pynmea2.parse(texts[2])
    assert float(vtg.spd_over_grnd_kmph) == pytest.approx(
        float(vtg.spd_over_grnd_kts) * 1.852, abs=0.01
    )


def test_sentences_of_one_fix_follow_the_fix_epoch_in_time_order(demo):
    _sim, texts = demo
    times = [ev.t for ev in texts]
    assert times == sorted(times)
    # the first byte leaves 50 ms after the epoch; at 115200 baud a sentence is ~6 ms
    assert texts[0].t == pytest.approx(0.05 + (len(texts[0].text) + 2) * 10 / 115200)


@pytest.mark.parametrize(("hz", "talker"), [(0.5, "GP"), (11, "GP"), (1, "XX")])
def test_bad_options_are_refused(hz, talker):
    with pytest.raises(ConfigError):
        NmeaOptions(hz=hz, talker=talker)


@given(
    lat=st.floats(min_value=-89.99999, max_value=89.99999),
    lon=st.floats(min_value=-179.99999, max_value=179.99999),
)
def test_any_coordinate_formats_and_parses_back_to_a_centimetre(lat, lon):
    from keilog.sim.nmea import Fix, Receiver

    rx = Receiver(NmeaOptions())
    fix = Fix(datetime(2026, 1, 1, tzinfo=UTC), True, lat, lon, 10.0, 1.0, 90.0, 9, 1.0)
    gga = pynmea2.parse(rx.sentences(fix)[1], check=True)
    # 5 decimals of minutes: 1/100000 minute = 1.85 cm of latitude
    assert gga.latitude == pytest.approx(lat, abs=1e-5 / 60 + 1e-12)
    assert gga.longitude == pytest.approx(lon, abs=1e-5 / 60 + 1e-12)
    assert math.isfinite(gga.latitude)
