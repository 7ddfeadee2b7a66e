"""Device config: validated at boot; bad values fall back to safe defaults, never a crash."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TESTS, run_mp


def load(tmp_path, text: str) -> dict:
    path = tmp_path / "config.json"
    path.write_text(text)
    return json.loads(run_mp(TESTS / "firmware" / "mp_config.py", str(path)).stdout)


def test_no_file_gives_the_defaults(tmp_path):
    out = json.loads(run_mp(TESTS / "firmware" / "mp_config.py", str(tmp_path / "none")).stdout)
    assert out["errors"] == []
    cfg = out["config"]
    assert (cfg["can.mode"], cfg["can.bitrate"], cfg["can.filters"]) == ("silent", 500000, [])
    assert (cfg["flush_ms"], cfg["gps.enabled"], cfg["obd.enabled"]) == (1000, True, False)


def test_nested_sections_set_values(tmp_path):
    out = load(tmp_path, '{"can": {"bitrate": 250000, "mode": "normal"}, "flush_ms": 500}')
    assert out["errors"] == []
    assert (out["config"]["can.bitrate"], out["config"]["can.mode"]) == (250000, "normal")
    assert out["config"]["flush_ms"] == 500


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '{"can": {"bitrate": 300000}}',
            "can.bitrate must be one of 125000, 250000, 500000, 1000000",
        ),
        ('{"flush_ms": 5}', "flush_ms must be between 50 and 60000, got 5"),
        ('{"can": {"mode": true}}', "can.mode must be str, got True"),
        ('{"cann": {"bitrate": 250000}}', "unknown key cann.bitrate"),
        ('{"can": ', "config.json is not valid JSON"),
        ("[1, 2]", "config must be a JSON object"),
    ],
)
def test_bad_config_names_the_problem_and_falls_back_to_safe(tmp_path, text, error):
    out = load(tmp_path, text)
    assert any(error in e for e in out["errors"]), out["errors"]
    cfg = out["config"]
    assert (cfg["can.mode"], cfg["can.filters"], cfg["gps.enabled"]) == ("silent", [], True)


def test_good_keys_survive_next_to_a_bad_one(tmp_path):
    out = load(tmp_path, '{"storage": {"path": "/tmp/x"}, "can": {"mode": "normal", "ring": 1}}')
    assert out["config"]["storage.path"] == "/tmp/x"
    assert out["config"]["can.mode"] == "silent"  # safe mode forced on any error
    assert out["config"]["can.ring"] == 256


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"can": {"filters": [[2048, 2047]]}}', "id and mask must be integers 0..0x7FF"),
        ('{"can": {"filters": [[1, 2, "yes"]]}}', "must be true or false"),
        ('{"can": {"filters": [[1]]}}', "entries must be [id, mask] or [id, mask, extended]"),
        ('{"obd": {"pids": [13, 256]}}', "obd.pids entries must be integers 0..255"),
        ('{"obd": {"pids": []}}', "obd.pids must list 1 to 32 PIDs"),
        ('{"device": {"id": "a very long device name"}}', "device.id must be 1 to 16"),
        ('{"device": {"id": ".."}}', "device.id must be 1 to 16 letters"),
        ('{"device": {"id": "a/b"}}', "device.id must be 1 to 16 letters"),
        ('{"device": {"id": ""}}', "device.id must be 1 to 16 letters"),
        ('{"storage": {"fs": "ntfs"}}', "storage.fs must be one of lfs2, fat"),
        ('{"can": {"driver": "socketcan"}}', "can.driver must be one of auto, machine, pyb"),
    ],
)
def test_every_new_key_is_validated(tmp_path, text, error):
    out = load(tmp_path, text)
    assert any(error in e for e in out["errors"]), out["errors"]


def test_a_bad_config_turns_obd_polling_off(tmp_path):
    # Safe means listen-only: never transmit on a car's bus because of a typo.
    out = load(tmp_path, '{"obd": {"enabled": true}, "flush_ms": 1}')
    assert out["config"]["obd.enabled"] is False
    assert out["config"]["can.mode"] == "silent"


def test_a_29_bit_filter_and_obd_settings_are_accepted(tmp_path):
    text = (
        '{"can": {"filters": [[256, 2047], [418381824, 536870656, true]]},'
        ' "obd": {"enabled": true, "pids": [13, 12], "interval_ms": 500}}'
    )
    out = load(tmp_path, text)
    assert out["errors"] == []
    assert out["config"]["can.filters"] == [[256, 2047], [418381824, 536870656, True]]
    assert out["config"]["obd.pids"] == [13, 12]


def test_a_bad_config_is_logged_and_the_logger_runs_safe(tmp_path):
    # docs: a bad config logs a clear error record, blinks the error pattern and falls
    # back to safe defaults instead of crashing.
    from tests.firmware.fwrun import events, frame_number, frames, run, segments, write_frames

    src = write_frames(tmp_path / "f.bin", 0, 100)
    cfg = {
        "can": {"source": str(src), "bitrate": 300000},
        "obd": {"enabled": True},
        "flush_ms": 5,
        "storage": {"path": str(tmp_path / "log")},
    }
    proc = run(tmp_path, cfg)
    assert "config error: can.bitrate must be one of 125000, 250000, 500000" in proc.stderr
    assert "config error: flush_ms must be between 50 and 60000, got 5" in proc.stderr
    segs = segments(tmp_path / "log")
    assert events(segs, "config_error") == [1, 2]
    assert [frame_number(f) for f in frames(segs)] == list(range(100))
    assert not [f for f in frames(segs) if f.arbitration_id == 0x7DF]  # no OBD request


def test_every_key_is_documented():
    # docs/firmware.md has the config table; a key missing there is a key nobody finds.
    import importlib.util

    from tests.conftest import FIRMWARE, ROOT

    spec = importlib.util.spec_from_file_location("cfg", FIRMWARE / "lib" / "logger" / "config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (ROOT / "docs" / "firmware.md").read_text()
    assert [k for k in module.SCHEMA if f"`{k}`" not in doc] == []
