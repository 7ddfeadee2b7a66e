"""Helpers for the tests that run the whole firmware (firmware/main.py) on the unix port."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path
from typing import Any

from keilog.logformat.reader import EVENT_NAMES, CanFrame, Event, Record, Segment, read_segment
from keilog.unixport.firmware import extract_image, pack_can_frame

from tests.conftest import FIRMWARE, micropython_path

EV = {name: code for code, name in EVENT_NAMES.items()}


def seq_frame(i: int) -> bytes:
    """Frame number i: id and data carry the number, so a reader can check each one."""
    return pack_can_frame(0x100 + (i % 0x600), struct.pack("<II", i, i ^ 0x5A5A5A5A))


def frame_number(f: CanFrame) -> int:
    i, check = struct.unpack("<II", f.data)
    assert check == i ^ 0x5A5A5A5A and f.arbitration_id == 0x100 + (i % 0x600), f
    return i


def write_frames(path: Path, start: int, count: int) -> Path:
    path.write_bytes(b"".join(seq_frame(i) for i in range(start, start + count)))
    return path


def run(
    tmp_path: Path, cfg: dict[str, Any], name: str = "cfg", timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, KEILOG_CONFIG=str(path), KEILOG_DEVICE_ID="test")
    proc = subprocess.run(
        [micropython_path(), str(FIRMWARE / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"firmware exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def segments(storage: Path, image_fs: str | None = None, dest: Path | None = None) -> list[Segment]:
    """Every segment in a storage directory, or in a storage image (extracted first)."""
    if image_fs is not None:
        dest = dest or storage.with_name(storage.name + ".files")
        extract_image(storage, dest, image_fs)
        storage = dest
    return [read_segment(p) for p in sorted(storage.glob("*.KLG"))]


def records(segs: list[Segment]) -> list[Record]:
    return [r for s in segs for r in s.records]


def events(segs: list[Segment], kind: str) -> list[int]:
    return [r.value for r in records(segs) if isinstance(r, Event) and r.code == EV[kind]]


def frames(segs: list[Segment]) -> list[CanFrame]:
    return [r for r in records(segs) if isinstance(r, CanFrame)]
