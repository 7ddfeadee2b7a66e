# Run under MicroPython: prove that the per-frame path allocates nothing.
#
# The path is: a frame arrives (ring.put, what the receive interrupt or the unix stream
# source does) -> Logger.drain() moves it through the block encoder into the block
# buffer -> full blocks are written to the segment file. It runs under
# micropython.heap_lock(), where any heap allocation raises MemoryError.
import json
import sys

import micropython
from logger import config, hal_unix
from logger.app import Logger

FRAMES = int(sys.argv[2])


def main():
    cfg, errors = config.validate({"storage": {"path": sys.argv[1]}, "can": {"ring": 64}})
    assert not errors
    log = Logger(cfg, hal_unix)
    now = log.clock.update()
    log.open_segment(now)
    ring = log.ring
    data = bytearray(b"\x10\x20\x30\x40\x50\x60\x70\x80")
    ids = (0xC8, 0x1D0, 0x3E0, 0x18DAF110)
    flags = (0, 0, 0, 1)
    # Warm up once outside the lock (first-call caches, interned names).
    ring.put(now, 0x100, 0, 8, data)
    log.drain()
    emitted = 0
    micropython.heap_lock()
    try:
        for i in range(FRAMES):
            k = i & 3
            data[0] = i & 0xFF
            ring.put(now + i * 50, ids[k], flags[k], 8 - (i & 1), data)
            if len(ring) >= 16:
                log.drain()
        log.drain()
        emitted = log.store.size
    finally:
        micropython.heap_unlock()
    log.flush()
    log.store.close()
    print(json.dumps({"frames": log.frames, "bytes": log.store.bytes_written, "in_lock": emitted}))


main()
