"""Untrusted frames never crash the decoder, and whatever it decodes agrees with cantools.

Random payload bytes, random lengths (shorter and longer than the DBC's), ids the DBC
knows and ids it does not, standard and extended, remote and error flags.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.decode import Decoder, FrameBatch
from keilog.paths import keicar_dbc

from tests.decode.decode_helpers import cantools_or_error, diff, rows_by_index

FEATURES = Path(__file__).resolve().parents[1] / "data" / "decode" / "features.dbc"
DECODER = Decoder.from_files([keicar_dbc(), FEATURES])
KNOWN = [(p.message.frame_id, p.message.is_extended_frame) for p in DECODER.plans]

frame_ids = st.one_of(
    st.sampled_from(KNOWN),
    st.tuples(st.integers(0, 0x7FF), st.just(False)),
    st.tuples(st.integers(0, 0x1FFFFFFF), st.just(True)),
)
frames = st.lists(
    st.tuples(frame_ids, st.binary(max_size=64), st.booleans(), st.booleans()),
    max_size=40,
)


def make_batch(rows: list[tuple[tuple[int, bool], bytes, bool, bool]]) -> FrameBatch:
    n = len(rows)
    data = np.zeros((n, 64), np.uint8)
    for i, (_, payload, _, _) in enumerate(rows):
        data[i, : len(payload)] = np.frombuffer(payload, np.uint8)
    rare = [i % 7 == 0 for i in range(n)]  # some remote and error frames, not most
    return FrameBatch(
        timestamp=np.arange(n, dtype=np.float64),
        arbitration_id=np.array([r[0][0] for r in rows], np.uint32),
        is_extended=np.array([r[0][1] for r in rows], np.bool_),
        dlc=np.array([len(r[1]) for r in rows], np.uint8),
        data=data,
        is_remote=np.array([r[2] and f for r, f in zip(rows, rare, strict=True)], np.bool_),
        is_error=np.array([r[3] and f for r, f in zip(rows, rare, strict=True)], np.bool_),
    )


@settings(max_examples=150, deadline=None)
@given(frames, st.booleans())
def test_random_frames_never_crash_and_agree_with_cantools(
    rows: list[tuple[tuple[int, bool], bytes, bool, bool]], choices: bool
) -> None:
    batch = make_batch(rows)

    result = DECODER.decode(batch, choices=choices)

    stats = result.stats
    assert stats.frames == len(rows)
    assert stats.decoded + stats.unknown + stats.remote + stats.error_frames == len(rows)
    assert sum(stats.unknown_ids.values()) == stats.unknown
    decoded = rows_by_index(result)
    assert len(decoded) == stats.decoded
    skipped = (batch.is_remote | batch.is_error).tolist()  # type: ignore[operator]
    by_key = {(p.message.frame_id, p.message.is_extended_frame): p.message for p in DECODER.plans}
    for i, ((frame_id, extended), payload, _, _) in enumerate(rows):
        message = by_key.get((frame_id, extended))
        if message is None or skipped[i]:
            assert i not in decoded
            continue
        expected = cantools_or_error(message, payload)
        if isinstance(expected, dict):
            assert diff(expected, decoded[i][1]) == {}
    assert len(list(result.frames())) == stats.decoded
