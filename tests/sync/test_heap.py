"""The device streams a READ run without allocating, under the real `micropython`."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import TESTS, run_mp


def test_a_read_run_allocates_nothing_per_frame(tmp_path: Path) -> None:
    # larger than the run, so that the hash (fed by the run) is not finished under the
    # lock: finishing it stores a digest, once per segment, which allocates
    (tmp_path / "00010000.KLG").write_bytes(os.urandom(256 * 512))
    proc = run_mp(TESTS / "sync" / "mp_sync_heap.py", str(tmp_path))
    before, after, sent = map(int, proc.stdout.split())
    # HELLO reply + 3 READ frames before the lock (4 per poll), the other 5 under it;
    # 8 frames of 4096 data bytes + 23 bytes of frame and READ header each, + HELLO
    assert (before, after) == (4, 9)
    assert sent == 8 * (4096 + 23) + 70 + 14
