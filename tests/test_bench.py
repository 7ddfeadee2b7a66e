"""`python -m bench --json --quick` runs and keeps its documented shape (no timing checks)."""

import json
import subprocess
import sys

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
