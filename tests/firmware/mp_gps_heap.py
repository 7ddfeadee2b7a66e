# Run under MicroPython: prove that the per-sentence path allocates nothing. NMEA bytes
# come from a UART stand-in (readinto copies from a preloaded buffer), go through
# GpsService -> Nmea -> Logger.gps() into the block buffer and the segment file, all
# under micropython.heap_lock(). Usage: mp_gps_heap.py NMEA_FILE STORAGE_DIR
import json
import sys

import micropython
from logger import config, hal_unix
from logger.app import Logger
from logger.gps import GpsService


class Uart:
    def __init__(self, data, chunk):
        self.data = data
        self.pos = 0
        self.chunk = chunk

    def readinto(self, buf):
        n = len(self.data) - self.pos
        if n <= 0:
            return None
        if n > self.chunk:
            n = self.chunk
        if n > len(buf):
            n = len(buf)
        d = self.data
        p = self.pos
        for i in range(n):
            buf[i] = d[p + i]
        self.pos = p + n
        return n


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    cfg, _ = config.validate({"storage": {"path": sys.argv[2]}, "counters_s": 3600})
    log = Logger(cfg, hal_unix)
    log.start()
    uart = Uart(data, 61)
    gps = GpsService(uart, 1, 10)
    now = log.clock.update()
    uart.chunk = 200
    gps.poll(log, now)  # warm-up outside the lock: the first sentences and the first fix
    uart.chunk = 61
    blocks = log.store.size
    micropython.heap_lock()
    try:
        while uart.pos < len(data):
            now = log.clock.update()
            gps.poll(log, now)
    finally:
        micropython.heap_unlock()
    written_in_lock = log.store.size - blocks
    gps.close(log)
    log.shutdown(0)
    p = gps.nmea
    print(
        json.dumps(
            {
                "epochs": p.epochs,
                "sentences": p.sentences,
                "fixes": gps.fixes,
                "in_lock": written_in_lock,
            }
        )
    )


main()
