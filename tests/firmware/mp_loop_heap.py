# Run under MicroPython: the logger's whole main loop, as firmware/main.py runs it,
# allocates nothing in steady state. Frames come from a file of SocketCAN frames
# through the unix port's stream source; after a warm-up (the first block, the first
# flush) Logger.step() runs under micropython.heap_lock() until the file has been read.
# Usage: mp_loop_heap.py FRAMES_FILE STORAGE_DIR
import json
import sys

import micropython
from logger import build, config, hal_unix


def main():
    cfg, errors = config.validate(
        {
            "can": {"source": sys.argv[1], "eof": "exit"},
            "gps": {"enabled": False},
            "storage": {"path": sys.argv[2], "min_free_bytes": 0},
            "flush_ms": 50,
            "counters_s": 1,
        }
    )
    assert not errors
    log = build.logger(cfg, hal_unix, errors)
    log.start()
    while log.store.bytes_written < 4 * 512:  # warm-up: blocks written, one flush
        log.step()
    warm = log.frames
    micropython.heap_lock()
    try:
        while log.stop_reason < 0:
            log.step()
    finally:
        micropython.heap_unlock()
    log.shutdown(log.stop_reason)
    print(json.dumps({"frames": log.frames, "in_lock": log.frames - warm}))


main()
