# Run under MicroPython by bench/logformat.py: frames/s through the firmware's
# ring -> encoder -> block -> segment file path, timed on the device's own clock.
import json
import sys
import time

from logger import config, hal_unix
from logger.app import Logger


# The reference: the same loop writing candump text lines, as a simple logger would.
def candump(path, frames):
    data = bytearray(b"\x10\x20\x30\x40\x50\x60\x70\x80")
    t0 = time.ticks_us()
    n = 0
    with open(path + ".log", "w") as f:
        for i in range(frames):
            data[0] = i & 0xFF
            ts = time.ticks_us()
            n += f.write(
                "(%d.%06d) can0 %03X#%s\n"
                % (ts // 1000000, ts % 1000000, 0x1D0, data.hex().upper())
            )
    dt = time.ticks_diff(time.ticks_us(), t0)
    print(json.dumps({"frames": frames, "us": dt, "bytes": n}))


def main():
    path, frames = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "candump":
        candump(path, frames)
        return
    cfg, _ = config.validate({"storage": {"path": path}, "can": {"ring": 64}})
    log = Logger(cfg, hal_unix)
    now = log.clock.update()
    log.open_segment(now)
    ring = log.ring
    data = bytearray(b"\x10\x20\x30\x40\x50\x60\x70\x80")
    t0 = time.ticks_us()
    for i in range(frames):
        data[0] = i & 0xFF
        ring.put(now + i * 100, 0x1D0, 0, 8, data)
        if len(ring) >= 32:
            log.drain()
    log.drain()
    log.flush()
    dt = time.ticks_diff(time.ticks_us(), t0)
    log.store.close()
    print(json.dumps({"frames": frames, "us": dt, "bytes": log.store.bytes_written}))


main()
