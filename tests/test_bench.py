"""`python -m bench --json --quick` runs and keeps its documented shape (no timing checks)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

KEYS = {"keilog", "reference", "reference_name", "unit", "ratio"}


def test_bench_quick_json_has_the_documented_shape():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert {
        "logformat_bytes_per_frame",
        "logformat_encode_frames_per_s",
        "logformat_decode_frames_per_s",
    } <= set(results)
    for name, e in results.items():
        area, _, figure = name.partition("_")
        assert area and figure, name
        assert set(e) >= KEYS, name
        # keilog may be 0 where 0 is the goal (firmware_heap_bytes_per_frame)
        assert e["keilog"] >= 0 and e["reference"] > 0, name


def test_bench_decode_has_cantools_and_asammdf_references_on_the_same_frames():
    pytest.importorskip("asammdf")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--json", "--quick", "--only", "decode"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    cantools, asammdf = results["decode_frames_per_s"], results["decode_frames_per_s_asammdf"]
    assert cantools["keilog"] == asammdf["keilog"]  # one keilog run, two references
    assert cantools["cantools_decoded_frames"] == cantools["frames"] == 20_000
    # asammdf decoded every frame too: as many signal values as keilog
    assert asammdf["asammdf_signal_values"] == asammdf["signal_values"] > 0
    for e in (cantools, asammdf):
        assert e["floor_frames_per_s"] > 0 and e["floor_name"]
