"""keilog export --signals and keilog plot: decoded signals with their units, per trip or
time window, as CSV, MF4 (read back with asammdf), PNG and SVG."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import can
import cantools
import pytest
from asammdf import MDF
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.decode import load_database
from keilog.export import ExportError
from keilog.export.plot import plot_signals
from keilog.paths import keicar_dbc

T0 = 1_780_322_400.0  # 2026-06-01T14:00:00Z
DB = cantools.database.load_file(str(keicar_dbc()))


@pytest.fixture(scope="module")
def signals_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 s of a kei car: VEHICLE_SPEED every 0.1 s ramping 0..49 km/h, ENGINE_STATUS at
    +0.05 s ramping 1000..1490 rpm; decoded with dbc/keicar.dbc on import (one trip)."""
    folder = tmp_path_factory.mktemp("signals")
    speed = DB.get_message_by_name("VEHICLE_SPEED")
    engine = DB.get_message_by_name("ENGINE_STATUS")
    log = folder / "drive.log"
    with can.Logger(str(log)) as writer:
        for i in range(50):
            speed_values = {"VEHICLE_SPEED": float(i), "WHEEL_SPEED_FL": 0, "WHEEL_SPEED_FR": 0,
                            "ACCEL_LONG": 0, "COUNTER": i % 16}  # fmt: skip
            engine_values = {"ENGINE_RPM": 1000 + 10 * i, "THROTTLE_POS": 0, "ENGINE_LOAD": 0,
                             "ENGINE_RUNNING": 1, "COUNTER": i % 16}  # fmt: skip
            for t, msg, values in (
                (T0 + 0.1 * i, speed, speed_values),
                (T0 + 0.1 * i + 0.05, engine, engine_values),
            ):
                writer.on_message_received(
                    can.Message(timestamp=t, arbitration_id=msg.frame_id, is_extended_id=False,
                                data=msg.encode(values))
                )  # fmt: skip
    db_path = folder / "t.db"
    store.import_files(db_path, [log], load_database(keicar_dbc()))
    return db_path


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_mf4_reads_back_in_asammdf_with_names_units_and_physical_values(signals_db, tmp_path):
    out = tmp_path / "trip1.mf4"
    result = _run("export", "--db", str(signals_db), "--trip", "1", "--to", str(out),
                  "--signals", "VEHICLE_SPEED,ENGINE_RPM,COUNTER", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["samples"] == 200
    with MDF(out) as mdf:
        speed = mdf.get("VEHICLE_SPEED")
        rpm = mdf.get("ENGINE_RPM")
        counter = mdf.get("ENGINE_STATUS.COUNTER")  # COUNTER is in both messages
        assert mdf.header.start_time.timestamp() == T0
    assert (speed.unit, rpm.unit) == ("km/h", "rpm")
    assert speed.samples.tolist() == [float(i) for i in range(50)]
    assert rpm.samples.tolist() == [1000.0 + 10 * i for i in range(50)]
    assert counter.samples.tolist()[:17] == [*range(16), 0]
    assert speed.timestamps.tolist() == pytest.approx([0.1 * i for i in range(50)], abs=1e-6)
    assert rpm.timestamps[0] == pytest.approx(0.05, abs=1e-6)


def test_csv_is_one_row_per_sample_in_time_order_within_the_window(signals_db, tmp_path):
    out = tmp_path / "w.csv"
    result = _run("export", "--db", str(signals_db), "--to", str(out), "--signals",
                  "VEHICLE_SPEED.VEHICLE_SPEED,ENGINE_RPM", "--from", "2026-06-01T14:00:01",
                  "--until", str(T0 + 1.2))  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["timestamp", "message", "signal", "value", "unit"]
    assert rows[1:] == [
        ["1780322401.000000", "VEHICLE_SPEED", "VEHICLE_SPEED", "10", "km/h"],
        ["1780322401.050000", "ENGINE_STATUS", "ENGINE_RPM", "1100", "rpm"],
        ["1780322401.100000", "VEHICLE_SPEED", "VEHICLE_SPEED", "11", "km/h"],
        ["1780322401.150000", "ENGINE_STATUS", "ENGINE_RPM", "1110", "rpm"],
        ["1780322401.200000", "VEHICLE_SPEED", "VEHICLE_SPEED", "12", "km/h"],
    ]
    assert result.stderr == f"{out}: 2 signal(s), 5 samples\n"


def test_all_signals(signals_db, tmp_path):
    out = tmp_path / "all.mf4"
    result = _run("export", "--db", str(signals_db), "--to", str(out), "--signals", "all", "-q")
    assert result.exit_code == 0, result.output
    with MDF(out) as mdf:
        names = {ch.name for group in mdf.groups for ch in group.channels} - {"time"}
    assert "ENGINE_RPM" in names and "WHEEL_SPEED_FL" in names
    assert {"ENGINE_STATUS.COUNTER", "VEHICLE_SPEED.COUNTER"} <= names


def test_an_unknown_signal_is_one_error_line_with_suggestions(signals_db, tmp_path):
    out = tmp_path / "x.csv"
    result = _run("export", "--db", str(signals_db), "--to", str(out), "--signals", "SPEED")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no decoded signal SPEED in the database; did you mean VEHICLE_SPEED.VEHICLE_SPEED,"
        " VEHICLE_SPEED.WHEEL_SPEED_FL, VEHICLE_SPEED.WHEEL_SPEED_FR? (keilog dbc FILE lists a "
        "DBC's signals)\n"
    )
    assert not out.exists()


def test_signals_go_to_csv_or_mf4_only(signals_db, tmp_path):
    result = _run("export", "--db", str(signals_db), "--to", str(tmp_path / "x.blf"),
                  "--signals", "all")  # fmt: skip
    assert result.exit_code == 1
    assert "signals export to .csv or .mf4" in result.output


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_a_chart(signals_db, tmp_path, suffix):
    out = tmp_path / f"trip1{suffix}"
    result = _run("plot", "VEHICLE_SPEED", "ENGINE_RPM", "--db", str(signals_db), "--trip", "1",
                  "--to", str(out), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["signals"] == [
        {"name": "VEHICLE_SPEED.VEHICLE_SPEED", "unit": "km/h", "samples": 50},
        {"name": "ENGINE_STATUS.ENGINE_RPM", "unit": "rpm", "samples": 50},
    ]
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        text = data.decode()
        assert "<svg" in text
        # matplotlib draws text as paths, with each label in a comment before it
        assert "<!-- VEHICLE_SPEED [km/h] -->" in text
        assert "<!-- ENGINE_RPM [rpm] -->" in text
        assert "<!-- Trip 1, from 2026-06-01 14:00:00 UTC -->" in text


def test_plot_of_an_empty_window_says_so(signals_db, tmp_path):
    out = tmp_path / "empty.png"
    result = _run("plot", "VEHICLE_SPEED", "--db", str(signals_db), "--from", str(T0 + 3600),
                  "--to", str(out))  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("Error: VEHICLE_SPEED: no samples in the database in the")
    assert not out.exists()


def test_plot_without_matplotlib_says_how_to_install_it(signals_db, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    db = store.open_db(signals_db)
    with pytest.raises(ExportError, match=r"pip install 'keilog\[plot\]'"):
        plot_signals(db, tmp_path / "p.png", ["VEHICLE_SPEED"])
