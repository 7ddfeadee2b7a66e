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
