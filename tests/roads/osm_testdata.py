"""Hand-made OpenStreetMap extracts for the road and check tests.

Positions are given in metres east/north of an origin and written as lat/lon with the
same equirectangular scale keilog uses, so "12 m from the road" in a test means 12 m.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

M_PER_DEG = 111_195.0

# Gainesville, FL (Fla. Stat. 316.2122 country); a second origin sits in Georgia.
GAINESVILLE = (29.6516, -82.3248)


def to_latlon(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    lat0, lon0 = origin
    lat = lat0 + north_m / M_PER_DEG
    lon = lon0 + east_m / (M_PER_DEG * math.cos(math.radians(lat0)))
    return lat, lon


def write_osm(path: Path, origin: tuple[float, float], ways: list[dict]) -> Path:
    """Write ways given as {"points": [(east_m, north_m), ...], "tags": {...}}."""
    nodes: list[str] = []
    body: list[str] = []
    nid = 1
    for wid, way in enumerate(ways, start=1):
        refs = []
        for e, n in way["points"]:
            lat, lon = to_latlon(origin, e, n)
            nodes.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
            refs.append(nid)
            nid += 1
        body.append(f'  <way id="{wid}" version="1">')
        body.extend(f'    <nd ref="{r}"/>' for r in refs)
        body.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in way["tags"].items())
        body.append("  </way>")
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<osm version="0.6" generator="keilog-tests">',
            *nodes,
            *body,
            "</osm>",
            "",
        ]
    )
    path.write_text(text)
    return path


# A small network, metres from the origin:
# - "NW 8th Ave": residential, 25 mph, west-east along y = 0.
# - "Archer Rd": primary SR 24, 45 mph, west-east along y = 400, crossed by a residential
#   street (x = 0) that runs north-south from y = 0 to y = 800.
# - I-75: two one-way motorway carriageways (northbound x = 1000, southbound x = 1030),
#   70 mph, and a two-way frontage road at x = 980, 35 mph.
# - "Unposted Rd": tertiary without maxspeed along y = -400.
# - "Bare Number Rd": secondary with maxspeed "50" (bare) along y = -800.
NETWORK = [
    {
        "points": [(-1500, 0), (1500, 0)],
        "tags": {"highway": "residential", "name": "NW 8th Ave", "maxspeed": "25 mph"},
    },
    {
        "points": [(-1500, 400), (0, 400), (1500, 400)],
        "tags": {"highway": "primary", "name": "Archer Rd", "ref": "SR 24", "maxspeed": "45 mph"},
    },
    {
        "points": [(0, 0), (0, 400), (0, 800)],
        "tags": {"highway": "residential", "name": "NW 1st St", "maxspeed": "25 mph"},
    },
    {
        "points": [(1000, -3000), (1000, 3000)],
        "tags": {"highway": "motorway", "ref": "I 75", "maxspeed": "70 mph", "oneway": "yes"},
    },
    {
        "points": [(1030, 3000), (1030, -3000)],
        "tags": {"highway": "motorway", "ref": "I 75", "maxspeed": "70 mph", "oneway": "yes"},
    },
    {
        "points": [(980, -3000), (980, 3000)],
        "tags": {"highway": "secondary", "name": "Frontage Rd", "maxspeed": "35 mph"},
    },
    {
        "points": [(-1500, -400), (900, -400)],
        "tags": {"highway": "tertiary", "name": "Unposted Rd"},
    },
    {
        "points": [(-1500, -800), (900, -800)],
        "tags": {"highway": "secondary", "name": "Bare Number Rd", "maxspeed": "50"},
    },
    {"points": [(-1500, 1200), (900, 1200)], "tags": {"highway": "footway", "name": "Trail"}},
]
