"""Read candump's output from a stream (``candump -L can0 | keilog decode -``).

Two of candump's outputs are read:

* its log format (``candump -L``, as in ``.log`` files): ``(1436509052.249713) can0
  123#11223344``, parsed by python-can's own reader (CanutilsLogReader);
* its default screen format, with or without ``-t a|d|z`` timestamps: ``(0.000000)
  can0  123   [4]  11 22 33 44`` (also ``remote request``, ``ERRORFRAME``, ``-a``'s ASCII
  column). python-can has no reader for it, so each line is rewritten here into the log
  format first. Frames without a timestamp are timed when they arrive.

Sans-I/O: :class:`CandumpParser` takes chunks of bytes of any size and returns the frames
of the whole lines in them, keeping the rest for the next chunk; :func:`read_candump`
drives it from a binary stream, one batch per read, so a live pipe's frames are decoded
as they come and a file's in big batches.
"""

from __future__ import annotations

import io
import re
import struct
import time
from collections.abc import Iterator
from typing import BinaryIO

import can

from keilog.decode.frames import FrameBatch, FrameBuilder
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


class CandumpParser:
    """Bytes in, python-can messages out; ``name`` names the stream in errors."""

    def __init__(self, name: str = "stdin") -> None:
        self.name = name
        self.line = 0
        self.error: LogFormatError | None = None
        self._rest = b""

    def feed(self, chunk: bytes) -> list[can.Message]:
        """The frames of the whole lines in ``chunk`` (and what was left before it)."""
        data = self._rest + chunk
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        return self._parse(data[:cut])

    def close(self) -> list[can.Message]:
        """The frame of a last line without a newline, if any."""
        rest, self._rest = self._rest, b""
        return self._parse(rest + b"\n") if rest.strip() else []

    def _parse(self, data: bytes) -> list[can.Message]:
        """The frames of whole lines; at a bad line, those before it, and the error is
        kept in ``error`` (the caller uses the good frames first, then raises it)."""
        messages: list[can.Message] = []
        if self.error is not None:
            return messages
        for raw in data.splitlines():
            self.line += 1
            text = raw.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                line = text if _LOG.match(text) else self._screen_line(text)
                messages.extend(can.CanutilsLogReader(io.StringIO(line + "\n")))
            except LogFormatError as exc:
                self.error = exc
                break
            except (ValueError, IndexError, KeyError, struct.error) as exc:
                self.error = self._error(text, str(exc))
                break
        return messages

    def _screen_line(self, text: str) -> str:
        """A line of candump's screen output rewritten in its log format."""
        head = _SCREEN.match(text)
        assert head is not None  # the pattern's second branch matches any line
        stamp = head.group("ts") or f"{time.time():.6f}"
        frame = _FRAME.match(head.group("rest") if head.group("ts") else head.group("plain"))
        if frame is None:
            raise self._error(text, "not a frame line")
        ident = frame.group("id").upper()
        length = int(frame.group("len"))
        fields = frame.group("data").split()
        if fields[:2] == ["remote", "request"]:
            payload = f"R{length}" if length else "R"
        else:
            octets = fields[:length]
            if len(octets) < length or not all(_HEX_BYTE.match(b) for b in octets):
                raise self._error(text, f"[{length}] but not {length} hex data bytes")
            payload = "".join(octets)
            if length > 8:
                payload = "#0" + payload  # CAN FD (candump's FD lines, flags unknown)
        # candump prints 11-bit ids as 3 digits, 29-bit (and error) ids as 8.
        ident = ident.zfill(3) if len(ident) <= 3 else ident.zfill(8)
        return f"({stamp}) {frame.group('ch')} {ident}#{payload}"

    def _error(self, text: str, why: str) -> LogFormatError:
        shown = text if len(text) <= 60 else text[:57] + "..."
        return LogFormatError(
            f"{self.name} line {self.line}: cannot read {shown!r} as candump output ({why}); "
            "pipe candump -L (its log format) or candump's default output"
        )


def read_candump(stream: BinaryIO, name: str = "stdin") -> Iterator[FrameBatch]:
    """Batches of the frames on ``stream``, one per read (a read returns what is there)."""
    parser = CandumpParser(name)
    read = getattr(stream, "read1", stream.read)
    while True:
        chunk = read(READ_BYTES)
        messages = parser.feed(chunk) if chunk else parser.close()
        if messages:
            yield FrameBuilder(None).extend(messages).build()
        if parser.error is not None:
            raise parser.error
        if not chunk:
            return
