# keilog USB sync protocol, version 1: frames, byte stuffing, decoders, payload layouts.
# The specification is docs/sync-protocol.md; this module is its only implementation.
#
# ONE module for both ends: the firmware imports it as logger.syncproto and the host
# (keilog.sync.proto) loads this very file from the firmware tree, so the device
# (MicroPython) and the host (CPython) frame bytes with the same code. It keeps to the
# subset both run: struct, binascii.crc32, bytearray and memoryview; no f-strings, no
# typing imports (annotations are plain builtins, which MicroPython ignores).
#
# A frame: magic "KS", type, flags, seq, length, header check, payload, CRC-32.
#   0  u8   0x4B 'K'      |
#   1  u8   0x53 'S'      |
#   2  u8   type          | command code; replies are command | 0x80; 0xFF is an error
#   3  u8   flags         | 0 in version 1
#   4  u16  seq           | chosen by the host, echoed in the reply
#   6  u16  length        | payload bytes
#   8  u16  hcrc          | crc32(bytes 0..7) & 0xFFFF: a bad length is caught at once
#  10  ...  payload
#  10+len u32 crc         | crc32(bytes 0 .. 9+len): header and payload
# All integers little-endian. Host-to-device frames are byte-stuffed (stuff()) so that
# 0x03 (Ctrl-C) never crosses the link raw: a terminal's Ctrl-C still reaches the REPL
# and a sync host can never interrupt the logger. Device-to-host frames go as they are.
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:  # CPython: the host loads this file too

    def const(__expr):
        return __expr


PROTOCOL_VERSION = const(1)

MAGIC0 = const(0x4B)
MAGIC1 = const(0x53)
MAGIC = b"KS"
HEADER_SIZE = const(10)
TRAILER_SIZE = const(4)
OVERHEAD = const(14)
# Largest payload either side may send; a longer length is a corrupt header.
MAX_PAYLOAD = const(16384)
# Largest request payload a device must accept (a device may accept more).
MAX_REQUEST = const(1024)
# READ data per reply unless the device says less in HELLO.
MAX_DATA = const(4096)

# Byte stuffing of host-to-device frames: ESC then the byte XOR 0x20, for 0x03 and ESC.
ESC = const(0x7D)
INTR = const(0x03)
ESC_XOR = const(0x20)

# Commands (request type); the reply's type is the command | REPLY.
HELLO = const(0x01)
LIST = const(0x02)
STAT = const(0x03)
READ = const(0x04)
ACK = const(0x05)
SET_CLOCK = const(0x06)
CONFIG_GET = const(0x07)
CONFIG_PUT = const(0x08)
COUNTERS = const(0x09)
ROTATE = const(0x0A)
BYE = const(0x0B)
REPLY = const(0x80)
ERROR = const(0xFF)

# Error codes (the ERROR payload is <H code then a UTF-8 message).
E_VERSION = const(1)
E_NO_SESSION = const(2)
E_UNKNOWN = const(3)
E_BAD_REQUEST = const(4)
E_NOT_FOUND = const(5)
E_NOT_SEALED = const(6)
E_MISMATCH = const(7)
E_BUSY = const(8)
E_IO = const(9)
E_CONFIG = const(10)
E_UNSUPPORTED = const(11)

ERROR_NAMES = {
    1: "version",
    2: "no session",
    3: "unknown command",
    4: "bad request",
    5: "not found",
    6: "not sealed",
    7: "mismatch",
    8: "busy",
    9: "i/o error",
    10: "config rejected",
    11: "unsupported",
}

# HELLO capability bits: what this device can do beyond listing, reading and acking.
CAP_CLOCK = const(1)
CAP_ROTATE = const(2)
CAP_CONFIG = const(4)

# Segment entry flags.
F_SEALED = const(1)
F_ACKED = const(2)
F_HASHED = const(4)

# LIST request flags.
L_ACKED = const(1)

# Payload layouts (struct formats). Version 1 freezes the first two fields of HELLO and
# of its reply for every later version, so that any two versions can tell each other
# apart and say which side to update.
FMT_HELLO_REQ = "<HH"  # version, reserved (0)
# version, accepted, caps, firmware major/minor/patch, max_data, boot, device_id, board,
# free KiB, total KiB, monotonic time (2**30 us periods, us), utc known, day, ms, us
FMT_HELLO = "<HBB3BHI16s16sIIIIBHIH"
FMT_LIST_REQ = "<12sBB"  # list names after this one (zeros: from the start), flags, max
FMT_LIST = "<BB"  # entries that follow, 1 if there are more after them
FMT_ENTRY = "<12sIB32s"  # name, size, flags, sha256 (zeros unless F_HASHED)
FMT_NAME = "<12s"
FMT_READ_REQ = "<12sIH"  # name, offset, length
FMT_READ = "<IIB"  # offset, readable size now, entry flags; the data follows
FMT_ACK_REQ = "<12sI32s"  # name, size, sha256 the host stored
FMT_CLOCK_REQ = "<HIH"  # UTC day since 1970, ms of day, us
FMT_CLOCK = "<BHIHII"  # device UTC before: known, day, ms, us; anchor time hi, lo
FMT_OFFSET = "<I"  # CONFIG_GET request; CONFIG_GET reply (total, then bytes)
FMT_CONFIG_PUT_REQ = "<II"  # offset, total; then the bytes
FMT_ERROR = "<H"

ENTRY_SIZE = const(49)
READ_HEADER = const(9)
HELLO_SIZE = const(70)

# Segment names on the wire: always the canonical BBBBSSSS.KLG (12 ASCII bytes).
NAME_SIZE = const(12)


def is_segment_name(name):
    # BBBBSSSS.KLG: 8 upper-case hex digits (docs/log-format.md).
    if len(name) != 12 or name[8:] != ".KLG":
        return False
    for c in name[:8]:
        if c not in "0123456789ABCDEF":
            return False
    return True


class FrameBuffer:
    # One preallocated frame: the payload goes in at HEADER_SIZE (self.payload is a view
    # of it), finish() writes header and CRC and returns a view of the whole frame. The
    # views are cached by length, so a run of equal-sized frames allocates nothing.
    def __init__(self, capacity):
        self.capacity = capacity
        self.buf = bytearray(HEADER_SIZE + capacity + TRAILER_SIZE)
        self.mv = memoryview(self.buf)
        self.head = self.mv[0:8]
        self.payload = self.mv[HEADER_SIZE : HEADER_SIZE + capacity]
        self._n = -1
        self._body = self.head
        self._frame = self.head

    def finish(self, kind, seq, n):
        buf = self.buf
        struct.pack_into("<BBBBHH", buf, 0, MAGIC0, MAGIC1, kind, 0, seq & 0xFFFF, n)
        struct.pack_into("<H", buf, 8, crc32(self.head) & 0xFFFF)
        if n != self._n:
            self._n = n
            self._body = self.mv[0 : HEADER_SIZE + n]
            self._frame = self.mv[0 : HEADER_SIZE + n + TRAILER_SIZE]
        struct.pack_into("<I", buf, HEADER_SIZE + n, crc32(self._body) & 0xFFFFFFFF)
        return self._frame


def encode(kind, seq, payload):
    # One frame as bytes (allocates: for the host and for tests).
    n = len(payload)
    fb = FrameBuffer(n)
    fb.payload[0:n] = payload
    return bytes(fb.finish(kind, seq, n))


def stuff(frame):
    # Host to device: escape ESC first, then 0x03, so that no raw 0x03 is left.
    return bytes(frame).replace(b"\x7d", b"\x7d\x5d").replace(b"\x03", b"\x7d\x23")


def unstuff(data):
    # The inverse of stuff() for a whole buffer (tests and tools; the device uses
    # StuffedReader). A dangling ESC at the end is dropped.
    out = bytearray()
    esc = False
    for b in data:
        if esc:
            out.append(b ^ ESC_XOR)
            esc = False
        elif b == ESC:
            esc = True
        else:
            out.append(b)
    return bytes(out)


def _header_ok(buf, head, capacity):
    # The length a header at buf[0:10] announces, or -1 when the header is corrupt;
    # head is buf[0:8] (a view the caller keeps, so that checking allocates nothing).
    if buf[0] != MAGIC0 or buf[1] != MAGIC1:
        return -1
    length = buf[6] | (buf[7] << 8)
    if length > capacity:
        return -1
    if crc32(head) & 0xFFFF != buf[8] | (buf[9] << 8):
        return -1
    return length


class StuffedReader:
    # The device's request decoder: fed byte-stuffed bytes in any chunk sizes, it
    # assembles one frame at a time in a preallocated buffer. After feed() returns with
    # self.ready set, the frame is self.kind, self.seq and buf[HEADER_SIZE:][:length].
    # Allocates nothing per byte; one CRC per frame.
    def __init__(self, capacity=MAX_REQUEST):
        self.capacity = capacity
        self.buf = bytearray(HEADER_SIZE + capacity + TRAILER_SIZE)
        self.mv = memoryview(self.buf)
        self.head = self.mv[0:8]
        self.pos = 0
        self.need = HEADER_SIZE
        self.esc = False
        self.ready = False
        self.kind = 0
        self.seq = 0
        self.length = 0
        # counters, for COUNTERS and the tests
        self.frames = 0
        self.crc_errors = 0
        self.header_errors = 0
        self.skipped = 0

    # Feed data[start:end]. Stops right after a complete frame (self.ready); returns the
    # index of the first byte not consumed.
    def feed(self, data, start, end):
        i = start
        while i < end:
            b = data[i]
            i += 1
            if self.esc:
                self.esc = False
                b ^= ESC_XOR
            elif b == ESC:
                if self.pos:
                    self.esc = True  # between frames an ESC is noise: a frame's magic
                else:  # is never escaped
                    self.skipped += 1
                continue
            elif b == INTR:
                # A raw 0x03 is never part of a stuffed stream (a terminal sent it).
                self.skipped += self.pos + 1
                self.pos = 0
                self.need = HEADER_SIZE
                continue
            if self._byte(b):
                return i
        return i

    def _byte(self, b):
        pos = self.pos
        if pos == 0:
            if b != MAGIC0:
                self.skipped += 1
                return False
        elif pos == 1 and b != MAGIC1:
            self.skipped += 1
            if b != MAGIC0:
                self.pos = 0
                self.skipped += 1
            return False
        buf = self.buf
        buf[pos] = b
        pos += 1
        self.pos = pos
        if pos == HEADER_SIZE:
            length = _header_ok(buf, self.head, self.capacity)
            if length < 0:
                self.header_errors += 1
                self._rescan()
                return False
            self.need = HEADER_SIZE + length + TRAILER_SIZE
            return False
        if pos == self.need:
            self.pos = 0
            self.need = HEADER_SIZE
            length = pos - OVERHEAD
            crc = buf[pos - 4] | (buf[pos - 3] << 8) | (buf[pos - 2] << 16) | (buf[pos - 1] << 24)
            if crc32(self.mv[0 : pos - 4]) & 0xFFFFFFFF != crc:
                self.crc_errors += 1
                self.skipped += pos
                return False
            self.kind = buf[2]
            self.seq = buf[4] | (buf[5] << 8)
            self.length = length
            self.frames += 1
            self.ready = True
            return True
        return False

    # A bad header: look for the next magic in the 9 bytes after the first one.
    def _rescan(self):
        buf = self.buf
        n = self.pos
        self.pos = 0
        self.need = HEADER_SIZE
        self.skipped += 1
        for j in range(1, n):
            self._byte(buf[j])  # writes only below j: safe in place


class Decoder:
    # The host's reply decoder: fed raw bytes in any chunk sizes, returns the complete
    # frames as (type, seq, payload bytes) tuples and keeps the leftover. Bytes that are
    # not frames (REPL text, noise) are skipped and counted; after a bad header or CRC
    # the search resumes one byte after the failed frame's start.
    def __init__(self, max_payload=MAX_PAYLOAD):
        self.max_payload = max_payload
        self.buf = bytearray()
        self.frames = 0
        self.crc_errors = 0
        self.header_errors = 0
        self.skipped = 0

    def feed(self, data):
        buf = self.buf
        buf.extend(data)
        out = []
        i = 0
        n = len(buf)
        while i < n:
            j = buf.find(MAGIC, i)
            if j < 0:
                # keep a last 'K': it may be the first half of the next magic
                j = n - 1 if buf[n - 1] == MAGIC0 else n
                self.skipped += j - i
                i = j
                break
            self.skipped += j - i
            i = j
            if n - j < HEADER_SIZE:
                break
            head = buf[j : j + HEADER_SIZE]
            length = _header_ok(head, head[0:8], self.max_payload)
            if length < 0:
                self.header_errors += 1
                self.skipped += 1
                i = j + 1
                continue
            end = j + HEADER_SIZE + length + TRAILER_SIZE
            if end > n:
                break
            (crc,) = struct.unpack_from("<I", buf, end - 4)
            if crc32(buf[j : end - 4]) & 0xFFFFFFFF != crc:
                self.crc_errors += 1
                self.skipped += 1
                i = j + 1
                continue
            out.append((buf[j + 2], buf[j + 4] | (buf[j + 5] << 8), bytes(buf[j + 10 : end - 4])))
            self.frames += 1
            i = end
        if i:
            del buf[:i]
        return out

    def reset(self):
        self.skipped += len(self.buf)
        self.buf = bytearray()


def error_payload(code, message):
    return struct.pack(FMT_ERROR, code) + message.encode()


def version_advice(host_version, device_version):
    # Which side to update when the versions differ (the same words on both ends).
    if host_version > device_version:
        return (
            "the device speaks sync protocol %d and this host speaks %d: update the "
            "firmware on the device (keilog deploy)" % (device_version, host_version)
        )
    return (
        "the device speaks sync protocol %d and this host speaks %d: update keilog on "
        "this computer (pip install --upgrade keilog)" % (device_version, host_version)
    )
