# Run under MicroPython: a READ run of full frames allocates nothing per frame.
# argv: the folder holding 00010000.KLG (at least 32 KiB). Prints frames sent before
# and after the heap was locked, and the bytes sent.
import struct
import sys

import micropython
from logger import syncdev
from logger import syncproto as P
from logger.segment import SegmentStore


class MemLink:
    # The link as bytes in memory: requests from a buffer, replies counted. Its own
    # methods allocate nothing, so whatever allocates is the service.
    def __init__(self, data):
        self.inp = data
        self.i = 0
        self.out = 0
        self.frames = 0

    def readinto(self, buf, wait_ms):
        n = len(self.inp) - self.i
        if n > len(buf):
            n = len(buf)
        for k in range(n):
            buf[k] = self.inp[self.i + k]
        self.i += n
        return n

    def write(self, frame):
        self.out += len(frame)
        self.frames += 1
        return True


store = SegmentStore(sys.argv[1])
req = P.stuff(P.encode(P.HELLO, 1, struct.pack(P.FMT_HELLO_REQ, P.PROTOCOL_VERSION, 0)))
req += P.stuff(P.encode(P.READ, 2, struct.pack(P.FMT_READ_REQ, b"00010000.KLG", 0, 32768)))
link = MemLink(req)
svc = syncdev.SyncService(link, store, (b"heap", "unix", (0, 1, 0), 1))
svc.poll(None, 0)  # HELLO, the READ request and its first frames: these may allocate
before = link.frames
micropython.heap_lock()
try:
    while svc.s_key is not None:
        svc.poll(None, 0)
finally:
    micropython.heap_unlock()
print(before, link.frames, link.out)
