# The 32-bit tier's pulse, analog and switch inputs (what hal_board_inputs is on a
# board): the unix port's input stream (logger.hal_unix_inputs) from a file, released
# as the logger's clock reaches each record's time (at 10x), as a FIFO written in real
# time would release it, so that samples see the edges of their own window. build.py
# imports this as hal_wasm's "_inputs" part.
import time

from logger.hal_unix_inputs import InputFeed
from logger.inputs import tdiff
from micropython import const

_SPEEDUP = const(10)


class PacedFile:
    # readinto(buf, n): one whole 8-byte record once its time has come, None before
    # (nothing waiting yet), 0 at the end. Non-allocating.
    def __init__(self, path):
        self.f = open(path, "rb")
        self.rec = bytearray(8)
        self.have = False
        self.started = False
        self.t0 = 0
        self.first = 0

    def readinto(self, buf, n=8):
        r = self.rec
        if not self.have:
            if not self.f.readinto(r):
                return 0
            self.have = True
        t = r[4] | (r[5] << 8) | (r[6] << 16) | ((r[7] & 0x3F) << 24)
        now = time.ticks_us()
        if not self.started:
            self.started = True
            self.t0 = now
            self.first = t
        if tdiff(t, self.first) // _SPEEDUP > time.ticks_diff(now, self.t0):
            return None
        for i in range(8):
            buf[i] = r[i]
        self.have = False
        return 8


def inputs(cfg):
    path = cfg["inputs.source"]
    return InputFeed(PacedFile(path) if path else None, False)
