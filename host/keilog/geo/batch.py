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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

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
_MAX_WIDTH = 19  # wider fields cannot be below 2**53 without leading zeros: slow path
# _KEEP[w][k]: a row of w characters with the first k masked out (the field is the rest).
_KEEP = [np.arange(w) >= np.arange(w + 1)[:, None] for w in range(_MAX_WIDTH + 1)]
_CHUNK_ROWS = 1 << 16  # rows parsed, and written, at a time
_SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class PointsTable:
    """The rows of a points file (where they are in its bytes) and their coordinates."""

    header: bytes | None
    text: bytes  # the file's bytes (without a BOM, with \n line ends)
    body_start: int  # the first row starts here
    body_end: int  # the last row ends here (trailing newlines excluded)
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    lat_col: int
    lon_col: int
    ncols: int
    newlines: npt.NDArray[np.int64]  # where each row but the last ends in text
    json_ready: bool = False  # the only two columns are lat,lon and valid JSON numbers

    def __len__(self) -> int:
        return len(self.lat)

    def text_of(self, lo: int, hi: int) -> bytes:
        """Rows lo..hi-1 as they are in the file, without the newline after the last."""
        first = self.body_start if lo == 0 else int(self.newlines[lo - 1]) + 1
        last = self.body_end if hi == len(self) else int(self.newlines[hi - 1])
        return self.text[first:last]

    def rows(self, lo: int, hi: int) -> list[bytes]:
        """Rows lo..hi-1, without their newlines."""
        return self.text_of(lo, hi).split(b"\n") if hi > lo else []

    @property
    def lines(self) -> list[bytes]:
        return self.rows(0, len(self))


def read_points(data: bytes, name: str) -> PointsTable:
    """Parse CSV bytes with a lat and a lon column. With a header, the columns are found
    by name (lat/latitude, lon/lng/longitude); without one, they are the first two."""
    # Offsets into the bytes rather than slices of them: a slice of a big file is a copy.
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n")
    end = len(text)
    while end and text[end - 1] == 10:
        end -= 1
    if not end:
        raise GeoError(f"{name}: no points; give a CSV file with lat,lon columns")
    first_end = text.find(b"\n", 0, end)
    first_end = end if first_end < 0 else first_end
    first = text[:first_end]
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
        start, line0 = min(first_end + 1, end), 2
    else:
        start, line0 = 0, 1
    ncols = first.count(b",") + 1
    if ncols < 2:
        raise GeoError(f"{name}:1: expected lat,lon columns separated by a comma")
    b = np.frombuffer(text, dtype=np.uint8, count=end)
    if start == end:
        empty = np.zeros(0)
        none = np.zeros(0, dtype=np.int64)
        return PointsTable(header, text, start, end, empty, empty, lat_col, lon_col, ncols, none)
    sep = _separators(b, start)
    kinds = b[sep]
    fast = _parse_columns(text, b, start, sep, kinds, ncols, (lat_col, lon_col))
    if fast is not None:
        lat, lon, json_numbers = fast
        json_ready = json_numbers and ncols == 2 and (lat_col, lon_col) == (0, 1)
        newlines = sep[ncols - 1 :: ncols]  # a view: every row has ncols - 1 commas
        return PointsTable(
            header, text, start, end, lat, lon, lat_col, lon_col, ncols, newlines, json_ready
        )
    newlines = sep[kinds == 10]
    values = _parse_loadtxt(memoryview(text)[start:end], (lat_col, lon_col), name, line0)
    if len(values) != len(newlines) + 1:
        raise GeoError(
            f"{name}: {len(newlines) + 1} rows but {len(values)} positions; remove blank rows"
        )
    return PointsTable(
        header, text, start, end, values[:, 0], values[:, 1], lat_col, lon_col, ncols, newlines
    )


def _separators(b: npt.NDArray[np.uint8], start: int) -> npt.NDArray[np.int64]:
    """Where every comma and newline of b from ``start`` on is, in order."""
    # Block by block: the temporaries stay small and are reused, where whole-file ones
    # would each be fresh memory the size of the file (page faults cost more than the
    # comparisons).
    parts = [np.zeros(0, dtype=np.int64)]
    for lo in range(start, len(b), _SCAN_BYTES):
        block = b[lo : lo + _SCAN_BYTES]
        parts.append(np.flatnonzero((block == 10) | (block == 44)) + lo)
    return np.concatenate(parts)


def _parse_columns(
    text: bytes,
    b: npt.NDArray[np.uint8],
    start: int,
    sep: npt.NDArray[np.int64],
    kinds: npt.NDArray[np.uint8],
    ncols: int,
    cols: tuple[int, int],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], bool] | None:
    """The two columns of plain decimals, and whether they are JSON numbers as written;
    None unless every row has ncols unquoted fields and those two are plain decimals."""
    if text.find(b'"', start, len(b)) >= 0 or (len(sep) + 1) % ncols:
        return None
    nrows = (len(sep) + 1) // ncols
    # Every row: ncols - 1 commas, then a newline (the last row: the end of the body).
    layout = np.append(kinds, np.uint8(10)).reshape(nrows, ncols)
    if not (np.all(layout[:, :-1] == 44) and np.all(layout[:, -1] == 10)):
        return None
    lat = np.empty(nrows)
    lon = np.empty(nrows)
    json_numbers = True
    for lo in range(0, nrows, _CHUNK_ROWS):
        hi = min(lo + _CHUNK_ROWS, nrows)
        # Where each field of these rows ends (the last one: the end of the body), and
        # where the row before them ends.
        ends = sep[lo * ncols : hi * ncols]
        if hi == nrows:
            ends = np.append(ends, len(b))
        ends = ends.reshape(hi - lo, ncols)
        before = start - 1 if lo == 0 else int(sep[lo * ncols - 1])
        row_start = np.append(before, ends[:-1, -1]) + 1
        bounds = [(ends[:, c - 1] + 1 if c else row_start, ends[:, c]) for c in cols]
        parsed = parse_decimals(
            b,
            np.concatenate([bounds[0][0], bounds[1][0]]),
            np.concatenate([bounds[0][1], bounds[1][1]]),
        )
        if parsed is None:
            return None
        values, json_chunk = parsed
        lat[lo:hi] = values[: hi - lo]
        lon[lo:hi] = values[hi - lo :]
        json_numbers &= json_chunk
    return lat, lon, json_numbers


def parse_decimals(
    b: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], bool] | None:
    """The fields ``b[start:end]`` as float64, exactly as ``float()`` reads them, and
    whether all are JSON numbers as written; None unless every field is a plain decimal
    (an optional sign, digits, at most one dot, at least one digit, at most 15 or so
    significant digits)."""
    if not len(start):
        return np.zeros(0), True
    if np.any(end <= start):
        return None  # an empty field
    n = len(b)
    lead = b[start]
    negative = lead == 45
    pos = start + (negative | (lead == 43))
    width = end - pos  # digits and the dot
    if width.min() < 1 or width.max() > _MAX_WIDTH:
        return None
    w = int(width.max())
    # Each field right-aligned in a row of w characters; what lies left of it is zeroed
    # (leading zeros change nothing), so the digits are w columns of whole-array work.
    left = end - w
    rows = sliding_window_view(b, w)[np.maximum(left, 0)]
    for i in np.flatnonzero(left < 0).tolist():  # fields at the very start of b
        rows[i, w - int(end[i]) :] = b[: int(end[i])]
    rows -= np.uint8(48)  # digits 0-9; '.' wraps to 254
    np.multiply(rows, _KEEP[w][w - width].view(np.uint8), out=rows)
    dot = rows == 254
    if not np.all((rows < 10) | dot):
        return None
    n_dots = np.count_nonzero(dot)
    at = np.flatnonzero(dot[0])
    if n_dots == len(start) and len(at) == 1 and np.all(dot[:, at[0]]):
        # One dot in every field, in the same place (fixed decimals, as GPS tools and
        # printf write them): the other columns are the digits.
        if np.any(width < 2):
            return None  # a dot without a digit
        frac: int | npt.NDArray[np.int64] = w - 1 - int(at[0])
        digits = [rows[:, j] for j in range(w) if j != at[0]]
    else:
        dot_row, dot_col = np.divmod(np.flatnonzero(dot), w)
        if np.any(dot_row[1:] == dot_row[:-1]) or np.any(width[dot_row] < 2):
            return None  # two dots, or a dot without a digit
        # Take the dot out: the characters left of it move one column right.
        where_dot = np.full(len(start), -1)
        where_dot[dot_row] = dot_col
        shifted = np.zeros_like(rows)
        shifted[:, 1:] = rows[:, :-1]
        rows = np.where(np.arange(w) <= where_dot[:, None], shifted, rows)
        frac = np.where(where_dot < 0, 0, w - 1 - where_dot)
        digits = [rows[:, j] for j in range(w)]
    # The digits as an integer in float64: exact while below 2**53, and at or above it
    # whenever the true integer is (then the field goes to the slow path).
    mantissa = np.zeros(len(start))
    for column in digits:
        mantissa *= 10.0
        mantissa += column
    if np.any(mantissa >= 2.0**53):
        return None
    # One correctly rounded division by an exact power of ten (negated for '-').
    value = mantissa / np.where(negative, -_POW10[frac], _POW10[frac])
    # JSON: no '+', a digit first and last, no leading zero before another digit.
    first = b[pos]
    second = b[np.minimum(pos + 1, n - 1)]
    json_numbers = not (
        np.any(lead == 43)
        or np.any(first == 46)
        or np.any(b[end - 1] == 46)
        or np.any((first == 48) & (width > 1) & (second != 46))
    )
    return value, json_numbers


def _parse_loadtxt(
    body: memoryview, cols: tuple[int, int], name: str, line0: int
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


def _tails(a: Answers, texts: list[bytes], lo: int, hi: int, distance_text: bytes) -> list[bytes]:
    """Per point lo..hi-1: the text of its answer, with ``distance_text % d`` filled in for
    the water-fallback answers (distance to the nearest state)."""
    out: list[bytes] = np.array(texts, dtype=object)[a.code[lo:hi]].tolist()
    at = np.flatnonzero(a.fallback[lo:hi])
    if len(at):
        # Python ints and floats: indexing numpy arrays one element at a time is slow.
        codes = a.code[lo:hi][at].tolist()
        distances = a.distance_m[lo:hi][at].tolist()
        parts = [t.partition(b"\x00") for t in texts]
        for i, code, d in zip(at.tolist(), codes, distances, strict=True):
            before, _, after = parts[code]
            out[i] = before + distance_text % d + after
    return out


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, _CHUNK_ROWS):
        yield lo, min(lo + _CHUNK_ROWS, n)


def write_csv(table: PointsTable, a: Answers) -> Iterator[bytes]:
    """The input rows with the lookup's columns appended, a block of rows at a time."""
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
    yield head + b"," + ",".join(OUT_COLUMNS).encode() + b"\n"
    for lo, hi in _chunks(len(table)):
        parts: list[bytes] = [b""] * (2 * (hi - lo))
        parts[0::2] = table.rows(lo, hi)
        parts[1::2] = _tails(a, texts, lo, hi, b"%.1f")
        yield b"".join(parts)


def write_jsonl(table: PointsTable, a: Answers) -> Iterator[bytes]:
    """One JSON object per point: lat, lon (as given) and the lookup's fields, a block of
    rows at a time."""
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
    for lo, hi in _chunks(len(table)):
        if table.json_ready:
            # lat,lon as written: the comma of each row becomes the "lon" key.
            coords = table.text_of(lo, hi).replace(b",", b', "lon": ').split(b"\n")
        else:
            coords = [
                b'%r, "lon": %r' % (a, o)
                for a, o in zip(table.lat[lo:hi].tolist(), table.lon[lo:hi].tolist(), strict=True)
            ]
        parts: list[bytes] = [b'{"lat": '] * (3 * (hi - lo))
        parts[1::3] = coords
        parts[2::3] = _tails(a, texts, lo, hi, b"%.1f")
        yield b"".join(parts)


def where_file_chunks(
    data: bytes, name: str, index: StateIndex, fmt: str = "csv", grid: WhereGrid | None = None
) -> Iterator[bytes]:
    """Look up every point of a CSV file; ``fmt`` is ``csv`` or ``jsonl``. ``grid``
    (``WhereGrid.load()``) makes a big file fast; the answers are the same without it.

    The file is read and every point looked up before this returns (so a bad file raises
    here, before anything is written); the output comes a block of rows at a time, so it
    is never all in memory at once."""
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


def where_file(
    data: bytes, name: str, index: StateIndex, fmt: str = "csv", grid: WhereGrid | None = None
) -> bytes:
    """``where_file_chunks`` as one bytes object."""
    return b"".join(where_file_chunks(data, name, index, fmt, grid))
