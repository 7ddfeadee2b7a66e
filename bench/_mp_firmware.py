# Run under MicroPython by bench/firmware.py: the firmware's main loop (build.logger and
# Logger.step, as firmware/main.py runs them) from a prefilled file of SocketCAN frames
# to a littlefs image, timed on the device's own clock. Prints one JSON line.
# Usage: _mp_firmware.py FRAMES_FILE IMAGE FS FRAMES
#        _mp_firmware.py candump FRAMES OUT   (the reference: text lines per frame)
import gc
import json
import os
import sys
import time

import micropython
from logger import build, config, hal_unix


# The reference for garbage per frame: the simple logger that writes a candump text line
# per frame, in the same interpreter, collector off.
def candump(frames, out):
    data = bytearray(b"\x10\x20\x30\x40\x50\x60\x70\x80")
    gc.collect()
    gc.disable()
    held = gc.mem_alloc()
    with open(out, "w") as f:
        for i in range(frames):
            data[0] = i & 0xFF
            ts = time.ticks_us()
            f.write(
                "(%d.%06d) can0 %03X#%s\n"
                % (ts // 1000000, ts % 1000000, 0x100 + (i & 0x3FF), data.hex().upper())
            )
            if gc.mem_free() < 65536:  # stop before the heap runs out
                frames = i + 1
                break
    garbage = gc.mem_alloc() - held
    gc.enable()
    print(json.dumps({"frames": frames, "garbage_bytes": garbage}))


def main():
    if sys.argv[1] == "candump":
        candump(int(sys.argv[2]), sys.argv[3])
        return
    fs = sys.argv[3]
    cfg, errors = config.validate(
        {
            "can": {"source": sys.argv[1], "eof": "exit", "ring": 256},
            "gps": {"enabled": False},
            "storage": {"image": sys.argv[2], "fs": fs, "image_bytes": 64 << 20},
            "flush_ms": 1000,
        }
    )
    assert not errors
    log = build.logger(cfg, hal_unix, errors)
    log.start()
    half = int(sys.argv[4]) // 2 if len(sys.argv) > 4 else 1 << 29
    st = os.statvfs("/keilog-image")
    free0 = st[3] * st[1]
    log.step()
    frames0 = log.frames
    churn0 = micropython.mem_total()
    t0 = time.ticks_us()
    # Timed: the first half of the frames, as the firmware runs.
    while log.stop_reason < 0 and log.frames < half:
        log.step()
    dt = time.ticks_diff(time.ticks_us(), t0)
    frames = log.frames - frames0
    # mem_total() also counts call frames that MicroPython puts on the heap and frees
    # on return (or puts on the C stack when the heap is locked): churn, not garbage.
    churn = micropython.mem_total() - churn0
    # Garbage: what the heap holds more after the second half, with the collector off.
    gc.collect()
    gc.disable()
    frames1 = log.frames
    held = gc.mem_alloc()
    while log.stop_reason < 0:
        log.step()
    garbage = gc.mem_alloc() - held
    frames2 = log.frames - frames1
    gc.enable()
    log.shutdown(log.stop_reason)
    st = os.statvfs("/keilog-image")
    print(
        json.dumps(
            {
                "frames": frames,
                "total_frames": log.frames,
                "us": dt,
                "garbage_bytes": garbage,
                "garbage_frames": frames2,
                "churn_bytes": churn,
                "dropped": log.ring.dropped,
                "segment_bytes": log.store.bytes_written,
                "disk_bytes": free0 - st[3] * st[1],
                "flush_us_max": log.flush_max_all,
            }
        )
    )


main()
