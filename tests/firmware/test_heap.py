"""The firmware's per-frame path allocates nothing (micropython.heap_lock)."""

import json

from tests.conftest import TESTS, run_mp


def test_per_frame_path_runs_with_the_heap_locked(tmp_path):
    # 5,000 frames: enough to fill and write ~170 blocks inside the lock. Any
    # allocation under heap_lock() raises MemoryError and the script exits non-zero.
    out = run_mp(TESTS / "firmware" / "mp_heap.py", str(tmp_path / "log"), "5000")
    result = json.loads(out.stdout)
    assert result["frames"] == 5001  # + the warm-up frame
    assert result["in_lock"] >= 150 * 512  # blocks were sealed and written in the lock


def test_allocation_is_detected(tmp_path):
    # The harness itself must fail when something allocates: list growth does.
    script = tmp_path / "alloc.py"
    script.write_text(
        "import micropython\nx = []\nmicropython.heap_lock()\n"
        "for i in range(100):\n    x.append(i)\n"
    )
    proc = run_mp(script, check=False)
    assert proc.returncode != 0
    assert "MemoryError" in proc.stdout + proc.stderr


def test_the_whole_main_loop_runs_with_the_heap_locked(tmp_path):
    # Logger.step() as firmware/main.py runs it: the unix stream source, the CAN service,
    # the drain, flushes every 50 ms, the counters and the free-space estimate. After a
    # warm-up (first blocks, first flush) the heap is locked until the source ends.
    from tests.firmware.fwrun import frame_number, frames, segments, write_frames

    src = write_frames(tmp_path / "frames.bin", 0, 20_000)
    out = run_mp(TESTS / "firmware" / "mp_loop_heap.py", str(src), str(tmp_path / "log"))
    result = json.loads(out.stdout)
    assert result["frames"] == 20_000
    assert result["in_lock"] > 19_000
    assert [frame_number(f) for f in frames(segments(tmp_path / "log"))] == list(range(20_000))
