# Log format v1 encoder: records packed into 512-byte blocks (docs/log-format.md).
#
# One BlockEncoder owns one preallocated 512-byte buffer. The add_* methods are
# non-allocating: they write with struct.pack_into and byte stores only, and return
# False when the record does not fit (the caller seals the block and starts another).
# Every integer they handle stays below 2**30, so it is a small int on 32-bit ports
# too: times are offsets from the block's base, the base itself is split into a
# 2**30-microsecond period count and the microseconds within the period. The block's
# CRC-32 is computed here in 8- and 24-bit parts for the same reason (see _crc).
import struct
import time
from array import array

from micropython import const

FORMAT_VERSION = const(1)
BLOCK_SIZE = const(512)
HEADER_SIZE = const(24)
PAYLOAD_SIZE = const(488)
MAGIC = b"KLB1"
# Offsets are kept below 2**29 us (about 9 minutes) so that they are small ints.
MAX_OFFSET_US = const(0x1FFFFFFF)
PERIOD_US = const(0x40000000)  # 2**30: the base time's period

# Record tags: high nibble is the type, low nibble the DLC for CAN types.
T_CAN_STD = const(0x10)
T_CAN_EXT = const(0x20)
T_CAN_RTR = const(0x30)
T_CAN_ERR = const(0x40)
T_GPS = const(0x50)
T_EVENT = const(0x60)
T_ANCHOR = const(0x70)
T_SEGMENT = const(0x80)

# Frame flags as the CAN sources hand them over (bit set = true).
F_EXT = const(1)
F_RTR = const(2)
F_ERR = const(4)

# Event codes (value meaning in docs/log-format.md).
EV_BOOT = const(1)
EV_CLOCK_SET = const(2)
EV_OVERRUN = const(3)
EV_BUS_STATE = const(4)
EV_IGNITION_ON = const(5)
EV_IGNITION_OFF = const(6)
EV_FRAMES = const(7)
EV_CONFIG_ERROR = const(8)
EV_DROPPED = const(9)
EV_FLUSH_MS_MAX = const(10)
EV_BYTES_WRITTEN = const(11)
EV_GPS_FIX_LOST = const(12)
EV_STORAGE_FULL = const(13)
EV_SHUTDOWN = const(14)
EV_BITRATE = const(15)
EV_AUTOBAUD = const(16)
EV_RECOVERED = const(17)
EV_SEGMENT_DELETED = const(18)
EV_STORAGE_ERROR = const(19)

# Shutdown reasons (value of the shutdown event).
STOP_CLEAN = const(0)
STOP_IGNITION = const(1)
STOP_LOW_VOLTAGE = const(2)

# Clock anchor sources.
SRC_GPS = const(1)
SRC_HOST = const(2)
SRC_RTC = const(3)
SRC_SYSTEM = const(4)

# GPS validity bits.
GPS_POS = const(1)
GPS_ALT = const(2)
GPS_MOTION = const(4)
GPS_HDOP = const(8)
GPS_TIME = const(16)


# pack_into formats of CAN records by DLC: "<BIH3s" copies 3 data bytes.
_FMT_STD = tuple("<BIH%ds" % n for n in range(9))
_FMT_LONG = tuple("<BII%ds" % n for n in range(9))


# The CRC-32 (IEEE 802.3, reflected, as binascii.crc32) table, as its low 8 bits and
# its high 24 bits. binascii.crc32 returns its result as an int, which on a 32-bit port
# is a long (allocated) whenever the CRC does not fit 30 bits, and so fails under
# micropython.heap_lock(); these parts are always small ints. 8 + 24 rather than
# 16 + 16: a byte step is then one table lookup per part and no shifts across parts.
def _tables():
    lo = bytearray(256)
    hi = array("I", bytes(1024))
    for n in range(256):
        c_lo = n  # the entry in 16-bit halves while it is built
        c_hi = 0
        for _ in range(8):
            odd = c_lo & 1
            c_lo = (c_lo >> 1) | ((c_hi & 1) << 15)
            c_hi >>= 1
            if odd:
                c_lo ^= 0x8320
                c_hi ^= 0xEDB8
        lo[n] = c_lo & 0xFF
        hi[n] = (c_hi << 8) | (c_lo >> 8)
    return lo, hi


_CRC_LO, _CRC_HI = _tables()
del _tables  # its code leaves the heap


# The first dlc data bytes of ring slot words data[q:q + 4] into buf at p: a record at
# the very end of a block, where all 8 would not fit.
def _copy_data(buf, p, data, q, dlc):
    for k in range(dlc):
        buf[p + k] = data[q + (k >> 1)] >> ((k & 1) << 3) & 0xFF


# CRC-32 of the whole block buf (its CRC field zero, unused payload bytes zero),
# stored little-endian at buf[at:at + 4]. Non-allocating (a for loop over a bytearray
# keeps its iterator on the VM stack). Written by hand: binascii.crc32 allocates (above).
# The CRC is kept as its low byte lo and its high 24 bits hi.
def _crc(buf, at):
    tlo = _CRC_LO
    thi = _CRC_HI
    lo = 0xFF
    hi = 0xFFFFFF
    for b in buf:
        t = lo ^ b
        lo = (hi & 0xFF) ^ tlo[t]
        hi = (hi >> 8) ^ thi[t]
    struct.pack_into("<BHB", buf, at, lo ^ 0xFF, (hi & 0xFFFF) ^ 0xFFFF, (hi >> 16) ^ 0xFF)


class BlockEncoder:
    def __init__(self):
        self.buf = bytearray(BLOCK_SIZE)
        self.used = 0  # payload bytes in use
        self.count = 0  # records in the block
        self.frames = 0  # CAN records in the block
        self.seq = 0
        self.base_hi = 0
        self.base_lo = 0
        self.base_ticks = 0
        self.active = False

    # Start a block whose base time is base_hi * 2**30 + base_lo microseconds since
    # boot, which the caller's clock read as base_ticks (time.ticks_us). Non-allocating.
    def begin(self, seq, base_hi, base_lo, base_ticks):
        self.seq = seq
        self.base_hi = base_hi
        self.base_lo = base_lo
        self.base_ticks = base_ticks
        self.used = 0
        self.count = 0
        self.frames = 0
        self.active = True

    # Microseconds from the block base to ticks, or -1 when it cannot be stored here.
    def _offset(self, ticks):
        off = time.ticks_diff(ticks, self.base_ticks)
        if off < 0 or off > MAX_OFFSET_US:
            return -1
        return off

    # A CAN frame; data is a buffer whose first dlc bytes are the frame's data (a ring
    # slot). One struct.pack_into per frame, with formats made once: non-allocating.
    def can(self, ticks, can_id, flags, dlc, data):
        off = self._offset(ticks)
        if off < 0 or dlc > 8:
            return False
        p = HEADER_SIZE + self.used
        if flags & F_RTR:
            if p + 10 > BLOCK_SIZE:
                return False
            struct.pack_into("<BIIB", self.buf, p, T_CAN_RTR | dlc, off, can_id, flags & F_EXT)
            self.used += 10
            self.count += 1
            self.frames += 1
            return True
        if flags & (F_EXT | F_ERR):
            n = 9 + dlc
            if p + n > BLOCK_SIZE:
                return False
            tag = T_CAN_ERR if flags & F_ERR else T_CAN_EXT
            struct.pack_into(_FMT_LONG[dlc], self.buf, p, tag | dlc, off, can_id, data)
        else:
            n = 7 + dlc
            if p + n > BLOCK_SIZE:
                return False
            struct.pack_into(_FMT_STD[dlc], self.buf, p, T_CAN_STD | dlc, off, can_id, data)
        self.used += n
        self.count += 1
        self.frames += 1
        return True

    # A GPS fix. day: days since 1970-01-01, tod_ms: ms since UTC midnight, lat/lon in
    # 1e-6 degrees, alt in decimetres, speed in cm/s, course and hdop in 1/100.
    def gps(
        self,
        ticks,
        day,
        tod_ms,
        lat,
        lon,
        alt_dm,
        speed_cms,
        course_cd,
        hdop_c,
        quality,
        sats,
        valid,
    ):
        off = self._offset(ticks)
        p = HEADER_SIZE + self.used
        if off < 0 or p + 32 > BLOCK_SIZE:
            return False
        struct.pack_into(
            "<BIHIiiiHHHBBB",
            self.buf,
            p,
            T_GPS,
            off,
            day,
            tod_ms,
            lat,
            lon,
            alt_dm,
            speed_cms,
            course_cd,
            hdop_c,
            quality,
            sats,
            valid,
        )
        self.used += 32
        self.count += 1
        return True

    # Move frames from the ring into this block, oldest first, until the block is full,
    # the ring is empty or a frame's time does not fit this block. Returns how many.
    # The per-frame path: one call per block, not per frame (a Python call costs more
    # than the encoding); non-allocating. Each record is one struct.pack_into with the
    # slot's 8 data bytes as four 16-bit words (small ints everywhere); past a short
    # frame's data they are zeros, which the next record overwrites or which stay as the
    # block's zero padding. ring.tail advances frame by frame, so the receive interrupt
    # gets each slot back at once.
    def take(self, ring):
        buf = self.buf
        base = self.base_ticks
        ticks = ring.ticks
        ids = ring.ids
        flags = ring.flags
        dlcs = ring.dlc
        data = ring.data
        size = ring.size
        tail = ring.tail
        head = ring.head
        p = HEADER_SIZE + self.used
        n = 0
        while tail != head:
            off = time.ticks_diff(ticks[tail], base)
            if off < 0 or off > MAX_OFFSET_US:
                break
            f = flags[tail]
            dlc = dlcs[tail]
            q = tail << 2
            if not f:
                if p + 15 <= BLOCK_SIZE:
                    struct.pack_into(
                        "<BIHHHHH",
                        buf,
                        p,
                        T_CAN_STD | dlc,
                        off,
                        ids[tail],
                        data[q],
                        data[q + 1],
                        data[q + 2],
                        data[q + 3],
                    )
                elif p + 7 + dlc <= BLOCK_SIZE:
                    struct.pack_into("<BIH", buf, p, T_CAN_STD | dlc, off, ids[tail])
                    _copy_data(buf, p + 7, data, q, dlc)
                else:
                    break
                p += 7 + dlc
            elif f & F_RTR:
                if p + 10 > BLOCK_SIZE:
                    break
                struct.pack_into("<BIIB", buf, p, T_CAN_RTR | dlc, off, ids[tail], f & F_EXT)
                p += 10
            else:
                tag = (T_CAN_ERR if f & F_ERR else T_CAN_EXT) | dlc
                if p + 17 <= BLOCK_SIZE:
                    struct.pack_into(
                        "<BIIHHHH",
                        buf,
                        p,
                        tag,
                        off,
                        ids[tail],
                        data[q],
                        data[q + 1],
                        data[q + 2],
                        data[q + 3],
                    )
                elif p + 9 + dlc <= BLOCK_SIZE:
                    struct.pack_into("<BII", buf, p, tag, off, ids[tail])
                    _copy_data(buf, p + 9, data, q, dlc)
                else:
                    break
                p += 9 + dlc
            n += 1
            tail += 1
            if tail == size:
                tail = 0
            ring.tail = tail
            if tail == head:
                head = ring.head  # the interrupt may have put more since
        self.used = p - HEADER_SIZE
        self.count += n
        self.frames += n
        return n

    def event(self, ticks, code, value):
        off = self._offset(ticks)
        p = HEADER_SIZE + self.used
        if off < 0 or p + 10 > BLOCK_SIZE:
            return False
        struct.pack_into("<BIBI", self.buf, p, T_EVENT, off, code, value)
        self.used += 10
        self.count += 1
        return True

    # Ties the record's boot-monotonic time to UTC day / ms of day / extra us.
    def anchor(self, ticks, day, tod_ms, us, source):
        off = self._offset(ticks)
        p = HEADER_SIZE + self.used
        if off < 0 or p + 14 > BLOCK_SIZE:
            return False
        struct.pack_into("<BIHIHB", self.buf, p, T_ANCHOR, off, day, tod_ms, us, source)
        self.used += 14
        self.count += 1
        return True

    # The segment header record: first record of block 0 of every segment.
    def segment(self, boot, seq, device_id, fw):
        p = HEADER_SIZE + self.used
        if p + 30 > BLOCK_SIZE:
            return False
        buf = self.buf
        struct.pack_into("<BBBII", buf, p, T_SEGMENT, FORMAT_VERSION, 0, boot, seq)
        q = p + 11
        n = len(device_id)
        for i in range(16):
            buf[q + i] = device_id[i] if i < n else 0
        buf[q + 16] = fw[0]
        buf[q + 17] = fw[1]
        buf[q + 18] = fw[2]
        self.used += 30
        self.count += 1
        return True

    # Write the header and CRC; the buffer then holds the finished block. Unused
    # payload bytes are zero (reset() keeps them so). Non-allocating, on 32-bit ports
    # too.
    def seal(self):
        buf = self.buf
        buf[0] = 0x4B  # K
        buf[1] = 0x4C  # L
        buf[2] = 0x42  # B
        buf[3] = 0x31  # 1
        struct.pack_into(
            "<IIIHHI", buf, 4, self.seq, self.base_hi, self.base_lo, self.used, self.count, 0
        )
        _crc(buf, 20)
        self.active = False
        return buf

    # Zero the payload so the next block starts clean ("s" pads with zeros).
    def reset(self):
        struct.pack_into("488s", self.buf, HEADER_SIZE, b"")
        self.used = 0
        self.count = 0
        self.frames = 0
        self.active = False
