"""Small SVG helpers shared by the map and the plots.

Written by hand because the report must be one self-contained file with no script
libraries: a few element builders, number formatting that keeps files small, and the
min/max decimation that keeps a 10-hour trip's plot to a few thousand points.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def attrs(**kw: object) -> str:
    """``key="value"`` pairs; ``class_`` becomes ``class``, ``_`` in names becomes ``-``."""
    out = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        name = "class" if k == "class_" else k.rstrip("_").replace("_", "-")
        out.append(f'{name}="{escape(str(v), quote=True)}"')
    return " ".join(out)


def el(tag: str, body: str = "", **kw: object) -> str:
    a = attrs(**kw)
    head = f"<{tag} {a}" if a else f"<{tag}"
    return f"{head}>{body}</{tag}>" if body else f"{head}/>"


def txt(body: str, **kw: object) -> str:
    """An SVG ``text`` element; the body is escaped (road names come from OpenStreetMap)."""
    return el("text", escape(body), **kw)


def title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def num(x: float) -> str:
    """A coordinate with one decimal, without a trailing .0 (smaller files)."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def path_d(xs: Iterable[float], ys: Iterable[float]) -> str:
    pts = [f"{num(x)},{num(y)}" for x, y in zip(xs, ys, strict=True)]
    if not pts:
        return ""
    return "M" + pts[0] + ("L" + " ".join(pts[1:]) if len(pts) > 1 else "")


def runs(t: F64, v: F64, max_gap: float) -> list[tuple[int, int]]:
    """Index ranges [a, b) of finite values with no time gap above max_gap."""
    ok = np.isfinite(v) & np.isfinite(t)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    brk = np.flatnonzero((np.diff(idx) > 1) | (np.diff(t[idx]) > max_gap)) + 1
    out = []
    for part in np.split(idx, brk):
        out.append((int(part[0]), int(part[-1]) + 1))
    return out


def decimate(t: F64, v: F64, buckets: int) -> tuple[F64, F64]:
    """Keep each time bucket's minimum and maximum (peaks survive, size is bounded)."""
    n = len(t)
    if n <= 2 * buckets or n < 3:
        return t, v
    edges = np.linspace(t[0], t[-1], buckets + 1)
    starts = np.unique(np.searchsorted(t, edges[:-1], side="left"))
    starts = starts[starts < n]
    ends = np.append(starts[1:], n) - 1
    # Emit min then max at the bucket's first and last time, in the order they occurred.
    imin = np.array([s + int(np.argmin(v[s : e + 1])) for s, e in zip(starts, ends, strict=True)])
    imax = np.array([s + int(np.argmax(v[s : e + 1])) for s, e in zip(starts, ends, strict=True)])
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    order = np.stack([first, second], axis=1).ravel()
    keep = np.append(True, order[1:] != order[:-1])
    order = order[keep]
    return t[order], v[order]


def nice_step(span: float, target: int) -> float:
    """A 1-2-5 step that divides span into about target parts."""
    if span <= 0:
        return 1.0
    raw = span / max(target, 1)
    mag = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def time_step(span_s: float, target: int = 8) -> float:
    for s in TIME_STEPS:
        if span_s / s <= target:
            return float(s)
    return float(TIME_STEPS[-1])
