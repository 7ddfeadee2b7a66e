"""The arithmetic of hardware/README.md: sense divider and hold-up capacitor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from keilog.errors import ConfigError
from keilog.hardware import power

README = Path(__file__).resolve().parents[2] / "hardware" / "README.md"
DIVIDER = power.Divider(100_000, 22_000)


def test_divider_ratio_and_full_scale():
    # 22 / (100 + 22) = 0.18033; 3.3 V / 0.18033 = 18.3 V
    assert DIVIDER.ratio == pytest.approx(22 / 122)
    assert DIVIDER.full_scale_v(3.3) == pytest.approx(18.3)


@pytest.mark.parametrize(
    ("volts", "counts12"),
    [
        (9.0, 2014),  # firmware default power.ignition_mv = 9000
        (12.6, 2820),  # rested lead-acid battery
        (13.2, 2954),  # suggested "engine running" threshold
        (14.4, 3222),  # charging
        (18.3, 4095),  # full scale
        (30.0, 4095),  # clipped
        (0.0, 0),
    ],
)
def test_divider_counts(volts, counts12):
    # count = round(V * 22/122 / 3.3 * 4095)
    assert DIVIDER.counts(volts, 3.3, 12) == counts12


def test_divider_round_trip():
    assert DIVIDER.input_v(2954, 3.3, 12) == pytest.approx(13.2, abs=0.005)


def test_divider_filter_and_clamp():
    # 100k || 22k = 18.03 kohm; with 100 nF tau = 1.80 ms
    assert DIVIDER.source_ohm == pytest.approx(18_032.8, rel=1e-4)
    assert DIVIDER.filter_ms(100e-9) == pytest.approx(1.803, rel=1e-3)
    # at the SM8S24A clamping voltage 38.9 V: (38.9 - 3.6)/100k - 3.6/22k = 0.189 mA
    assert DIVIDER.clamp_current_ma(38.9, 3.6) == pytest.approx(0.1894, rel=1e-3)
    assert DIVIDER.clamp_current_ma(14.4, 3.6) == 0.0


def test_rail_budget():
    # 0.20 + 0.05 + 0.01 A at 5 V
    assert power.rail_load_w() == pytest.approx(1.3)


def test_holdup_worked_example_50_ms():
    # E = 1.3 W / 0.85 * (10 + 50) ms = 91.8 mJ; C = 2E / (11^2 - 6^2) / 0.8 = 2.70 mF
    h = power.HoldUp(load_w=1.3)
    assert h.energy_j(50) == pytest.approx(0.09176, rel=1e-3)
    assert h.capacitance_f(50) == pytest.approx(2.699e-3, rel=1e-3)


@pytest.mark.parametrize(
    ("flush_ms", "needed_uf", "chosen_uf", "holds_ms"),
    [(50, 2699, 3300, 73), (200, 9446, 10000, 222)],
)
def test_holdup_table(flush_ms, needed_uf, chosen_uf, holds_ms):
    (row,) = power.holdup_table([flush_ms])
    d = row.as_dict()
    assert (d["capacitance_uf"], d["chosen_uf"], d["ride_through_ms"]) == (
        needed_uf,
        chosen_uf,
        holds_ms,
    )
    assert row.ride_through_ms >= row.hold_ms


@pytest.mark.parametrize(
    ("value", "e6"), [(2699, 3300), (3300, 3300), (9446, 10000), (0.47, 0.47), (101, 150), (1, 1)]
)
def test_next_e6(value, e6):
    assert power.next_e6(value) == pytest.approx(e6)


def test_readme_prints_the_computed_numbers():
    text = README.read_text(encoding="utf-8")
    for row in power.holdup_table([50, 200]):
        d = row.as_dict()
        line = (
            f"| {d['flush_ms']:g} ms | {d['hold_ms']:g} | {d['energy_mj']:g} | "
            f"{d['capacitance_uf']} | {d['chosen_uf']} | {d['ride_through_ms']} |"
        )
        assert line in text
    for volts, counts in [(9.0, 2014), (12.6, 2820), (13.2, 2954), (14.4, 3222)]:
        assert DIVIDER.counts(volts, 3.3, 12) == counts
        assert (
            f"| {DIVIDER.pin_v(volts):.3f} V | {counts} | {round(counts / 4095 * 65535)} |" in text
        )
    assert "to be replaced by the firmware bench figure\n`firmware_flush_ms_max`" in text


def test_flush_ms_from_bench(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"firmware_flush_ms_max": {"keilog": 37.5, "unit": "ms"}}))
    assert power.flush_ms_from_bench(path) == 37.5


@pytest.mark.parametrize(
    "content",
    [
        "{}",
        "[1]",
        '{"firmware_flush_ms_max": {"keilog": true}}',
        '{"firmware_flush_ms_max": 5}',
        "nope",
    ],
)
def test_flush_ms_from_bench_rejects_bad_files(tmp_path, content):
    path = tmp_path / "bench.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="bench"):
        power.flush_ms_from_bench(path)
