"""Turn per-sample rule flags into debounced events.

A flag must hold for MIN_EVENT_S to become an event, so GPS noise and sub-second spikes
make none; flagged runs separated by less than MERGE_GAP_S are one event, so a reading
that dips under a limit for a moment does not split it. Runs never span a change of
``key`` (the state and rule period a sample was judged under).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_EVENT_S = 2.0
MERGE_GAP_S = 3.0
MAX_SAMPLE_S = 1.0  # a lone sample stands for at most this long


@dataclass(frozen=True)
class Run:
    """Samples first..last (inclusive indices) and how long they cover."""

    first: int
    last: int
    duration_s: float


def runs(
    t: npt.NDArray[np.float64],
    flag: npt.NDArray[np.bool_],
    key: npt.NDArray[np.int64] | None = None,
    min_duration_s: float = MIN_EVENT_S,
    merge_gap_s: float = MERGE_GAP_S,
) -> list[Run]:
    """Debounced runs of ``flag`` over times ``t`` (sorted)."""
    idx = np.flatnonzero(flag)
    if not len(idx):
        return []
    step = float(np.median(np.diff(t))) if len(t) > 1 else MAX_SAMPLE_S
    step = min(max(step, 0.0), MAX_SAMPLE_S)
    split = np.diff(t[idx]) > merge_gap_s
    if key is not None:
        split |= np.diff(key[idx]) != 0
    starts = np.concatenate([[0], np.flatnonzero(split) + 1])
    ends = np.concatenate([np.flatnonzero(split), [len(idx) - 1]])
    out = []
    for a, b in zip(starts, ends, strict=True):
        first, last = int(idx[a]), int(idx[b])
        duration = float(t[last] - t[first]) + step
        if duration >= min_duration_s:
            out.append(Run(first, last, duration))
    return out
