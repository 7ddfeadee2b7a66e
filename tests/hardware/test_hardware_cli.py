"""keilog hardware boards / holdup / wiring."""

from __future__ import annotations

import json

from click.testing import CliRunner
from keilog.cli import cli


def test_boards_lists_each_board():
    result = CliRunner().invoke(cli, ["hardware", "boards"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].split("\t")[:4] == [
        "pyboard_v11",
        "recommended",
        "machine.CAN/pyb.CAN",
        "-march=armv7emsp",
    ]
    assert len(lines) == 3


def test_boards_json_is_the_pin_maps():
    result = CliRunner().invoke(cli, ["hardware", "boards", "--json"])
    data = json.loads(result.output)
    assert data["teensy41"]["can"]["tx"]["pin"] == "D22"


def test_holdup_from_bench(tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"firmware_flush_ms_max": {"keilog": 120}}))
    result = CliRunner().invoke(
        cli, ["hardware", "holdup", "--bench", str(bench), "--load-w", "1.0"]
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    # 1.0 W / 0.85 * 0.130 s = 152.9 mJ; C = 2E / 85 / 0.8 = 4498 uF -> 4700 uF
    assert (row["flush_ms"], row["energy_mj"], row["capacitance_uf"], row["chosen_uf"]) == (
        120,
        152.9,
        4498,
        4700,
    )


def test_holdup_bad_bench_is_an_error(tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text("{}")
    result = CliRunner().invoke(cli, ["hardware", "holdup", "--bench", str(bench)])
    assert result.exit_code == 1
    assert "Error:" in result.output and "firmware_flush_ms_max" in result.output
