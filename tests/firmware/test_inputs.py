"""The pulse, analog and switch inputs (firmware/lib/logger/inputs.py) on the unix port:
edges and levels in through the input stream, input records out, heap-locked."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from keilog.logformat.reader import InputFrame, read_segment
from keilog.unixport import inputstream as ins

from tests.conftest import TESTS, run_mp

PPK = 2548  # the config's vss.pulses_per_km default: 4 pulses x 637 rev/km (JIS D 5601)
PPR = 1.5  # tach.pulses_per_rev default: 3 cylinders, 4-stroke


def speed_profile(t: float) -> float:
    """km/h: 20 s at 60, then 20 s at 3 (a crawl: fewer edges than samples), then 100."""
    return 60.0 if t < 20 else 3.0 if t < 40 else 100.0


def stream(duration: float = 60.0) -> bytes:
    events: list[tuple[float, int, int, int]] = []
    for ch, hz_at in (
        (ins.VSS, lambda t: speed_profile(t) / 3.6 / 1000 * PPK),
        (ins.TACH, lambda t: (3000.0 if t < 40 else 6000.0) / 60 * PPR),
    ):
        t, phase = 0.0, 0.0
        while t < duration:  # integrate the frequency in 1 ms steps; an edge per cycle
            phase += hz_at(t) * 0.001
            t += 0.001
            if phase >= 1.0:
                phase -= 1.0
                events.append((t, ins.KIND_EDGE, ch, 0))
    for k in range(int(duration * 10)):
        t = k / 10
        events += [
            (t, ins.KIND_LEVEL, ins.BATTERY, ins.divider_u16(14.0, 100_000, 22_000)),
            (t, ins.KIND_LEVEL, ins.COOLANT, ins.sender_u16(100.0, 1000)),  # table: 80 degC
            (t, ins.KIND_LEVEL, ins.FUEL, ins.sender_u16(50.0, 1000)),  # table: 50 %
            (t, ins.KIND_LEVEL, ins.OIL, 1),  # open: pressure fine
            (t, ins.KIND_LEVEL, ins.BRAKE, 0),  # pulled low: pedal down
        ]
    events.sort(key=lambda e: e[0])
    return ins.pack(events)


def run_inputs(tmp_path: Path, lock: bool) -> tuple[dict, list[InputFrame]]:
    src = tmp_path / "inputs.bin"
    src.write_bytes(stream())
    store = tmp_path / "log"
    store.mkdir()
    out = run_mp(
        TESTS / "firmware" / "mp_inputs.py",
        str(store),
        str(src),
        "lock" if lock else "nolock",
        "20000",
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    recs = [
        r
        for seg in sorted(store.glob("*.KLG"))
        for r in read_segment(seg).records
        if isinstance(r, InputFrame)
    ]
    return res, recs


def values(recs: list[InputFrame], mid: int, fmt: str = "<H") -> list[int]:
    return [struct.unpack_from(fmt, r.data)[0] for r in recs if r.message_id == mid]


def test_every_edge_and_sample_allocates_nothing(tmp_path):
    res, recs = run_inputs(tmp_path, lock=True)
    # the whole stream after the warm-up went through under micropython.heap_lock()
    assert res["records_in_lock"] > 9000 and res["polls"] > 30
    assert res["total"] == len(stream()) // 8
    assert {r.message_id for r in recs} == {0x100, 0x101, 0x110, 0x111, 0x112, 0x120}


def test_speed_rpm_and_senders_read_back_as_fed(tmp_path):
    _res, recs = run_inputs(tmp_path, lock=False)
    kph = [v / 100 for v in values(recs, 0x100)]
    rpm = values(recs, 0x101)
    # each of the three stretches is reached and held within 0.5 % (the stream above
    # puts edges on a 1 ms grid: each period jitters, the average over a sample less)
    for want in (60.0, 3.0, 100.0):
        near = [k for k in kph if abs(k - want) <= want * 0.005]
        assert len(near) >= 20, (want, kph)
    # rpm: 3000, then 6000 from 40 s: within 0.5 % but at the start and the change
    held = [r for r in rpm if abs(r - 3000) <= 15 or abs(r - 6000) <= 30]
    assert len(held) >= len(rpm) - 2 and max(rpm) <= 6030
    assert 14.0 * 0.99 < values(recs, 0x110)[-1] / 1000 < 14.0 * 1.01
    assert values(recs, 0x111, "<h")[-1] == pytest.approx(800, abs=3)  # 0.1 degC
    assert values(recs, 0x112, "<h")[-1] == pytest.approx(500, abs=5)  # 0.1 %
    switches = [r.data[0] | r.data[1] << 8 for r in recs if r.message_id == 0x120]
    assert switches[-1] == 0b10 | 0b111 << 8  # brake on; oil, brake, lights wired


@pytest.mark.parametrize(
    ("k", "d_us", "mhz"),
    [
        (1, 1_000_000, 1000),  # one period of 1 s: 1 Hz
        (3, 1_000_000, 3000),
        (1, 23_548, 42_466),  # 60 km/h at 2548 pulses/km: 42.466 Hz
        (1, 1, 2_000_000),  # above 2 kHz: capped
        (400, 1_999_999, 200_000),
    ],
)
def test_frequency_arithmetic_stays_in_small_ints(k, d_us, mhz):
    script = TESTS / "firmware" / "mp_ratio.py"
    out = run_mp(script, str(k), str(d_us))
    assert int(out.stdout.split()[0]) == mhz


def test_a_stopped_wheel_reads_zero_within_two_seconds(tmp_path):
    # 60 km/h for 5 s, then the truck stands: no edge, only the stream's clock ticking
    # on (as a board's ticks_us would). The speed decays (at most one edge in the time
    # waited) and reads 0 once 2 s pass without an edge.
    # (the clock ticks every ms; a poll of the test reads 64 records: about 60 ms)
    period = 1 / (60 / 3.6 / 1000 * PPK)
    events = [(k * period, ins.KIND_EDGE, ins.VSS, 0) for k in range(1, int(5 / period))]
    events += [(k / 1000, ins.KIND_CLOCK, 0, 0) for k in range(10_000)]
    events.sort(key=lambda e: e[0])
    src = tmp_path / "inputs.bin"
    src.write_bytes(ins.pack(events))
    store = tmp_path / "log"
    store.mkdir()
    run_mp(TESTS / "firmware" / "mp_inputs.py", str(store), str(src), "lock", "20000")
    recs = [r for seg in sorted(store.glob("*.KLG")) for r in read_segment(seg).records]
    kph = [v / 100 for v in values([r for r in recs if isinstance(r, InputFrame)], 0x100)]
    moving = kph.index(next(k for k in kph if abs(k - 60) < 0.3))
    stopped = kph.index(0.0, moving)
    held = [k for k in kph[moving:stopped] if abs(k - 60) < 0.3]
    assert len(held) >= 50  # about 5 s of samples at 60 km/h
    # after the last edge the reading only falls, and is 0 within 2 s (some 33 polls)
    decay = kph[moving + len(held) : stopped]
    assert decay == sorted(decay, reverse=True) and len(decay) <= 36
    assert kph[stopped:] == [0.0] * (len(kph) - stopped) and len(kph) - stopped > 20
