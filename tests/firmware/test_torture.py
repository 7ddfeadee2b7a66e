"""Power-cut torture: the logger's promises when the power goes at any moment.

1. A block device cuts the power at its N-th write, for many random N (seeded), on
   littlefs and FAT images (tests/firmware/mp_torture.py): "stop" (the write never
   lands), "tear" (a random prefix of it lands) and "cache" (like an SD card's write
   cache: a random subset of what was not yet synced lands, in any order).
2. SIGKILL of the running firmware (firmware/main.py) at random moments while frames
   stream in: the run contract of docs/firmware-unix.md.

After each cut the next boot mounts, recovers and logs on; the host's reader checks
every frame. A report line per case gives frames sent / recovered / lost within the
flush window / lost beyond it / corrupt.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
from keilog.logformat.reader import read_segment

from tests.conftest import FIRMWARE, TESTS, micropython_path, run_mp
from tests.firmware.fwrun import frame_number, frames, segments, seq_frame

TRIALS = 150
SEED = 1


def check(trial_dir: Path, sent: int, durable: int) -> dict[str, int]:
    """Count one trial's frames: recovered must be 0..R-1 exactly, R >= durable."""
    numbers = []
    corrupt = damaged = 0
    for p in sorted(trial_dir.glob("*.KLG")):
        seg = read_segment(p)
        damaged += len(seg.damage)
        for f in seg.frames:
            i, c = struct.unpack("<II", f.data)
            if c != i ^ 0x5A5A5A5A or f.arbitration_id != 0x100 + i % 0x600:
                corrupt += 1
            else:
                numbers.append(i)
    if numbers != list(range(len(numbers))):  # out of order, duplicated or a gap
        corrupt += len(numbers) - len(set(numbers)) or 1
    r = len(numbers)
    beyond = max(0, durable - r)
    return {
        "sent": sent,
        "recovered": r,
        "lost_within_window": sent - r - beyond,
        "lost_beyond_window": beyond,
        "corrupt": corrupt,
        "damaged_blocks": damaged,
    }


def add(total: dict[str, int], one: dict[str, int]) -> None:
    for k, v in one.items():
        total[k] = total.get(k, 0) + v


@pytest.mark.parametrize("mode", ["stop", "tear", "cache"])
@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_block_device_power_cuts(tmp_path, fs, mode):
    out = run_mp(
        TESTS / "firmware" / "mp_torture.py", fs, mode, str(SEED), str(TRIALS), str(tmp_path)
    )
    # Lines that are not JSON are the cut boots' files being finalised (see FaultDev).
    trials = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    assert len(trials) == TRIALS
    total: dict[str, int] = {"trials": len(trials)}
    for t in trials:
        add(total, check(Path(t["dir"]), t["sent"], t["durable"]))
    print(f"\ntorture {fs}/{mode}: {json.dumps(total)}")
    assert total["corrupt"] == 0
    assert (
        total["recovered"] + total["lost_within_window"] + total["lost_beyond_window"]
        == (total["sent"])
    )
    if (fs, mode) != ("fat", "cache"):
        assert total["lost_beyond_window"] == 0 and total["damaged_blocks"] == 0
    # FAT on a card that reorders its writes can persist a directory entry without the
    # FAT sector that allocates its last cluster; the next boot may reuse that cluster.
    # docs/firmware.md (Storage) says so and recommends littlefs or a hold-up capacitor.


# -- SIGKILL ---------------------------------------------------------------------------

FLUSH_MS = 200
RATE = 2000  # frames/s
KILLS = 3


class Feeder(threading.Thread):
    """Writes numbered frames into the firmware's FIFO at RATE, noting when each went."""

    def __init__(self, fifo: Path, start: int) -> None:
        super().__init__(daemon=True)
        self.fifo, self.next, self.stop = fifo, start, threading.Event()
        self.sent: list[tuple[int, float]] = []  # (frame number, time written)

    def run(self) -> None:
        with open(self.fifo, "wb", buffering=0) as f:
            t0 = time.monotonic()
            while not self.stop.is_set():
                due = t0 + (self.next - self.sent[0][0] if self.sent else 0) / RATE
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                batch = b"".join(seq_frame(self.next + k) for k in range(10))
                try:
                    f.write(batch)
                except BrokenPipeError:
                    return
                now = time.monotonic()
                self.sent.extend((self.next + k, now) for k in range(10))
                self.next += 10


@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_sigkill_loses_only_the_flush_window(tmp_path, fs):
    rng = random.Random(SEED)
    image = tmp_path / "sd.img"
    fifo = tmp_path / "can.fifo"
    os.mkfifo(fifo)
    cfg = {
        "can": {"source": str(fifo), "eof": "wait"},
        "storage": {"image": str(image), "fs": fs, "image_bytes": 8 << 20, "min_free_bytes": 0},
        "flush_ms": FLUSH_MS,
        "counters_s": 3600,
    }
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    env = dict(os.environ, KEILOG_CONFIG=str(tmp_path / "cfg.json"))
    must: list[int] = []  # frames sent more than flush_ms + 100 ms before a kill
    start = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [micropython_path(), str(FIRMWARE / "main.py")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        feeder = Feeder(fifo, start)
        feeder.start()
        time.sleep(rng.uniform(0.4, 1.2))
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        feeder.stop.set()
        feeder.join(5)
        deadline = killed_at - (FLUSH_MS + 100) / 1000
        must += [n for n, t in feeder.sent if t < deadline]
        start = feeder.next
    # A last boot with a source that has ended: recovery, then a clean stop.
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    cfg["can"] = {"source": str(empty)}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    subprocess.run([micropython_path(), str(FIRMWARE / "main.py")], env=env, check=True, timeout=60)
    segs = segments(image, fs, tmp_path / "out")
    assert all(s.damage == [] for s in segs)
    got = [frame_number(f) for f in frames(segs)]
    assert got == sorted(set(got))  # no duplicate, in order
    missing = sorted(set(must) - set(got))
    print(
        f"\nsigkill {fs}: sent {start}, recovered {len(got)}, required {len(must)}, "
        f"lost beyond flush_ms + 100 ms {len(missing)}, corrupt 0"
    )
    assert missing == []
    assert len(must) > 0
