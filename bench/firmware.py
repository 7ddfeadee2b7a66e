"""Firmware: the logger's main loop on the MicroPython unix port.

The firmware's own loop (``build.logger`` and ``Logger.step``, as ``firmware/main.py``
runs them) moves a prefilled file of SocketCAN frames (8-byte 11-bit frames, as on a
saturated bus) through the unix stream source, the receive ring and the block encoder
into segments on a littlefs image (bench/_mp_firmware.py), timed on the interpreter's
own clock.

- firmware_frames_per_s: frames/s of that loop, vs 9,009 frames/s: a saturated
  1 Mbit/s bus of 8-byte standard frames (111 bits each, stuff bits aside).
- firmware_heap_bytes_per_frame: garbage the loop leaves per frame (``gc.mem_alloc()``
  growth with the collector off, over the second half of the run), vs the same
  interpreter writing a candump text line per frame. 0 means no collection is ever
  needed; ``churn_bytes_per_frame`` says how much MicroPython allocates and frees at
  once for call frames too big for its C stack (none inside ``@micropython.native``).
- firmware_bytes_per_frame: bytes the filesystem gave the segments per frame
  (``os.statvfs`` before and after), vs candump text of the same frames
  (python-can's CanutilsLogWriter).
- firmware_flush_ms_max: the longest flush (seal the block, write it, sync the file)
  the firmware measured, vs the receive ring's headroom at a saturated bus: can.ring
  256 / 9,009 frames/s = 28.4 ms. On a board an SD card write can take 100-250 ms
  (MicroPython issue #4166): this figure is the image file in this computer's page
  cache, not a card.
- firmware_instructions_per_frame: x86-64 instructions the interpreter executes per
  frame of that loop, counted by ``valgrind --tool=callgrind`` (two runs of different
  length, difference / frames, so start-up cancels), vs the cycles a 168 MHz
  Cortex-M4 (the Pyboard's STM32F405) has per frame at 9,009 frames/s: 18,648.
  Instruction counts do not depend on this machine's speed or load; Thumb-2 and
  x86-64 counts differ, so read the ratio as an estimate of the board's headroom.
- firmware_heap_in_use_bytes: heap keilog holds on a 32-bit MicroPython (the
  WebAssembly port from npm, tests/firmware/wasm) once it is installed as deploy
  installs it (.mpy for a Pyboard v1.1, its default config) and started as main.py
  starts it, with a segment open and written (``gc.mem_alloc()``, MicroPython's own
  modules not counted), vs the ~101.5 KB a Pyboard v1.1 has free after boot.
  ``built`` is the figure right after build.logger(); ``goal`` is keilog's (70 KB).
- firmware_pulses_per_s: edges/s the pulse inputs' path sustains on the unix port:
  the input stream (bench/_mp_inputs.py: VSS and tach edges) through
  ``InputFeed.pump`` and ``Pulse.edge``, sampled at 50 Hz into input records and
  blocks, vs the fastest real need: a tach at 9,000 rpm with 1.5 pulses per
  revolution (a 3-cylinder 4-stroke) = 225 pulses/s. ``edge_handler_per_s`` is
  ``Pulse.edge`` alone, what a board's pin interrupt runs.
- firmware_heap_bytes_per_pulse: garbage per pulse of that path (``gc.mem_alloc()``
  growth with the collector off over the second half), vs the same interpreter
  keeping each edge's time in a list.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import can

from bench import entry

ROOT = Path(__file__).resolve().parents[1]
TACH_9000_RPM_HZ = 9000 / 60 * 1.5  # 225 pulses/s: 3-cylinder 4-stroke, 1.5 per revolution
SATURATED_FPS = 1_000_000 / 111  # 9,009 frames/s: 8-byte standard frames at 1 Mbit/s
RING = 256  # can.ring default
PYBOARD_HZ = 168_000_000  # STM32F405 (hardware/boards/pyboard_v11.json, mcu.clock_hz)


def _frames(path: Path, n: int) -> list[can.Message]:
    from keilog.unixport.firmware import pack_can_frame

    msgs = [
        can.Message(
            timestamp=i / SATURATED_FPS,
            arbitration_id=0x100 + (i % 0x400),
            data=(i % 2**32).to_bytes(4, "little") + b"\x5a\xa5\x0f\xf0",
            is_extended_id=False,
        )
        for i in range(n)
    ]
    path.write_bytes(b"".join(pack_can_frame(m.arbitration_id, m.data) for m in msgs))
    return msgs


def _mp(*args: str, prefix: list[str] | None = None) -> dict[str, Any]:
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware" / "lib"))
    proc = subprocess.run(
        [*(prefix or []), *_micropython(), str(ROOT / "bench" / "_mp_firmware.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=True,
    )
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    m = re.search(r"Collected : (\d+)", proc.stderr)
    if m:
        out["instructions"] = int(m[1])
    return out


def _micropython() -> list[str]:
    found = shutil.which("micropython")
    assert found, "the firmware bench needs the micropython unix port"
    # The pip-installed `micropython` is a Python script around the interpreter: under
    # valgrind, run it with the real Python binary so that the interpreter is traced.
    with open(found, "rb") as f:
        if f.read(2) == b"#!":
            return [sys.executable, found]
    return [found]


def _instructions(work: Path, small: int, large: int) -> float | None:
    valgrind = shutil.which("valgrind")
    if not valgrind:
        return None
    counts = []
    for n in (small, large):
        src = work / f"cg{n}.bin"
        _frames(src, n)
        image = work / f"cg{n}.img"
        out = _mp(
            str(src),
            str(image),
            "lfs2",
            str(1 << 29),
            prefix=[valgrind, "--tool=callgrind", f"--callgrind-out-file={work / 'cg.out'}"],
        )
        counts.append(out["instructions"])
    return (counts[1] - counts[0]) / (large - small)


def _heap(work: Path) -> dict[str, Any] | None:
    from tests.firmware.wasm32 import HEAP_GOAL, PACKAGE, PYBOARD_FREE_HEAP, WASM, install_set

    node = shutil.which("node")
    if not node or not (PACKAGE / "micropython.mjs").exists():
        return None  # npm ci --prefix tests/firmware/wasm installs the port
    device = install_set(work / "wasm-set")
    src = work / "wasm-frames.bin"
    _frames(src, 2000)
    put = [f"{device / 'lib'}=/lib", f"{device / 'config.json'}=/set/config.json"]
    put.append(f"{src}=/feed/can")
    cmd = [node, str(WASM / "run.mjs")]
    for p in put:
        cmd += ["--put", p]
    cmd += [str(WASM / "mp32_logger.py"), "/set/config.json", "/feed/can", "-", "nolock"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return entry(
        res["logging"],
        PYBOARD_FREE_HEAP,
        "heap a Pyboard v1.1 has free after boot",
        "bytes",
        False,
        interpreter="MicroPython WebAssembly port (32-bit), firmware as .mpy",
        built=res["built"],
        goal=HEAP_GOAL,
    )


def _mp_inputs(*args: str) -> dict[str, Any]:
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware" / "lib"))
    proc = subprocess.run(
        [*_micropython(), str(ROOT / "bench" / "_mp_inputs.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _pulses(work: Path, n: int) -> dict[str, Any]:
    from keilog.unixport import inputstream as ins

    # VSS and tach edges interleaved, 1 ms and 3 ms apart on the stream's clock
    src = work / "edges.bin"
    t = 0.0
    events = []
    for i in range(n):
        t += 0.001 if i % 2 else 0.003
        events.append((t, ins.KIND_EDGE, i & 1, 0))
    src.write_bytes(ins.pack(events))
    storage = work / "inputs"
    storage.mkdir()
    res = _mp_inputs(str(src), str(storage), str(n))
    assert res["pulses"] > n * 0.99, res
    alone = _mp_inputs("edges", str(n))
    ref = _mp_inputs("list", str(min(n, 100_000)))
    ref_per_pulse = ref["heap_bytes"] / ref["pulses"]
    per_pulse = res["garbage_bytes"] / res["garbage_pulses"]
    heap = entry(
        per_pulse,
        ref_per_pulse,
        "edge times kept in a list by the same MicroPython interpreter",
        "bytes/pulse",
        False,
        pulses=res["garbage_pulses"],
    )
    if per_pulse == 0:  # nothing in that many pulses: the ratio is the bound it gives
        heap["ratio"] = round(ref_per_pulse * res["garbage_pulses"], 3)
    return {
        "firmware_pulses_per_s": entry(
            res["pulses"] / (res["us"] / 1e6),
            TACH_9000_RPM_HZ,
            "a tach at 9,000 rpm, 1.5 pulses per revolution (3-cylinder 4-stroke)",
            "pulses/s",
            True,
            interpreter="micropython unix port",
            path="input stream -> InputFeed.pump -> Pulse.edge, sampled at 50 Hz",
            edge_handler_per_s=round(alone["pulses"] / (alone["us"] / 1e6)),
            pulses=res["pulses"],
        ),
        "firmware_heap_bytes_per_pulse": heap,
    }


def run(quick: bool = False) -> dict[str, Any]:
    n = 20_000 if quick else 200_000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="keilog-bench-firmware-") as tmp:
        work = Path(tmp)
        src = work / "frames.bin"
        msgs = _frames(src, n)
        res = _mp(str(src), str(work / "sd.img"), "lfs2", str(n))
        assert res["total_frames"] == n and res["dropped"] == 0, res
        fps = res["frames"] / (res["us"] / 1e6)
        out["firmware_frames_per_s"] = entry(
            fps,
            SATURATED_FPS,
            "a saturated 1 Mbit/s bus of 8-byte standard frames (111 bits each)",
            "frames/s",
            True,
            interpreter="micropython unix port",
            storage="littlefs on an image file",
            frames=res["frames"],
        )
        ref = _mp("candump", str(n), str(work / "candump.log"))
        per_frame = res["garbage_bytes"] / res["garbage_frames"]
        ref_per_frame = ref["garbage_bytes"] / ref["frames"]
        heap = entry(
            per_frame,
            ref_per_frame,
            "candump text lines written by the same MicroPython interpreter",
            "bytes/frame",
            False,
            frames=res["garbage_frames"],
            churn_bytes_per_frame=round(res["churn_bytes"] / res["frames"], 2),
        )
        if per_frame == 0:
            # Nothing in garbage_frames frames: less than 1/frames bytes a frame. The
            # ratio is the lower bound that gives.
            heap["ratio"] = round(ref_per_frame * res["garbage_frames"], 3)
        out["firmware_heap_bytes_per_frame"] = heap
        candump = work / "frames.log"
        with can.CanutilsLogWriter(str(candump), channel="can0") as writer:
            for m in msgs:
                writer.on_message_received(m)
        out["firmware_bytes_per_frame"] = entry(
            res["disk_bytes"] / n,
            candump.stat().st_size / n,
            "candump text (python-can CanutilsLogWriter)",
            "bytes/frame",
            False,
            segment_bytes_per_frame=round(res["segment_bytes"] / n, 3),
        )
        out["firmware_flush_ms_max"] = entry(
            res["flush_us_max"] / 1000,
            1000 * RING / SATURATED_FPS,
            "receive-ring headroom at a saturated 1 Mbit/s bus (can.ring 256 / 9,009 frames/s)",
            "ms",
            False,
            medium="image file in the host's page cache (an SD card is slower)",
        )
        out.update(_pulses(work, 100_000 if quick else 400_000))
        heap = _heap(work)
        if heap is not None:
            out["firmware_heap_in_use_bytes"] = heap
        ipf = _instructions(work, *((500, 1500) if quick else (2000, 6000)))
        if ipf is not None:
            out["firmware_instructions_per_frame"] = entry(
                ipf,
                PYBOARD_HZ / SATURATED_FPS,
                "cycles per frame of a 168 MHz Cortex-M4 (Pyboard) at 9,009 frames/s",
                "instructions/frame",
                False,
                counter="valgrind --tool=callgrind, x86-64",
            )
    return out
