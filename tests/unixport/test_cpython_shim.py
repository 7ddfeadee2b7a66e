"""The demo's fallback: the same firmware under CPython through keilog.unixport.cpython_shim.

The firmware tests use the real MicroPython binary; this checks only that the shim runs
the unchanged firmware and gives the same log content as the real interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from keilog.logformat.reader import read_segment
from keilog.unixport.firmware import pack_can_frame

from tests.conftest import FIRMWARE, micropython_path


def run_firmware(argv: list[str], tmp_path, name: str) -> list:
    frames = tmp_path / "frames.bin"
    frames.write_bytes(
        b"".join(
            pack_can_frame(0x1D0 + (i % 3), bytes([i & 255] * (i % 9)), is_extended_id=i % 5 == 0)
            for i in range(500)
        )
    )
    cfg = tmp_path / f"{name}.json"
    cfg.write_text(
        json.dumps({"can": {"source": str(frames)}, "storage": {"path": str(tmp_path / name)}})
    )
    env = dict(os.environ, KEILOG_CONFIG=str(cfg))
    subprocess.run(
        [*argv, str(FIRMWARE / "main.py")], env=env, check=True, timeout=60, capture_output=True
    )
    [seg] = sorted((tmp_path / name).glob("*.KLG"))
    return [(f.arbitration_id, f.is_extended_id, f.data) for f in read_segment(seg).frames]


def test_shim_logs_what_the_real_interpreter_logs(tmp_path):
    real = run_firmware([micropython_path()], tmp_path, "real")
    shim = run_firmware([sys.executable, "-m", "keilog.unixport.cpython_shim"], tmp_path, "shim")
    assert len(real) == 500
    assert shim == real
