# A bounded ring of received CAN frames, filled by the receive interrupt (board) or the
# unix stream source, drained by the main loop. put() is interrupt-safe and allocates
# nothing: every array is allocated once here, one per field (no object per slot: a
# ring of 256 frames holds 4.5 KB on a 32-bit board). A full ring drops the new frame
# and counts it.
import struct
from array import array

# A slot's 8 data bytes: the frame's dlc bytes, then zeros (so that the encoder can
# copy all 8 and the bytes past the record are the zeros a block's padding must be).
_FMT_DATA = tuple("%ds%ds" % (n, 8 - n) for n in range(9))
_ZEROS = bytes(8)


class FrameRing:
    def __init__(self, size):
        self.size = size
        # "l" is the C long: 64-bit on the unix port (its ticks are 62-bit), 32-bit on
        # boards (ticks are 30-bit). Reading "q" items allocates, "l" does not.
        self.ticks = array("l", bytes(8 * size) if _LONG8 else bytes(4 * size))
        self.ids = array("I", bytes(4 * size))
        self.flags = bytearray(size)
        self.dlc = bytearray(size)
        # Slot i's data bytes are data[4 * i : 4 * i + 4] as little-endian 16-bit
        # words: the encoder reads them as small ints, on any port.
        self.data = array("H", bytes(8 * size))
        self.head = 0  # next slot to write
        self.tail = 0  # next slot to read
        self.dropped = 0

    def __len__(self):
        return (self.head - self.tail) % self.size

    # Slots that put() can still fill before it drops.
    def free(self):
        return (self.tail - self.head - 1) % self.size

    # Store one frame; src holds its data bytes from index 0. Returns False when full.
    def put(self, ticks, can_id, flags, dlc, src):
        head = self.head
        nxt = head + 1
        if nxt == self.size:
            nxt = 0
        if nxt == self.tail:
            self.dropped += 1
            return False
        if dlc > 8:
            dlc = 8
        self.ticks[head] = ticks
        self.ids[head] = can_id
        self.flags[head] = flags
        self.dlc[head] = dlc
        struct.pack_into(_FMT_DATA[dlc], self.data, head << 3, src, _ZEROS)
        self.head = nxt
        return True

    # Index of the oldest frame, or -1 when empty.
    def peek(self):
        if self.head == self.tail:
            return -1
        return self.tail

    def pop(self):
        nxt = self.tail + 1
        if nxt == self.size:
            nxt = 0
        self.tail = nxt

    # Drop everything queued (main loop only); returns how many frames that was.
    def discard(self):
        n = (self.head - self.tail) % self.size
        self.tail = self.head
        return n


# Whether the C long is 8 bytes (64-bit unix port) or 4 (boards).
_LONG8 = len(bytes(array("l", [0]))) == 8
