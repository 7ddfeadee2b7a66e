"""Stretches no state rule can judge: GPS dropouts, and driving outside the states.

Abroad, in a US territory, or where no known place is, a trip is never a US violation;
each such stretch is listed as unverified with the reason.
"""

from __future__ import annotations

import numpy as np

from keilog.geo import COUNTRY_NAMES, TERRITORY_NAMES
from keilog.rules.context import BOOL
from keilog.rules.events import runs
from keilog.rules.findings import Findings, stamp
from keilog.rules.thresholds import DROPOUT_S


def gps_dropouts(found: Findings) -> None:
    """Every gap of more than DROPOUT_S between valid fixes."""
    c = found.ctx
    d = c.d
    t = d.t[c.valid]
    idx = np.flatnonzero(c.valid)
    if len(t) < 2:
        return
    for g in np.flatnonzero(np.diff(t) > DROPOUT_S):
        a, b = idx[g], idx[g + 1]
        found.unverified.append(
            {
                "rule": "gps_dropout",
                "state": str(c.state[a]) or None,
                "start": stamp(float(d.t[a]), d.utc_known),
                "end": stamp(float(d.t[b]), d.utc_known),
                "duration_s": round(float(d.t[b] - d.t[a]), 1),
                "reason": "no valid GPS fix: position, state and road unknown",
                "lat": round(float(d.lat[a]), 6),
                "lon": round(float(d.lon[a]), 6),
                "source": None,
            }
        )


def outside_states(found: Findings, moving: BOOL) -> None:
    """Stretches driven abroad, in a US territory, or in no place keilog knows."""
    c = found.ctx
    t, w = c.d.t, c.where
    every = np.arange(len(t))
    country_key = np.unique(w.country, return_inverse=True)[1].astype(np.int64)
    for run in runs(t, moving & w.abroad, country_key):
        code = str(w.country[run.first])
        name = COUNTRY_NAMES.get(code, code)
        found.unverified.append(
            found.event(
                run,
                t,
                every,
                "outside_us",
                {
                    "_field": None,
                    "country": code,
                    "reason": f"outside the US ({name}): keilog checks US state rules only",
                },
            )
        )
    territory_key = np.unique(w.territory, return_inverse=True)[1].astype(np.int64)
    for run in runs(t, moving & (w.territory != ""), territory_key):
        code = str(w.territory[run.first])
        found.unverified.append(
            found.event(
                run,
                t,
                every,
                "location",
                {
                    "_field": None,
                    "country": "US",
                    "territory": code,
                    "reason": f"in {TERRITORY_NAMES[code]}, a US territory keilog has no "
                    "rules for (not covered)",
                },
            )
        )
    found.emit(
        moving & (c.state == "") & (w.country == ""),
        "location",
        None,
        unverified_reason="position not in the US and not in a neighbouring country "
        "keilog knows (open sea, or far from the US)",
    )
