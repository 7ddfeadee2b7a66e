"""Read OpenStreetMap ``maxspeed`` values the careful way, for US roads.

Rules (OSM wiki Key:maxspeed, and what US data really holds):

- ``"35 mph"``, ``"35mph"``, ``"55 MPH"``: miles per hour.
- ``"50 km/h"``, ``"50 kmh"``, ``"50 kph"``: kilometres per hour.
- A bare number is km/h by OSM convention, but US mappers often mean mph. For a rule like
  "roads posted 35 mph or less" reading ``"50"`` as km/h (31 mph) would wrongly permit
  the road, so keilog takes the *stricter* reading, the higher one (50 mph), and marks the
  value ``ambiguous``.
- Several values (``"25 mph;35 mph"``, ``"25 mph|35 mph"``): the highest counts.
- ``"none"``: no limit (``mph`` is infinity).
- ``"signals"``, ``"variable"``, ``"walk"``, zone codes (``"US:urban"``), anything else:
  unusable; such a road is *unverified*, never assumed fine.

Written by hand because no maintained package parses maxspeed (see docs/rules.md); the
parser is small and fuzzed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from keilog.units import KMH_PER_MPH

POSTED = "posted"  # a number with a unit
AMBIGUOUS = "ambiguous"  # a bare number, read as the stricter (higher) of mph and km/h
NONE = "none"  # "none": no limit
MISSING = "missing"  # no tag
UNUSABLE = "unusable"  # present but not a number keilog can trust

STATUSES = (POSTED, AMBIGUOUS, NONE, MISSING, UNUSABLE)

_VALUE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Limit:
    """A parsed posted limit: ``mph`` is None when there is no usable number."""

    mph: float | None
    status: str
    raw: str | None = None

    @property
    def usable(self) -> bool:
        return self.mph is not None


def _one(text: str) -> Limit:
    t = text.strip()
    if t.lower() == "none":
        return Limit(math.inf, NONE, text)
    m = _VALUE.match(t)
    if not m:
        return Limit(None, UNUSABLE, text)
    number = float(m.group(1))
    if number <= 0 or number > 200:
        return Limit(None, UNUSABLE, text)
    unit = (m.group(2) or "").lower()
    if unit == "mph":
        return Limit(number, POSTED, text)
    if unit:
        return Limit(number / KMH_PER_MPH, POSTED, text)
    return Limit(number, AMBIGUOUS, text)  # max(number mph, number km/h) is number mph


def parse_maxspeed(text: str | None) -> Limit:
    """Parse one ``maxspeed`` value (see the module docstring for the rules)."""
    if text is None or not text.strip():
        return Limit(None, MISSING, text)
    parts = [p for p in re.split(r"[;|]", text) if p.strip()]
    limits = [_one(p) for p in parts]
    if not limits or any(not lim.usable for lim in limits):
        return Limit(None, UNUSABLE, text)
    worst = max(limits, key=lambda lim: lim.mph or 0.0)
    status = AMBIGUOUS if any(lim.status == AMBIGUOUS for lim in limits) else worst.status
    return Limit(worst.mph, status, text)


def road_limit(
    maxspeed: str | None, forward: str | None = None, backward: str | None = None
) -> Limit:
    """The limit of a way from ``maxspeed`` or, without it, ``maxspeed:forward/backward``.

    Directional limits are combined by taking the higher one (the stricter reading for
    "roads posted at most N mph"); one usable and one unusable direction is unusable.
    """
    if maxspeed is not None and maxspeed.strip():
        return parse_maxspeed(maxspeed)
    directional = [parse_maxspeed(v) for v in (forward, backward) if v is not None and v.strip()]
    if not directional:
        return Limit(None, MISSING, None)
    if any(not d.usable for d in directional):
        return Limit(None, UNUSABLE, ";".join(d.raw or "" for d in directional))
    worst = max(directional, key=lambda d: d.mph or 0.0)
    status = AMBIGUOUS if any(d.status == AMBIGUOUS for d in directional) else worst.status
    return Limit(worst.mph, status, ";".join(d.raw or "" for d in directional))
