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


# Days since 1970-01-01 of a proleptic Gregorian date (the "days from civil" method of
# H. Hinnant's date algorithms); integers only, small ints for years 1970..2099.
def days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# The inverse: (year, month, day) of a day count since 1970-01-01.
def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d
