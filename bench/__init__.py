"""keilog benchmarks: `python -m bench [--json] [--quick]` from the repository root.

Each module ``bench/<area>.py`` has ``run(quick: bool) -> dict[str, dict]`` returning
entries named ``<area>_<figure>``, each
``{"keilog": x, "reference": y, "reference_name": "...", "unit": "...", "ratio": r}``
with r oriented so that higher is better for keilog, both sides measured in the
same run. Benchmarks are not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Entry = dict[str, Any]


def entry(
    keilog: float,
    reference: float,
    reference_name: str,
    unit: str,
    higher_is_better: bool,
    **extra: Any,
) -> Entry:
    """One bench entry; ratio is keilog/reference for throughputs, reference/keilog else."""
    if higher_is_better:
        ratio = keilog / reference if reference else float("inf")
    else:
        ratio = reference / keilog if keilog else float("inf")
    out: Entry = {
        "keilog": round(keilog, 4),
        "reference": round(reference, 4),
        "reference_name": reference_name,
        "unit": unit,
        "ratio": round(ratio, 3),
    }
    out.update(extra)
    return out


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time of repeat calls (seconds) and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result
