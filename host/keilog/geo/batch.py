"""``keilog where --file``: look up a CSV file of points, write CSV or JSON lines.

Reading a million text rows is the slow part, not the lookup (about 1.5 M points/s):
numpy's ``loadtxt`` parses about 1.7 M rows/s alone, so with the lookup and the output
it cannot reach 1 M points/s end to end. Plain decimal numbers (``-117.0368``, the only
form GPS tools write) are therefore parsed here with whole-array numpy arithmetic on the
bytes; anything else (exponents, quotes, ``nan``) falls back to ``numpy.loadtxt``. The
decimal parser sums digit x 10^k in float64, so it can differ from ``float()`` in the
last bit or two (1e-13 degrees, a fraction of a micrometre).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keilog.geo.errors import GeoError
from keilog.geo.states import StateIndex, WhereArrays

LAT_NAMES = ("lat", "latitude", "y")
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
OUT_COLUMNS = (
    "state",
    "country",
    "territory",
    "covered",
    "confidence",
    "method",
    "near_border",
    "distance_m",
)
# Plain decimals that are not JSON numbers: a leading + or dot, a trailing dot, leading 0s.
_NOT_JSON = re.compile(rb"(?:^|[,\n])(?:\+|\.|-?\.|-?0\d)|\.(?:[,\n]|$)")
_DIGIT_POW = np.arange(10)[:, None] * 10.0 ** np.arange(-15, 16)[None, :]
_PLAIN = np.zeros(256, dtype=bool)
_PLAIN[list(b"0123456789.,-+\n\r ")] = True


@dataclass(frozen=True)
class PointsTable:
    """The rows of a points file: text lines (without the header) and coordinates."""

    header: bytes | None
    lines: list[bytes]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    lat_col: int
    lon_col: int
    json_ready: bool = False  # the first two columns are lat,lon and valid JSON numbers


def read_points(data: bytes, name: str) -> PointsTable:
    """Parse CSV bytes with a lat and a lon column. With a header, the columns are found
    by name (lat/latitude, lon/lng/longitude); without one, they are the first two."""
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    text = text.rstrip(b"\n")
    if not text:
        raise GeoError(f"{name}: no points; give a CSV file with lat,lon columns")
    first, _, rest = text.partition(b"\n")
    header: bytes | None = None
    lat_col, lon_col = 0, 1
    if any(c.isalpha() for c in first.decode("utf-8", "replace")):
        header = first
        names = [c.strip().strip('"').lower() for c in first.decode("utf-8", "replace").split(",")]
        lat_col = next((i for i, n in enumerate(names) if n in LAT_NAMES), -1)
        lon_col = next((i for i, n in enumerate(names) if n in LON_NAMES), -1)
        if lat_col < 0 or lon_col < 0:
            raise GeoError(
                f"{name}:1: the header {first.decode('utf-8', 'replace')!r} has no lat and "
                "lon columns; name them lat,lon (or drop the header: LAT,LON first)"
            )
        body, line0 = rest, 2
    else:
        body, line0 = text, 1
    lines = body.split(b"\n") if body else []
    ncols = first.count(b",") + 1
    if ncols < 2:
        raise GeoError(f"{name}:1: expected lat,lon columns separated by a comma")
    if not lines:
        empty = np.zeros(0)
        return PointsTable(header, [], empty, empty, lat_col, lon_col)
    values = _parse_plain(body, len(lines), ncols)
    json_ready = values is not None and (lat_col, lon_col) == (0, 1) and not _NOT_JSON.search(body)
    if values is not None:
        lat, lon = values[:, lat_col], values[:, lon_col]
    else:
        values = _parse_loadtxt(body, (lat_col, lon_col), name, line0)
        lat, lon = values[:, 0], values[:, 1]
        if len(lat) != len(lines):
            raise GeoError(f"{name}: {len(lines)} rows but {len(lat)} positions; remove blank rows")
    return PointsTable(header, lines, lat, lon, lat_col, lon_col, json_ready)


def _parse_plain(body: bytes, nrows: int, ncols: int) -> npt.NDArray[np.float64] | None:
    """Plain decimals in a rectangular table, or None when the text is anything else."""
    b = np.frombuffer(body, dtype=np.uint8)
    if not _PLAIN[b].all() or b" " in body:
        return None
    n = len(b)
    sep = np.flatnonzero((b == 44) | (b == 10))
    if len(sep) != nrows * ncols - 1:
        return None
    newline = b[sep] == 10
    expected = (np.arange(len(sep)) % ncols) == ncols - 1
    if not np.array_equal(newline, expected):
        return None
    start = np.concatenate([[0], sep + 1])
    end = np.concatenate([sep, [n]])
    if np.any(end <= start):
        return None
    field = np.zeros(n, dtype=np.int64)
    field[sep] = 1
    field = np.cumsum(field)  # field index of every byte (separators count as the next)
    sign = np.where(b[start] == 45, -1.0, 1.0)
    signed = (b[start] == 45) | (b[start] == 43)
    dots = np.flatnonzero(b == 46)
    dot_field = field[dots]
    if np.any(np.diff(dot_field) == 0):
        return None  # two dots in one field
    dot = end.copy()
    dot[dot_field] = dots
    digit = (b >= 48) & (b <= 57)
    pos = np.flatnonzero(digit)
    f = field[pos]
    if np.any(np.bincount(f, minlength=len(start)) == 0):
        return None  # a field without digits
    inner = np.ones(n, dtype=bool)
    inner[start[signed]] = False
    if np.any(~digit & inner & (b != 46) & (b != 44) & (b != 10)):
        return None  # a sign inside a number
    power = np.where(pos < dot[f], dot[f] - pos - 1, dot[f] - pos)
    if power.max(initial=0) > 15 or power.min(initial=0) < -15:
        return None
    weights = _DIGIT_POW[b[pos] - 48, power + 15]
    value = np.bincount(f, weights=weights, minlength=len(start))
    return np.asarray(value * sign, dtype=np.float64).reshape(nrows, ncols)


def _parse_loadtxt(
    body: bytes, cols: tuple[int, int], name: str, line0: int
) -> npt.NDArray[np.float64]:
    """The lat and lon columns (in that order) by numpy's parser; other columns may be
    anything."""
    try:
        values = np.loadtxt(
            io.BytesIO(body), delimiter=",", dtype=np.float64, ndmin=2, usecols=cols, comments=None
        )
    except ValueError as exc:
        row = re.search(r"row (\d+)", str(exc))
        where = f"{name}:{line0 + int(row.group(1))}" if row else name
        detail = str(exc).split(" at row")[0]
        raise GeoError(f"{where}: {detail}; every row needs numeric lat,lon") from None
    return values


def _columns(w: WhereArrays) -> list[npt.NDArray[np.str_]]:
    covered = np.where(w.state != "", "true", "false")
    conf = np.where(w.state == "", "", np.where(w.fallback, "low", "high"))
    method = np.where(
        w.state != "",
        np.where(w.fallback, "nearest", "polygon"),
        np.where(w.territory != "", "territory", np.where(w.country != "", "country", "none")),
    )
    near = np.where(w.near_border, "true", "false")
    return [w.state, w.country, w.territory, covered, conf, method, near]


def _distance_text(w: WhereArrays) -> list[bytes]:
    out = [b""] * len(w)
    poly = (w.state != "") & ~w.fallback
    for i in np.flatnonzero(poly):
        out[i] = b"0.0"
    for i in np.flatnonzero(w.fallback & (w.state != "")):
        out[i] = f"{w.distance_m[i]:.1f}".encode()
    return out


def _combos(w: WhereArrays) -> tuple[npt.NDArray[np.int64], list[tuple[str, ...]]]:
    """A small code per point for its combination of text columns (few combinations)."""
    cols = _columns(w)
    key = np.zeros(len(w), dtype=np.int64)
    uniques = []
    for c in cols:
        u, inv = np.unique(c, return_inverse=True)
        key = key * len(u) + inv
        uniques.append(u)
    codes, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    del codes
    table = [tuple(str(c[i]) for c in cols) for i in first]
    return inverse.astype(np.int64), table


def write_csv(table: PointsTable, w: WhereArrays) -> bytes:
    """The input rows with the lookup's columns appended."""
    head = table.header if table.header is not None else b"lat,lon"
    if table.header is None and table.lines and table.lines[0].count(b",") > 1:
        extra = table.lines[0].count(b",") - 1
        head = b"lat,lon" + b"".join(b",col%d" % (i + 3) for i in range(extra))
    out = [head + b"," + ",".join(OUT_COLUMNS).encode()]
    inverse, combos = _combos(w)
    suffix = [("," + ",".join(c) + ",").encode() for c in combos]
    dist = _distance_text(w)
    per_point = [suffix[k] for k in inverse.tolist()]
    out.extend(map(b"".join, zip(table.lines, per_point, dist, strict=True)))
    out.append(b"")
    return b"\n".join(out)


def write_jsonl(table: PointsTable, w: WhereArrays) -> bytes:
    """One JSON object per point: lat, lon (as given) and the lookup's fields."""
    inverse, combos = _combos(w)
    frags = []
    for state, country, territory, covered, conf, method, near in combos:
        obj = {
            "state": state or None,
            "country": country or None,
            "territory": territory or None,
            "covered": covered == "true",
            "confidence": conf or None,
            "method": method,
            "near_border": near == "true",
        }
        frags.append(json.dumps(obj)[1:-1].encode())
    if table.json_ready:
        pairs = [line.split(b",", 2) for line in table.lines]
        coords = [b'{"lat": ' + p[0] + b', "lon": ' + p[1] + b", " for p in pairs]
    else:
        coords = [
            b'{"lat": %r, "lon": %r, ' % (float(a), float(o))
            for a, o in zip(table.lat.tolist(), table.lon.tolist(), strict=True)
        ]
    dist = [b', "distance_m": ' + (d or b"null") + b"}\n" for d in _distance_text(w)]
    per_point = [frags[k] for k in inverse.tolist()]
    return b"".join(map(b"".join, zip(coords, per_point, dist, strict=True)))


def where_file(data: bytes, name: str, index: StateIndex, fmt: str = "csv") -> bytes:
    """Look up every point of a CSV file; ``fmt`` is ``csv`` or ``jsonl``."""
    table = read_points(data, name)
    bad = ~((np.abs(table.lat) <= 90) & (np.abs(table.lon) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = i + (2 if table.header is not None else 1)
        raise GeoError(
            f"{name}:{line}: ({table.lat[i]}, {table.lon[i]}) is not a position; give LAT in "
            "-90..90 and LON in -180..180 degrees (LAT first, or name the columns)"
        )
    w = index.lookup(table.lat, table.lon)
    return write_jsonl(table, w) if fmt == "jsonl" else write_csv(table, w)
