"""keilog calibrate: pulses per km from steady driving against GPS."""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.errors import StoreError
from keilog.store.calibrate import calibrate_vss

TRUE_PPK = 2650.0  # the truck's sensor: 4 % above 4 x 637 (JIS D 5601)
CONFIGURED_PPK = 2548


def speed_mps(t: float) -> float:
    """Accelerate to 60 km/h, hold 60 s, speed up to 80 km/h, hold 60 s, stop."""
    if t < 20:
        return t / 20 * 60 / 3.6
    if t < 80:
        return 60 / 3.6
    if t < 90:
        return (60 + (t - 80) * 2) / 3.6
    if t < 150:
        return 80 / 3.6
    return max(0.0, (80 - (t - 150) * 8) / 3.6)


def make_db(path: Path, seconds: float = 170.0, gps_ok: bool = True) -> Path:
    """The two tables calibrate reads, as keilog import writes them: GPS fixes at 1 Hz
    (speed noise 0.05 m/s, as a u-blox M8 states 0.05 m/s speed accuracy) and VSS
    samples at 10 Hz (frequency from the true pulses per km, speed at the configured)."""
    rng = random.Random(3)
    db = sqlite3.connect(path)
    db.execute(
        "create table gps_fixes (device_id text, boot int, mono_us int, timestamp real, "
        "speed_mps real, quality int, hdop real)"
    )
    db.execute(
        "create table msg_INPUT_VSS (frame_id integer primary key, timestamp real, "
        "device_id text, boot int, mono_us int, VSS_SPEED_KPH real, VSS_HZ real, "
        "VSS_PULSES int)"
    )
    t0 = 1_780_000_000.0
    for k in range(int(seconds)):
        v = speed_mps(k) + rng.gauss(0, 0.05)
        q = 1 if gps_ok else 0
        db.execute(
            "insert into gps_fixes values ('kei', 1, ?, ?, ?, ?, 0.9)",
            (k * 1_000_000, t0 + k, v, q),
        )
    for k in range(int(seconds * 10)):
        t = k / 10
        hz = speed_mps(t) * 3.6 / 3600 * TRUE_PPK
        kph = hz * 3600 / CONFIGURED_PPK
        db.execute(
            "insert into msg_INPUT_VSS (timestamp, device_id, boot, mono_us, VSS_SPEED_KPH, "
            "VSS_HZ, VSS_PULSES) values (?, 'kei', 1, ?, ?, ?, 0)",
            (t0 + t, k * 100_000, round(kph, 2), round(hz, 3)),
        )
    db.commit()
    db.close()
    return path


def test_fits_pulses_per_km_and_the_speedometer_error(tmp_path):
    cal = calibrate_vss(make_db(tmp_path / "k.db"))
    assert cal.pulses_per_km == pytest.approx(TRUE_PPK, rel=0.003)
    assert cal.configured_pulses_per_km == CONFIGURED_PPK
    assert cal.vss_reads_high_percent == pytest.approx(
        (TRUE_PPK / CONFIGURED_PPK - 1) * 100, abs=0.3
    )
    assert cal.pulses_per_rev == 4
    assert cal.speedometer_reads_high_percent == pytest.approx(4.0, abs=0.3)
    # the two holds at 60 and 80 km/h; the ramps and the stop are not steady
    assert cal.stretches == 2 and 100 <= cal.samples <= 122


def test_without_steady_driving_with_gps_it_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="steady speed"):
        calibrate_vss(make_db(tmp_path / "k.db", gps_ok=False))


def test_a_database_without_vss_samples_is_refused(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).execute("create table gps_fixes (x)").connection.close()
    with pytest.raises(StoreError, match=r"wire vss\.pin"):
        calibrate_vss(path)


def test_cli_writes_the_fit_into_the_config(tmp_path):
    db = make_db(tmp_path / "k.db")
    cfg = tmp_path / "config.json"
    cfg.write_text('{"board": "pyboard_v11", "vss": {"pin": "Y7"}}')
    res = CliRunner().invoke(cli, ["calibrate", "--db", str(db), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "speedometer: 4.0" in res.output
    import json

    written = json.loads(cfg.read_text())
    assert written["vss"] == {"pin": "Y7", "pulses_per_km": pytest.approx(TRUE_PPK, rel=0.003)}
    assert not math.isnan(written["vss"]["pulses_per_km"])


def test_cli_push_needs_a_config(tmp_path):
    db = make_db(tmp_path / "k.db")
    res = CliRunner().invoke(cli, ["calibrate", "--db", str(db), "--push", "auto"])
    assert res.exit_code == 2 and "--push needs --config" in res.output
