# Boot-monotonic microseconds that never wrap, from time.ticks_us (which wraps every
# 2**30 us on boards). The time is kept as (hi, lo): hi periods of 2**30 us plus lo us,
# both small ints, so reading it allocates nothing on any port.
import time

from micropython import const

_PERIOD = const(0x40000000)


class MonoClock:
    def __init__(self, ticks_us=time.ticks_us):
        self._ticks_us = ticks_us
        self.last = ticks_us()
        self.hi = 0
        self.lo = 0

    # Advance to now; call at least every 2**29 us (the main loop does). Returns ticks.
    def update(self):
        now = self._ticks_us()
        self.lo += time.ticks_diff(now, self.last)
        self.last = now
        while self.lo >= _PERIOD:
            self.lo -= _PERIOD
            self.hi += 1
        return now

    # The (hi, lo) time of an earlier ticks reading, into out[0], out[1]. Non-allocating.
    def at(self, ticks, out):
        lo = self.lo - time.ticks_diff(self.last, ticks)
        hi = self.hi
        while lo < 0:
            lo += _PERIOD
            hi -= 1
        out[0] = hi
        out[1] = lo
