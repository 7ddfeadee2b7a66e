"""``keilog where --file``: look up a CSV file of points, write CSV or JSON lines.

At a million points the lookup is not the slow part (``keilog.geo.grid`` settles most
points without geometry); reading and writing the text is. So the plain decimal numbers
GPS tools write (``-117.0368``) are parsed here with whole-array numpy arithmetic on the
bytes, exactly: the digits make an integer below 2**53 that is divided by a power of ten
up to 10**22, both exact in float64, so the one rounding is the division's and the value
is the one ``float()`` gives (the classic fast path of decimal-to-binary conversion).
Anything else (exponents, quotes, spaces, ``nan``) falls back to ``numpy.loadtxt``.
numpy is a runtime dependency already; pyarrow's CSV reader is an optional extra and no
faster on two columns.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keilog.geo.errors import GeoError
from keilog.geo.grid import Answers, WhereGrid, lookup_answers
from keilog.geo.states import StateIndex

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
_POW10 = 10.0 ** np.arange(23)  # exact in float64 up to 10**22
_MAX_WIDTH = 19  # a field of up to 19 digits cannot overflow int64


@dataclass(frozen=True)
class PointsTable:
    """The rows of a points file: the text (without the header) and the coordinates."""

    header: bytes | None
    body: bytes  # the rows, separated by single newlines, no newline at the end
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    lat_col: int
    lon_col: int
    ncols: int
    json_ready: bool = False  # the only two columns are lat,lon and valid JSON numbers

    @property
    def lines(self) -> list[bytes]:
        return self.body.split(b"\n") if self.body else []


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
    ncols = first.count(b",") + 1
    if ncols < 2:
        raise GeoError(f"{name}:1: expected lat,lon columns separated by a comma")
    if not body:
        empty = np.zeros(0)
        return PointsTable(header, b"", empty, empty, lat_col, lon_col, ncols)
    nrows = body.count(b"\n") + 1
    fast = _parse_columns(body, nrows, ncols, (lat_col, lon_col))
    if fast is not None:
        lat, lon, json_numbers = fast
        json_ready = json_numbers and ncols == 2 and (lat_col, lon_col) == (0, 1)
        return PointsTable(header, body, lat, lon, lat_col, lon_col, ncols, json_ready)
    values = _parse_loadtxt(body, (lat_col, lon_col), name, line0)
    if len(values) != nrows:
        raise GeoError(f"{name}: {nrows} rows but {len(values)} positions; remove blank rows")
    return PointsTable(header, body, values[:, 0], values[:, 1], lat_col, lon_col, ncols)


def _parse_columns(
    body: bytes, nrows: int, ncols: int, cols: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], bool] | None:
    """The two columns of plain decimals, and whether they are JSON numbers as written;
    None unless every row has ncols unquoted fields and those two are plain decimals."""
    if b'"' in body:
        return None
    b = np.frombuffer(body, dtype=np.uint8)
    newline = np.flatnonzero(b == 10)
    comma = np.flatnonzero(b == 44)
    if len(comma) != nrows * (ncols - 1):
        return None
    row_start = np.concatenate([[0], newline + 1])
    row_end = np.concatenate([newline, [len(b)]])
    if ncols > 2 and not np.array_equal(
        np.searchsorted(newline, comma), np.repeat(np.arange(nrows), ncols - 1)
    ):
        return None
    commas = comma.reshape(nrows, ncols - 1)
    if ncols == 2 and not (np.all(comma > row_start) & np.all(comma < row_end)):
        return None
    bounds = []
    for col in cols:
        start = row_start if col == 0 else commas[:, col - 1] + 1
        end = row_end if col == ncols - 1 else commas[:, col]
        bounds.append((start, end))
    start = np.concatenate([bounds[0][0], bounds[1][0]])
    end = np.concatenate([bounds[0][1], bounds[1][1]])
    parsed = parse_decimals(b, start, end)
    if parsed is None:
        return None
    values, json_numbers = parsed
    return values[:nrows], values[nrows:], json_numbers


def parse_decimals(
    b: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], bool] | None:
    """The fields ``b[start:end]`` as float64, exactly as ``float()`` reads them, and
    whether all are JSON numbers as written; None unless every field is a plain decimal
    (an optional sign, digits, at most one dot, at least one digit, at most 15 or so
    significant digits)."""
    if not len(start):
        return np.zeros(0), True
    width = end - start
    if width.min() < 1 or width.max() > _MAX_WIDTH:
        return None
    n = len(b)
    lead = b[start]
    negative = lead == 45
    signed = negative | (lead == 43)
    pos = start + signed
    digits_left = end - pos
    mantissa = np.zeros(len(start), dtype=np.int64)
    frac = np.zeros(len(start), dtype=np.int64)
    seen_dot = np.zeros(len(start), dtype=bool)
    dots = np.zeros(len(start), dtype=np.int64)
    # One pass per character position; fields are short (GPS: 9-11 characters).
    for j in range(int(digits_left.max())):
        live = j < digits_left
        c = b[np.minimum(pos + j, n - 1)] - np.uint8(48)  # digits 0-9, '.' wraps to 254
        digit = live & (c < 10)
        dot = live & (c == 254)
        if np.any(live & ~digit & ~dot):
            return None
        mantissa = np.where(digit, mantissa * 10 + c, mantissa)
        frac += digit & seen_dot
        seen_dot |= dot
        dots += dot
    ndigits = digits_left - dots
    if np.any(dots > 1) or np.any(ndigits < 1) or np.any(mantissa >= 2**53) or np.any(frac > 22):
        return None
    value = mantissa / _POW10[frac]
    # JSON: no '+', a digit first and last, no leading zero before another digit.
    first = b[np.minimum(pos, n - 1)]
    second = b[np.minimum(pos + 1, n - 1)]
    json_numbers = not (
        np.any(lead == 43)
        or np.any(first == 46)
        or np.any(b[end - 1] == 46)
        or np.any((first == 48) & (digits_left > 1) & (second != 46))
    )
    return np.where(negative, -value, value), json_numbers


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


def _tails(a: Answers, texts: list[bytes], distance_text: bytes) -> list[bytes]:
    """Per point: the text of its answer, with ``distance_text % d`` filled in for the
    water-fallback answers (distance to the nearest state)."""
    tails = np.array(texts, dtype=object)[a.code]
    for i in np.flatnonzero(a.fallback).tolist():
        tails[i] = texts[a.code[i]].replace(b"\x00", distance_text % a.distance_m[i])
    out: list[bytes] = tails.tolist()
    return out


def write_csv(table: PointsTable, a: Answers) -> bytes:
    """The input rows with the lookup's columns appended."""
    head = table.header if table.header is not None else b"lat,lon"
    if table.header is None and table.ncols > 2:
        head = b"lat,lon" + b"".join(b",col%d" % (i + 3) for i in range(table.ncols - 2))
    texts = []
    for state, country, territory, conf, method, near in a.table:
        covered = b"true" if state else b"false"
        dist = b"\x00" if method == "nearest" else b"0.0" if state else b""
        cols = [s.encode() for s in (state, country, territory)]
        cols += [covered, conf.encode(), method.encode(), b"true" if near else b"false", dist]
        texts.append(b"," + b",".join(cols) + b"\n")
    lines = table.lines
    parts: list[bytes] = [b""] * (2 * len(lines))
    parts[0::2] = lines
    parts[1::2] = _tails(a, texts, b"%.1f")
    return head + b"," + ",".join(OUT_COLUMNS).encode() + b"\n" + b"".join(parts)


def write_jsonl(table: PointsTable, a: Answers) -> bytes:
    """One JSON object per point: lat, lon (as given) and the lookup's fields."""
    texts = []
    for state, country, territory, conf, method, near in a.table:
        obj = {
            "state": state or None,
            "country": country or None,
            "territory": territory or None,
            "covered": bool(state),
            "confidence": conf or None,
            "method": method,
            "near_border": near,
        }
        dist = "\x00" if method == "nearest" else "0.0" if state else "null"
        texts.append((", " + json.dumps(obj)[1:-1] + ', "distance_m": ' + dist + "}\n").encode())
    tails = _tails(a, texts, b"%.1f")
    if table.json_ready:
        # lat,lon as written: the comma of each row becomes the "lon" key.
        coords = table.body.replace(b",", b', "lon": ').split(b"\n")
    else:
        coords = [
            b'%r, "lon": %r' % (a, o)
            for a, o in zip(table.lat.tolist(), table.lon.tolist(), strict=True)
        ]
    parts: list[bytes] = [b'{"lat": '] * (3 * len(coords))
    parts[1::3] = coords
    parts[2::3] = tails
    return b"".join(parts)


def where_file(
    data: bytes, name: str, index: StateIndex, fmt: str = "csv", grid: WhereGrid | None = None
) -> bytes:
    """Look up every point of a CSV file; ``fmt`` is ``csv`` or ``jsonl``. ``grid``
    (``WhereGrid.load()``) makes a big file fast; the answers are the same without it."""
    table = read_points(data, name)
    bad = ~((np.abs(table.lat) <= 90) & (np.abs(table.lon) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = i + (2 if table.header is not None else 1)
        raise GeoError(
            f"{name}:{line}: ({table.lat[i]}, {table.lon[i]}) is not a position; give LAT in "
            "-90..90 and LON in -180..180 degrees (LAT first, or name the columns)"
        )
    a = lookup_answers(index, grid, table.lat, table.lon)
    return write_jsonl(table, a) if fmt == "jsonl" else write_csv(table, a)
