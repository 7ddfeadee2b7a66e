"""Fixtures for the sync tests: real segments from the real firmware, the device's
sync service in-process, and the firmware itself on a pty."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIRMWARE, FIRMWARE_LIB, micropython_path

# Frames the firmware logs for the segment fixture: ids and payloads that make every
# frame distinct, so that the database can be compared with them one by one.
N_FRAMES = 3000


def frame_bytes(i: int) -> tuple[int, bytes]:
    return 0x100 + i % 7, struct.pack("<II", i, (i * 2654435761) & 0xFFFFFFFF)


def can_record(can_id: int, data: bytes) -> bytes:
    return struct.pack("<IB3x8s", can_id, len(data), data)


@dataclass
class LoggedRun:
    """Segments the real firmware wrote, and the frames it was sent."""

    folder: Path
    names: list[str]
    frames: list[tuple[int, bytes]]


def firmware_env(cfg_path: Path, device_id: str = "test-unit") -> dict[str, str]:
    return dict(os.environ, KEILOG_CONFIG=str(cfg_path), KEILOG_DEVICE_ID=device_id)


@pytest.fixture(scope="session")
def logged(tmp_path_factory: pytest.TempPathFactory) -> LoggedRun:
    """~48 KB of real segments (several, rotated at 8 KiB) from the real firmware."""
    work = tmp_path_factory.mktemp("logged")
    frames = [frame_bytes(i) for i in range(N_FRAMES)]
    (work / "can.bin").write_bytes(b"".join(can_record(i, d) for i, d in frames))
    cfg = {
        "board": "unix",
        "can": {"source": str(work / "can.bin"), "eof": "exit"},
        "gps": {"enabled": False},
        "storage": {"path": str(work / "storage"), "rotate_bytes": 8192},
        "flush_ms": 100,
    }
    (work / "cfg.json").write_text(json.dumps(cfg))
    subprocess.run(
        [micropython_path(), str(FIRMWARE / "main.py")],
        env=firmware_env(work / "cfg.json"),
        check=True,
        capture_output=True,
        timeout=60,
    )
    names = sorted(p.name for p in (work / "storage").glob("*.KLG"))
    assert len(names) >= 4, names
    return LoggedRun(work / "storage", names, frames)


@pytest.fixture(scope="module")
def fw() -> Iterator[types.SimpleNamespace]:
    """The firmware's sync modules imported under CPython (``micropython.const`` is
    the identity there), removed again afterwards."""
    shim = types.ModuleType("micropython")
    shim.const = lambda x: x  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "micropython", shim)
        mp.syspath_prepend(str(FIRMWARE_LIB))
        from logger import segment, syncdev, syncproto

        yield types.SimpleNamespace(segment=segment, syncdev=syncdev, syncproto=syncproto)
        for name in [n for n in sys.modules if n == "logger" or n.startswith("logger.")]:
            del sys.modules[name]


def device_service(fw: Any, folder: Path, **kw: Any) -> Any:
    """The firmware's SyncService serving the segments in folder (store-only device)."""
    store = fw.segment.SegmentStore(str(folder))
    return fw.syncdev.SyncService(None, store, (b"mem-unit", "unix", (0, 1, 0), 1), **kw)


def copy_segments(run: LoggedRun, dest: Path, names: list[str] | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in run.names if names is None else names:
        shutil.copyfile(run.folder / name, dest / name)
    return dest
