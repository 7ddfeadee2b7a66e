"""Read candump's text: ``.log`` files and ``candump ... | keilog decode -``.

Two of candump's outputs are read:

* its log format (``candump -L``, as in ``.log`` files): ``(1436509052.249713) can0
  123#11223344``;
* its default screen format, with or without ``-t a|d|z`` timestamps: ``(0.000000)
  can0  123   [4]  11 22 33 44`` (also ``remote request``, ``ERRORFRAME``, ``-a``'s ASCII
  column), on stdin only. python-can has no reader for it, so each line is rewritten
  into the log format first. Frames without a timestamp are timed when they arrive.

Why a reader of our own for the log format: python-can's CanutilsLogReader builds one
``can.Message`` per line in Python (~180k lines/s), which caps an import. Here whole
chunks of text are parsed at once with numpy: lines, spaces and ``#`` are found with
byte comparisons, the timestamp, id and data are gathered into fixed-width columns and
read as numbers. Only lines in the exact shape candump and python-can write take this
path (``(digits.digits) channel HEXID#HEXDATA`` with single spaces, an optional ``R``/``T``
direction, classic CAN); every other line (remote, CAN FD, error frames, extra blanks,
odd bytes) is given to python-can's own reader, one line at a time, so the frames are
python-can's in every case. A timestamp is exact: its digits are read as an integer and
divided by a power of ten, both exact in a double, so the quotient is the correctly
rounded value that ``float()`` gives (more than 2**53 in digits: python-can's path).

Sans-I/O: :class:`CandumpLogParser` takes chunks of bytes of any size and returns the
frames of the whole lines in them as a :class:`FrameBatch`, keeping the rest for the
next chunk. A line that cannot be read is skipped and listed in ``skipped`` (when asked
to), or ends the reading: the frames before it are returned and the line waits in
``stopped``. :func:`read_candump` drives the stdin parser from a binary stream, one batch
per read, so a live pipe's frames are decoded as they come and a file's in big batches.
"""

from __future__ import annotations

import io
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import can
import numpy as np
from numpy.typing import NDArray

from keilog.decode.frames import MAX_WIDTH, FrameBatch
from keilog.errors import LogFormatError

READ_BYTES = 1 << 16
_SCREEN = re.compile(
    r"^\((?P<ts>[0-9]+\.[0-9]+)\)\s+(?P<rest>.*)$|^(?P<plain>.*)$"
)  # fmt: skip
_FRAME = re.compile(
    r"^(?P<ch>\S+)\s+(?P<id>[0-9A-Fa-f]{1,8})\s+\[(?P<len>[0-9]{1,2})\]\s*(?P<data>.*)$"
)
_LOG = re.compile(r"^\([0-9]+\.[0-9]+\)\s+\S+\s+[0-9A-Fa-f]+#")
_HEX_BYTE = re.compile(r"^[0-9A-Fa-f]{2}$")
# What python-can's candump reader raises on a line it cannot read.
LINE_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError, struct.error)

_NOT_HEX = 16
_HEX_VALUE = np.full(256, _NOT_HEX, np.uint8)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX_VALUE[_c] = _i
    _HEX_VALUE[bytes([_c]).lower()[0]] = _i
_POW10 = 10.0 ** np.arange(19)
_TS_WIDTH = 17  # at most 16 digits and the dot between the parentheses
_EXACT = 1 << 53  # integers up to this are exact in a double
_PADDING = bytes(32)  # after a chunk's last line: see _parse_lines
_CAN_ERR_FLAG = 0x20000000
_CAN_ERR_BUSERROR = 0x80


@dataclass
class BadLine:
    """A line that is not a frame: its number (1-based), its text, and why."""

    line: int
    text: str
    error: Exception


@dataclass
class _Columns:
    """Columns of one chunk's lines, a row per line; ``present`` marks the frames."""

    n: int
    width: int = 8
    present: NDArray[np.bool_] = field(init=False)
    timestamp: NDArray[np.float64] = field(init=False)
    arbitration_id: NDArray[np.uint32] = field(init=False)
    is_extended: NDArray[np.bool_] = field(init=False)
    dlc: NDArray[np.uint8] = field(init=False)
    data: NDArray[np.uint8] = field(init=False)
    flags: dict[str, NDArray[np.bool_]] = field(init=False)

    def __post_init__(self) -> None:
        n = self.n
        self.present = np.zeros(n, np.bool_)
        self.timestamp = np.zeros(n, np.float64)
        self.arbitration_id = np.zeros(n, np.uint32)
        self.is_extended = np.zeros(n, np.bool_)
        self.dlc = np.zeros(n, np.uint8)
        self.data = np.zeros((n, self.width), np.uint8)
        self.flags = {}

    def put(self, row: int, msg: can.Message) -> None:
        """One python-can message at ``row``, as FrameBuilder would store it."""
        remote = bool(msg.is_remote_frame)
        payload = b"" if remote else bytes(msg.data)
        dlc = msg.dlc if remote else len(payload)
        if dlc < 0 or len(payload) > MAX_WIDTH:
            raise ValueError(f"{dlc} data bytes; CAN FD allows at most {MAX_WIDTH}")
        dlc = min(dlc, MAX_WIDTH)
        if dlc > self.width:
            wide = np.zeros((self.n, MAX_WIDTH), np.uint8)
            wide[:, : self.width] = self.data
            self.data, self.width = wide, MAX_WIDTH
        self.present[row] = True
        self.timestamp[row] = msg.timestamp
        self.arbitration_id[row] = msg.arbitration_id
        self.is_extended[row] = msg.is_extended_id
        self.dlc[row] = dlc
        self.data[row, : len(payload)] = np.frombuffer(payload, np.uint8)
        for name, value in (
            ("is_remote", remote),
            ("is_error", msg.is_error_frame),
            ("is_fd", msg.is_fd),
            ("bitrate_switch", msg.bitrate_switch),
            ("error_state_indicator", msg.error_state_indicator),
        ):
            if value:
                self.flags.setdefault(name, np.zeros(self.n, np.bool_))[row] = True

    def batch(self, upto: int) -> FrameBatch:
        keep = np.flatnonzero(self.present[:upto])
        return FrameBatch(
            timestamp=self.timestamp[keep],
            arbitration_id=self.arbitration_id[keep],
            is_extended=self.is_extended[keep],
            dlc=self.dlc[keep],
            data=self.data[keep],
            **{k: v[keep] if v[keep].any() else None for k, v in self.flags.items()},
        )


class CandumpLogParser:
    """Bytes of candump's log format in, FrameBatches out; ``name`` names the stream
    in errors. skip_bad_lines: a bad line goes to ``skipped`` instead of ``stopped``."""

    def __init__(self, name: str = "stdin", skip_bad_lines: bool = False) -> None:
        self.name = name
        self.skip_bad_lines = skip_bad_lines
        self.line = 0  # lines parsed so far
        self.skipped: list[BadLine] = []  # the caller takes them out as it likes
        self.stopped: BadLine | None = None
        self._rest = b""

    def feed(self, chunk: bytes) -> FrameBatch:
        """The frames of the whole lines in ``chunk`` (and what was left before it)."""
        data = self._rest + chunk if self._rest else chunk
        if b"\r" in data:
            # Universal newlines, as python-can's text readers see the file: \r\n and a
            # lone \r end a line (a \r at the very end may be the first half of \r\n).
            held = data.endswith(b"\r")
            data = data[:-1] if held else data
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if held else b"")
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        return self._parse(data[:cut])

    def close(self) -> FrameBatch:
        """The frame of a last line without a newline, if any."""
        rest, self._rest = self._rest.rstrip(b"\r"), b""
        return self._parse(rest + b"\n") if rest else FrameBatch.empty()

    def message(self, text: str) -> can.Message | None:
        """python-can's reading of one line that the bulk path did not take."""
        return next(iter(can.CanutilsLogReader(io.StringIO(text + "\n"))), None)

    def _parse(self, data: bytes) -> FrameBatch:
        """The frames of whole lines; at a bad line that is not skipped, those before it
        (the line is kept in ``stopped``, and nothing after it is read)."""
        if self.stopped is not None or not data:
            return FrameBatch.empty()
        buf = np.frombuffer(data + _PADDING, np.uint8)
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        cols = _Columns(len(ends))
        fast = _parse_lines(buf, starts, ends, cols)
        upto = len(ends)
        for row in np.flatnonzero(~fast).tolist():
            raw = data[starts[row] : ends[row]]
            text = raw.decode("utf-8", "replace")
            if not text.strip():
                continue
            try:
                msg = self.message(text.strip())
                if msg is not None:
                    cols.put(row, msg)
            except (*LINE_ERRORS, LogFormatError) as exc:
                bad = BadLine(self.line + row + 1, text.strip(), exc)
                if not self.skip_bad_lines:
                    self.stopped = bad
                    upto = row
                    break
                self.skipped.append(bad)
        self.line += upto
        return cols.batch(upto)


def _parse_lines(
    buf: NDArray[np.uint8], starts: NDArray[np.intp], ends: NDArray[np.intp], cols: _Columns
) -> NDArray[np.bool_]:
    """Parse the lines in candump's exact shape into ``cols``; return which they were."""
    n = len(starts)
    fast = np.zeros(n, np.bool_)
    spaces = np.flatnonzero(buf == 32)
    hashes = np.flatnonzero(buf == 35)
    if not n or not len(spaces) or not len(hashes):
        return fast
    odd = np.flatnonzero(np.subtract(buf, 32, dtype=np.uint8) > 94)  # not ' '..'~' (or \n)
    i0 = np.searchsorted(spaces, starts)
    nspace = np.searchsorted(spaces, ends) - i0
    j0 = np.searchsorted(hashes, starts)
    nhash = np.searchsorted(hashes, ends) - j0
    nodd = np.searchsorted(odd, ends) - np.searchsorted(odd, starts)
    last = len(spaces) - 1
    s0 = spaces[np.minimum(i0, last)]
    s1 = spaces[np.minimum(i0 + 1, last)]
    s2 = spaces[np.minimum(i0 + 2, last)]
    h = hashes[np.minimum(j0, len(hashes) - 1)]
    direction = nspace == 3  # "... 123#11 R": python-can's Rx/Tx column
    data_end = np.where(direction, s2, ends)
    last_byte = buf[np.maximum(ends - 1, 0)]
    ok = (nodd == 0) & (nhash == 1) & ((nspace == 2) | direction)
    ok &= ~direction | ((s2 == ends - 2) & np.isin(last_byte, np.frombuffer(b"RTrt", np.uint8)))
    ok &= (buf[starts] == 40) & (buf[np.maximum(s0 - 1, 0)] == 41) & (s0 - 1 > starts + 0)
    ok &= (s1 > s0 + 1) & (h > s1 + 1) & (h - s1 - 1 <= 8)
    n_data = data_end - h - 1
    ok &= (n_data >= 0) & (n_data <= 16) & (n_data % 2 == 0)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return fast
    # Gathers below reach up to 17 bytes before a line and 16 past its '#': ``buf`` ends
    # in zero padding, which negative positions also land in (and is masked).

    # Timestamps: the digits between the parentheses, read right-aligned column by
    # column (Horner), skipping the one dot; decimals are the digits after the dot.
    start, close = starts[rows], s0[rows] - 1
    good = (close - start - 1 <= _TS_WIDTH) & (close - start > 1)
    numerator = np.zeros(len(rows), np.int64)
    dot_at = np.full(len(rows), -1, np.intp)
    for back in range(_TS_WIDTH, 0, -1):
        at = close - back
        inside = at > start
        char = buf[at]
        digit = np.subtract(char, 48, dtype=np.uint8)
        is_digit = inside & (digit <= 9)
        is_dot = inside & (char == 46)
        good &= ~(inside & ~is_digit & ~is_dot) & ~(is_dot & (dot_at >= 0))
        dot_at[is_dot] = at[is_dot]
        numerator = np.where(is_digit, numerator * 10 + digit, numerator)
    decimals = np.where(dot_at >= 0, close - dot_at - 1, 0)
    good &= numerator <= _EXACT
    timestamp = numerator / _POW10[decimals]

    # Ids: 1 to 8 hex digits before the '#'.
    hash_at = h[rows]
    ident = np.zeros(len(rows), np.int64)
    for back in range(8, 0, -1):
        at = hash_at - back
        inside = at > s1[rows]
        nibble = _HEX_VALUE[buf[at]]
        good &= ~(inside & (nibble == _NOT_HEX))
        ident = np.where(inside, (ident << 4) | nibble, ident)
    # candump's error frames (CAN_ERR_FLAG with a bus error) are python-can's to read.
    good &= ~(((ident & _CAN_ERR_FLAG) != 0) & ((ident & _CAN_ERR_BUSERROR) != 0))

    # Data: up to 16 hex digits after the '#', two to a byte.
    length = n_data[rows]
    nibble = _HEX_VALUE[buf[hash_at[:, None] + 1 + np.arange(16)]]
    nibble[np.arange(16) >= length[:, None]] = 0
    good &= (nibble != _NOT_HEX).all(axis=1)
    payload = (nibble[:, 0::2] << 4) | nibble[:, 1::2]

    rows, keep = rows[good], np.flatnonzero(good)
    fast[rows] = True
    cols.present[rows] = True
    cols.timestamp[rows] = timestamp[keep]
    cols.arbitration_id[rows] = (ident[keep] & 0x1FFFFFFF).astype(np.uint32)
    cols.is_extended[rows] = (hash_at[keep] - s1[rows] - 1) > 3
    cols.dlc[rows] = length[keep] // 2
    cols.data[rows] = payload[keep]
    return fast


class CandumpParser(CandumpLogParser):
    """The stdin reader: candump's log format, or its screen format rewritten into it.
    A bad line ends the reading; its error waits in ``error``."""

    def __init__(self, name: str = "stdin") -> None:
        super().__init__(name)

    @property
    def error(self) -> LogFormatError | None:
        bad = self.stopped
        if bad is None:
            return None
        if isinstance(bad.error, LogFormatError):
            return bad.error
        return self._error(bad.line, bad.text, str(bad.error))

    def message(self, text: str) -> can.Message | None:
        line = text if _LOG.match(text) else self._screen_line(text)
        return super().message(line)

    def _screen_line(self, text: str) -> str:
        """A line of candump's screen output rewritten in its log format."""
        head = _SCREEN.match(text)
        assert head is not None  # the pattern's second branch matches any line
        stamp = head.group("ts") or f"{time.time():.6f}"
        frame = _FRAME.match(head.group("rest") if head.group("ts") else head.group("plain"))
        if frame is None:
            raise _ScreenError("not a frame line")
        ident = frame.group("id").upper()
        length = int(frame.group("len"))
        fields = frame.group("data").split()
        if fields[:2] == ["remote", "request"]:
            payload = f"R{length}" if length else "R"
        else:
            octets = fields[:length]
            if len(octets) < length or not all(_HEX_BYTE.match(b) for b in octets):
                raise _ScreenError(f"[{length}] but not {length} hex data bytes")
            payload = "".join(octets)
            if length > 8:
                payload = "#0" + payload  # CAN FD (candump's FD lines, flags unknown)
        # candump prints 11-bit ids as 3 digits, 29-bit (and error) ids as 8.
        ident = ident.zfill(3) if len(ident) <= 3 else ident.zfill(8)
        return f"({stamp}) {frame.group('ch')} {ident}#{payload}"

    def _error(self, line: int, text: str, why: str) -> LogFormatError:
        shown = text if len(text) <= 60 else text[:57] + "..."
        return LogFormatError(
            f"{self.name} line {line}: cannot read {shown!r} as candump output ({why}); "
            "pipe candump -L (its log format) or candump's default output"
        )


class _ScreenError(ValueError):
    """A screen-format line that is not a frame (the message says why)."""


def read_candump(stream: BinaryIO, name: str = "stdin") -> Iterator[FrameBatch]:
    """Batches of the frames on ``stream``, one per read (a read returns what is there)."""
    parser = CandumpParser(name)
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(READ_BYTES)
        batch = parser.feed(chunk) if chunk else parser.close()
        if len(batch):
            yield batch
        if parser.error is not None:
            raise parser.error
        if not chunk:
            return
