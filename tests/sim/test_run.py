"""Running a scenario onto a python-can bus, NMEA outputs and the firmware stream."""

import itertools
import json
import os
import select
import threading
import time
from collections import Counter

import can
import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.sim import obd
from keilog.sim.frames import load_dbc
from keilog.sim.run import CanFrame, NmeaSentence, generate, pace, run, simulate
from keilog.sim.scenario import builtin
from keilog.sim.stream import unpack_all

KEICAR = load_dbc()


def virtual_pair(channel):
    car = can.Bus(interface="virtual", channel=channel, preserve_timestamps=True)
    tester = can.Bus(interface="virtual", channel=channel)
    return car, tester


def test_frames_on_a_virtual_bus_match_the_cycle_times_and_the_stream(tmp_path):
    car, tester = virtual_pair("sim-cycle")
    try:
        out = run(builtin(), bus=car, speedup=None, duration=10.0, stream=tmp_path / "can.bin")
        heard = []
        while (m := tester.recv(0)) is not None:
            heard.append(m)
    finally:
        car.shutdown()
        tester.shutdown()
    counts = Counter(m.arbitration_id for m in heard)
    # 10 s at 10 / 20 / 100 / 100 / 1000 ms
    assert counts == {0x0C8: 1000, 0x1D0: 500, 0x3E0: 100, 0x3F0: 100, 0x420: 10}
    for frame_id in counts:
        stamps = [m.timestamp for m in heard if m.arbitration_id == frame_id]
        cycle = KEICAR.get_message_by_frame_id(frame_id).cycle_time / 1000
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert all(0.9 * cycle <= g <= 1.1 * cycle for g in gaps)
    assert out["bus_frames_sent"] == len(heard) == 1710
    written = unpack_all((tmp_path / "can.bin").read_bytes())
    assert [(m.arbitration_id, bytes(m.data)) for m in written] == [
        (m.arbitration_id, bytes(m.data)) for m in heard
    ]


def test_obd_requests_on_the_bus_get_answers_with_the_values_of_the_moment(tmp_path):
    car, tester = virtual_pair("sim-obd")
    answers = []

    def scan_tool():
        for pid in (0x0D, 0x0C, 0x05, 0x2F, 0x0E):
            tester.send(obd.request(pid))
            while (m := tester.recv(timeout=2.0)) is not None:
                if m.arbitration_id == 0x7E8:
                    answers.append(m)
                    break
                if pid == 0x0E and m.arbitration_id != 0x7E8:
                    break  # unsupported: no answer comes, the car keeps broadcasting

    tool = threading.Thread(target=scan_tool)
    try:
        tool.start()
        out = run(builtin(), bus=car, speedup=4.0, duration=3.0, stream=tmp_path / "can.bin")
        tool.join()
    finally:
        car.shutdown()
        tester.shutdown()
    assert [a.data[2] for a in answers] == [0x0D, 0x0C, 0x05, 0x2F]
    assert answers[0].data[:2] == b"\x03\x41"
    assert answers[1].data[:2] == b"\x04\x41"
    rpm = (answers[1].data[3] * 256 + answers[1].data[4]) / 4
    assert 0 <= rpm < 1200  # the truck is starting and idling during its first seconds
    assert answers[3].data[3] == round(60.0 * 255 / 100)  # fuel_pct default 60 %
    assert out["bus_frames_heard"] == 5
    # the logger's stream sees the whole bus: requests heard and answers given
    ids = Counter(m.arbitration_id for m in unpack_all((tmp_path / "can.bin").read_bytes()))
    assert ids[0x7DF] == 5 and ids[0x7E8] == 4


def test_nmea_to_a_file_and_to_a_pty(tmp_path):
    path = tmp_path / "gps.nmea"
    out = run(builtin(), interface=None, nmea_out=str(path), speedup=None, duration=5.0)
    lines = path.read_bytes().split(b"\r\n")
    assert lines[-1] == b"" and len(lines) - 1 == out["nmea_sentences"] == 10
    assert lines[0].startswith(b"$GPRMC,140000.00,A,")

    from keilog.sim.outputs import NmeaOutput

    with NmeaOutput("pty") as port:
        reader = os.open(port.path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            run(builtin(), interface=None, nmea_out=port, speedup=None, duration=2.0)
            got = b""
            deadline = time.monotonic() + 10  # the pty hands the bytes on in its own time
            while got.count(b"\r\n") < 4 and time.monotonic() < deadline:
                if select.select([reader], [], [], 0.1)[0]:
                    got += os.read(reader, 4096)
        finally:
            os.close(reader)
    assert got.count(b"\r\n") == 4 and got.startswith(b"$GPRMC")


def test_pace_keeps_absolute_deadlines():
    now = [100.0]
    waits = []

    def wait(s):
        waits.append(round(s, 6))
        now[0] += s

    events = [NmeaSentence(t, "x") for t in (0.0, 1.0, 1.5, 4.0)]
    got = list(pace(iter(events), 2.0, clock=lambda: now[0], wait=wait))
    assert got == events
    assert waits == [0.5, 0.25, 1.25]  # t / speedup after the start, not after each other
    assert list(pace(iter(events), None)) == events


def test_generate_with_no_speedup_is_the_pure_stream():
    a = [ev for ev in generate("florida_rural", speedup=None, duration=3.0)]
    b = list(simulate(builtin(), duration=3.0))
    assert [(type(x), x.t) for x in a] == [(type(x), x.t) for x in b]


def test_scan_tool_polling_in_the_pure_generator():
    events = list(simulate(builtin(), duration=8.0, obd_poll=[0x0D, 0x0C]))
    frames = [ev for ev in events if isinstance(ev, CanFrame)]
    requests = [ev for ev in frames if ev.message.arbitration_id == 0x7DF]
    answers = [ev for ev in frames if ev.message.arbitration_id == 0x7E8]
    assert [bytes(r.message.data[:3]) for r in requests[:2]] == [b"\x02\x01\x0d", b"\x02\x01\x0c"]
    assert len(requests) == len(answers) == 8  # at 4, 5, 6 and 7 s, two PIDs each
    # each answer 8 ms after its request
    assert answers[0].t - requests[0].t == pytest.approx(0.008)


@pytest.mark.parametrize(
    "name",
    [
        "florida_rural",
        "tennessee_speed_cap",
        "indiana_interstate",
        "florida_alabama_line",
        "north_carolina_gps_only",
    ],
)
def test_every_built_in_scenario_drives_to_its_end(name):
    from keilog.sim.route import haversine_m
    from keilog.sim.run import Simulation

    sc = builtin(name)
    sim = Simulation(sc)
    events = list(sim.events())
    assert sim.finished and sim.state.speed_mps == 0.0
    assert 60 < events[-1].t < 400
    last = sc.route[-1]
    lat, lon, _heading = sim.position()
    assert haversine_m(lat, lon, last.lat, last.lon) < 10.0  # stopped at the last point
    # the car reaches the fastest leg's speed (the legs are long enough)
    fastest = max(p.speed_mph for p in sc.route[:-1])
    assert sim.summary.max_speed_kmh / 1.609344 == pytest.approx(fastest, abs=0.6)
    # and halts at every stop point for as long as asked
    for p in sc.route[1:-1]:
        if p.stop_s:
            near = [
                q
                for q in sim.track
                if haversine_m(q.lat, q.lon, p.lat, p.lon) < 10 and q.speed_mps == 0.0
            ]
            assert len(near) >= p.stop_s


def test_the_demo_is_short_and_reaches_45_mph_on_the_45_mph_road():
    from keilog.sim.run import Simulation

    sim = Simulation(builtin())
    list(sim.events())
    # 2-4 minutes of driving, with a breach of Florida's 35 mph road limit for mini trucks
    assert 120 <= sim.summary.duration_s <= 240
    fast = [p for p in sim.track if p.speed_mps >= 40 * 0.44704]
    assert len(fast) >= 60  # at least a minute above 40 mph on County Road 234


def test_cli_simulate_writes_outputs_and_prints_a_summary(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "florida_rural",
            "--as-fast-as-possible",
            "--duration",
            "6",
            "--nmea",
            str(tmp_path / "gps.nmea"),
            "--stream",
            str(tmp_path / "can.bin"),
            "--obd-poll",
            "0D,0C",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames_by_id"]["0x0C8"] == 600  # 6 s at 10 ms
    # the scan tool starts when the truck pulls away (4 s): polls at 4 and 5 s
    assert summary["frames_by_id"]["0x7DF"] == 4 and summary["frames_by_id"]["0x7E8"] == 4
    assert summary["nmea_sentences"] == 12  # RMC + GGA at 1 Hz
    assert (tmp_path / "can.bin").stat().st_size == 16 * summary["stream_frames"]
    assert result.stderr == ""


def test_cli_lists_builtins_and_names_bad_keys(tmp_path):
    listed = CliRunner().invoke(cli, ["simulate", "--list"])
    assert "florida_rural" in json.loads(listed.stdout)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "start_utc": "2026-01-01T00:00:00Z", "wheels": 4}))
    result = CliRunner().invoke(cli, ["simulate", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: wheels: unknown key 'wheels'")
    result = CliRunner().invoke(cli, ["simulate", "florida_rural", "--obd-poll", "zz"])
    assert result.exit_code == 2
