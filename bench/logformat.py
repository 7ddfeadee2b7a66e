"""Log format: size on disk, firmware encode speed, host decode speed.

- logformat_bytes_per_frame: bytes per frame in segments the real firmware wrote for the
  demo drive (kei car, 5 messages at their DBC rates), vs the same frames as candump text
  written by python-can's CanutilsLogWriter.
- logformat_encode_frames_per_s: the firmware's per-frame path under the MicroPython
  unix port (ring -> encoder -> 512-byte blocks -> file), vs python-can's candump writer
  under CPython on the same frames.
- logformat_decode_frames_per_s: keilog's segment reader vs python-can's candump reader.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import can
from keilog import paths
from keilog.decode import dbc
from keilog.demo import builtin_messages
from keilog.logformat.reader import parse
from keilog.unixport import harness

from bench import best_of, entry

ROOT = Path(__file__).resolve().parents[1]


def _candump(messages: list[can.Message], path: Path) -> None:
    with can.CanutilsLogWriter(str(path), channel="can0") as writer:
        for m in messages:
            writer.on_message_received(m)


def _read_candump(path: Path) -> int:
    return sum(1 for _ in can.CanutilsLogReader(str(path)))


def run(quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keicar = dbc.load_databases([paths.keicar_dbc()])
    duration = 10.0 if quick else 120.0
    messages = list(builtin_messages(keicar, duration=duration))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The real firmware, default flush interval (1 s), frames as fast as the bus takes them.
        cfg = harness.firmware_config(work / "can.fifo", work / "storage")
        cfg["flush_ms"] = 1000
        run_ = harness.log_messages(messages, work, config=cfg)
        seg_bytes = sum(p.stat().st_size for p in run_.segments)
        candump = work / "frames.log"
        _candump(messages, candump)
        n = len(messages)
        out["logformat_bytes_per_frame"] = entry(
            seg_bytes / n,
            candump.stat().st_size / n,
            "candump text (python-can CanutilsLogWriter)",
            "bytes/frame",
            False,
            frames=n,
        )

        frames = 20_000 if quick else 300_000
        mp = shutil.which("micropython")
        if mp:
            env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware" / "lib"))
            proc = subprocess.run(
                [mp, str(ROOT / "bench" / "_mp_encode.py"), str(work / "enc"), str(frames)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=600,
            )
            res = json.loads(proc.stdout)
            ref = subprocess.run(
                [
                    mp,
                    str(ROOT / "bench" / "_mp_encode.py"),
                    str(work / "ref"),
                    str(frames),
                    "candump",
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
                timeout=600,
            )
            ref_res = json.loads(ref.stdout)
            out["logformat_encode_frames_per_s"] = entry(
                res["frames"] / (res["us"] / 1e6),
                ref_res["frames"] / (ref_res["us"] / 1e6),
                "candump text lines written by the same MicroPython loop",
                "frames/s",
                True,
                interpreter="micropython unix port",
            )

        # Decode: a large segment (the demo drive repeated) vs candump text of it.
        data = b"".join(p.read_bytes() for p in run_.segments)
        reps = max(1, (50_000 if quick else 500_000) // n)
        big = data * reps
        secs_k, seg = best_of(lambda: parse(big), 3 if quick else 2)
        nframes = len(seg.frames)
        big_log = work / "big.log"
        _candump(messages * reps, big_log)
        secs_r, nref = best_of(lambda: _read_candump(big_log), 1)
        out["logformat_decode_frames_per_s"] = entry(
            nframes / secs_k, nref / secs_r, "python-can candump reader", "frames/s", True
        )
    return out
