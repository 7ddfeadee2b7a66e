"""Chosen signals of a trip (or a time window) as a PNG or SVG chart, with matplotlib.

One panel per signal, stacked with a shared time axis (seconds from the first sample,
whose UTC time is in the title), each labelled ``SIGNAL [unit]``. matplotlib is an
optional extra (``pip install 'keilog[plot]'``); it is imported here, when a plot is made.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from keilog.export.signals import SignalSeries, read_signals, resolve, window
from keilog.export.source import ExportError

PLOT_SUFFIXES = (".png", ".svg")
PANEL_HEIGHT_IN = 1.8
WIDTH_IN = 10.0


@dataclass
class PlotResult:
    out: Path
    series: list[SignalSeries]

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "signals": [
                {"name": s.name, "unit": s.unit, "samples": int(np.count_nonzero(~np.isnan(s.v)))}
                for s in self.series
            ],
        }


def plot_signals(
    db: sqlite_utils.Database,
    out: Path,
    names: Sequence[str],
    trip: int | None = None,
    start: float | None = None,
    end: float | None = None,
    title: str | None = None,
) -> PlotResult:
    """Plot the named signals to ``out`` (.png or .svg, by its extension)."""
    suffix = out.suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise ExportError(f"{out}: plots are .png or .svg, not {suffix or '(no extension)'}")
    if not names:
        raise ExportError("name the signals to plot, e.g. VEHICLE_SPEED ENGINE_RPM")
    where = window(db, trip, start, end)
    series = read_signals(db, resolve(db, names), where)
    if not any(np.count_nonzero(~np.isnan(s.v)) for s in series):
        raise ExportError(
            f"{', '.join(names)}: no samples in {where.label}; check the trip number "
            "(keilog trips --db FILE) or the time window"
        )
    pyplot = _pyplot()
    t0 = min(float(s.t[0]) for s in series if len(s.t))
    fig, axes = pyplot.subplots(
        len(series), 1, sharex=True, squeeze=False,
        figsize=(WIDTH_IN, 0.8 + PANEL_HEIGHT_IN * len(series)),
    )  # fmt: skip
    try:
        for ax, s in zip(axes[:, 0], series, strict=True):
            ok = ~np.isnan(s.v)
            ax.plot(s.t[ok] - t0, s.v[ok], linewidth=1.0, drawstyle="steps-post")
            ax.set_ylabel(f"{s.signal} [{s.unit}]" if s.unit else s.signal)
            ax.grid(True, alpha=0.3)
        axes[-1, 0].set_xlabel("time (s)")
        when = (
            datetime.datetime.fromtimestamp(t0, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if t0 > 86_400 * 365
            else f"logger time {t0:.3f} s"
        )
        fig.suptitle(title or f"{where.label[0].upper()}{where.label[1:]}, from {when}")
        fig.tight_layout()
        fig.savefig(out, format=suffix[1:], metadata=_metadata(suffix))
    finally:
        pyplot.close(fig)
    return PlotResult(out, series)


def _metadata(suffix: str) -> dict[str, Any]:
    # No creation date: the same data gives the same file.
    return {"Date": None} if suffix == ".svg" else {"Software": "keilog"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ExportError("keilog plot needs matplotlib: pip install 'keilog[plot]'") from None
    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as pyplot

    return pyplot
