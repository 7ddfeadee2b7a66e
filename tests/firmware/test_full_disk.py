"""A full medium: delete what the host has, never what it has not, stop logging CAN
(counting every frame not logged) rather than corrupt anything."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import TESTS, run_mp
from tests.firmware.fwrun import events, frame_number, frames, run, segments, write_frames

FRAMES = 20_000  # 16 bytes each on disk: about 320 KB, more than the 256 KiB image holds


def cfg(tmp_path, fs, src, **storage):
    return {
        "can": {"source": str(src)},
        "flush_ms": 50,
        "storage": {
            "image": str(tmp_path / "sd.img"),
            "fs": fs,
            "image_bytes": 256 * 1024,
            "rotate_bytes": 8192,
            "min_free_bytes": 64 * 1024,
            **storage,
        },
    }


def summary(proc) -> tuple[int, int, int]:
    m = re.search(r"logged (\d+) frames .* (\d+) dropped, (\d+) not logged", proc.stderr)
    assert m, proc.stderr
    return int(m[1]), int(m[2]), int(m[3])


@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_full_disk(tmp_path, fs):
    image = tmp_path / "sd.img"
    # 1. Nothing synced: logging stops at storage.min_free_bytes, and counts.
    src = write_frames(tmp_path / "a.bin", 0, FRAMES)
    logged, dropped, not_logged = summary(run(tmp_path, cfg(tmp_path, fs, src)))
    assert dropped == 0 and not_logged > 0 and logged + not_logged == FRAMES
    segs = segments(image, fs, tmp_path / "out1")
    assert all(s.damage == [] for s in segs)
    assert [frame_number(f) for f in frames(segs)] == list(range(logged))
    full = events(segs, "storage_full")
    assert full[0] == 0 and full[-1] == not_logged  # became full; frames lost since
    first_run = sorted(s.name for s in segs)

    # 2. The host acknowledges every segment: the next boot deletes the oldest ones
    #    to make room, logs again, and fills up again with its own unsynced segments.
    marked = json.loads(
        run_mp(TESTS / "firmware" / "mp_store.py", "mark", str(image), fs, *first_run).stdout
    )
    assert marked["marked"] == [True] * len(first_run)
    src = write_frames(tmp_path / "b.bin", FRAMES, FRAMES)
    logged2, _, not_logged2 = summary(run(tmp_path, cfg(tmp_path, fs, src)))
    assert logged2 > 0 and logged2 + not_logged2 == FRAMES
    segs = segments(image, fs, tmp_path / "out2")
    assert all(s.damage == [] for s in segs)
    kept_old = [s.name for s in segs if s.name in first_run]
    assert kept_old == first_run[len(first_run) - len(kept_old) :]  # oldest went first
    assert sum(events(segs, "segment_deleted")) == len(first_run) - len(kept_old) > 0
    numbers = [frame_number(f) for f in frames(segs)]
    assert numbers[-logged2:] == list(range(FRAMES, FRAMES + logged2))
    assert events(segs, "storage_full")[-1] == not_logged2

    # 3. storage.overwrite_unsynced: the oldest segments go, synced or not; no frame is
    #    refused.
    src = write_frames(tmp_path / "c.bin", 2 * FRAMES, FRAMES)
    logged3, _, not_logged3 = summary(
        run(tmp_path, cfg(tmp_path, fs, src, overwrite_unsynced=True))
    )
    assert (logged3, not_logged3) == (FRAMES, 0)
    segs = segments(image, fs, tmp_path / "out3")
    assert all(s.damage == [] for s in segs)
    # The image holds less than a run: what is left is the newest frames, in one piece.
    numbers = [frame_number(f) for f in frames(segs)]
    assert numbers == list(range(numbers[0], 3 * FRAMES)) and numbers[0] > 2 * FRAMES
    assert not set(first_run) & {s.name for s in segs}


@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_a_write_that_fails_stops_logging_cleanly(tmp_path, fs):
    # No reserve: the filesystem itself runs out (ENOSPC) in the middle of a segment.
    src = write_frames(tmp_path / "a.bin", 0, FRAMES)
    logged, _, not_logged = summary(run(tmp_path, cfg(tmp_path, fs, src, min_free_bytes=0)))
    assert not_logged > 0 and logged + not_logged == FRAMES
    segs = segments(tmp_path / "sd.img", fs, tmp_path / "out")
    assert all(s.damage == [] for s in segs)
    # Frames not flushed when the write failed count as not logged; FAT may still keep
    # some of them (closing the file writes its size), littlefs keeps none.
    numbers = [frame_number(f) for f in frames(segs)]
    assert numbers == list(range(len(numbers))) and logged <= len(numbers) <= FRAMES
