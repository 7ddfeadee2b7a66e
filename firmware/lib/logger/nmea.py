# NMEA 0183 reader for the GNSS UART: RMC, GGA, VTG and GSA from GPS, GLONASS, Galileo
# and combined receivers (talkers GP, GL, GA, GN), merged into one fix per epoch.
#
# Written by hand because it must run under the heap lock on a microcontroller: bytes
# go into one preallocated line buffer, fields are found by their comma offsets and
# parsed in place as integers (no float, no str, no split), and every number is kept
# below 2**30 so it stays a small int on 32-bit boards. feed() is sans-I/O: give it any
# chunk of bytes; it calls on_epoch(parser) once per completed epoch.
#
# A sentence counts only with a valid "*hh" checksum (NMEA 0183 makes it optional for
# some sentences; every receiver keilog targets sends it). An epoch is the group of
# sentences with one UTC time: it completes when a sentence with another time arrives,
# or when no sentence arrived for gap_us (see idle()).
import time

from micropython import const

from logger.clock import days_from_civil

_MAXLEN = const(90)  # 82 characters is NMEA's limit; some receivers run a little over
_MAXFIELDS = const(30)

# Validity bits of a fix (docs/log-format.md, GPS fix).
POS = const(1)
ALT = const(2)
MOTION = const(4)
HDOP = const(8)
TIME = const(16)

# Field parse status (self.st after a _num/_latlon/_time/_date call).
_OK = const(0)
_EMPTY = const(1)
_BAD = const(2)

_NONE = const(-0x3FFFFFFF)  # "no value" for signed fields
_MAX_KNOTS_E3 = const(500000)  # 500 knots: anything faster is a garbled field
_MAX_KMH_E3 = const(926000)  # the same in km/h


class Nmea:
    def __init__(self, on_epoch):
        self.on_epoch = on_epoch
        self.line = bytearray(_MAXLEN)
        self.n = -1  # bytes in line; -1 while waiting for '$'
        self.commas = bytearray(_MAXFIELDS + 1)  # offsets of the commas, then of '*'
        self.nf = 0  # fields after the sentence type
        self.st = _OK
        self.last = 0  # ticks_us of the last sentence of the epoch
        # counters (never reset)
        self.sentences = 0  # accepted sentences
        self.epochs = 0
        self.bad_checksum = 0
        self.bad = 0  # malformed: too long, control bytes, fields that do not parse
        self.ignored = 0  # valid checksum, but a talker or sentence we do not use
        self._clear()

    # -- the epoch being merged; on_epoch reads these fields -----------------------
    def _clear(self):
        self.has = False
        self.ticks = 0  # ticks_us when the epoch's first sentence arrived
        self.tod = -1  # UTC ms of day; -1 unknown
        self.day = -1  # days since 1970; -1 unknown
        self.lat = 0  # 1e-6 degree
        self.lon = 0
        self.alt = 0  # decimetres
        self.speed = 0  # cm/s
        self.course = 0  # 1/100 degree
        self.hdop = 0  # 1/100
        self.quality = 0
        self.sats = 0
        self.valid = 0
        self.rmc_fix = False  # RMC said A(ctive)
        self.differential = False

    # Feed n bytes of buf that arrived at ticks (time.ticks_us). Non-allocating.
    def feed(self, buf, n, ticks):
        line = self.line
        for i in range(n):
            b = buf[i]
            if b == 36:  # '$' starts a sentence, whatever came before
                if self.n > 0:
                    self.bad += 1
                line[0] = b
                self.n = 1
            elif self.n < 0:
                continue
            elif b == 13 or b == 10:
                if self.n > 1:
                    self._sentence(ticks)
                self.n = -1
            elif b < 32 or b > 126 or self.n >= _MAXLEN:
                self.bad += 1
                self.n = -1
            else:
                line[self.n] = b
                self.n += 1

    # Complete the epoch when nothing arrived for gap_us. Call it from the main loop.
    def idle(self, now, gap_us):
        if self.has and time.ticks_diff(now, self.last) > gap_us:
            self._complete()

    # Complete the epoch being merged now (the stream ended).
    def finish(self):
        self._complete()

    def _complete(self):
        if self.has:
            if not self.valid & POS:
                self.quality = 0
            elif not self.quality:
                self.quality = 2 if self.differential else 1
            if self.tod >= 0 and self.day >= 0 and self.valid & POS:
                self.valid |= TIME
            else:
                self.tod = 0
                self.day = 0
            self.epochs += 1
            self.on_epoch(self)
        self._clear()

    # -- one sentence ---------------------------------------------------------------
    def _sentence(self, ticks):
        line = self.line
        n = self.n
        star = n - 3
        if star < 6 or line[star] != 42:  # '*'
            self.bad += 1
            return
        cs = 0
        for i in range(1, star):
            cs ^= line[i]
        if _hex(line[star + 1]) * 16 + _hex(line[star + 2]) != cs:
            self.bad_checksum += 1
            return
        t1 = line[2]
        if line[1] != 71 or not (t1 == 80 or t1 == 78 or t1 == 76 or t1 == 65):  # G[PNLA]
            self.ignored += 1
            return
        if n < 7 or line[6] != 44:  # a comma after the 3-letter type
            self.bad += 1
            return
        commas = self.commas
        nf = 0
        for i in range(6, star):
            if line[i] == 44:
                if nf >= _MAXFIELDS:
                    self.bad += 1
                    return
                commas[nf] = i
                nf += 1
        commas[nf] = star
        self.nf = nf
        a, b, c = line[3], line[4], line[5]
        if a == 82 and b == 77 and c == 67:  # RMC
            ok = self._rmc(ticks)
        elif a == 71 and b == 71 and c == 65:  # GGA
            ok = self._gga(ticks)
        elif a == 86 and b == 84 and c == 71:  # VTG
            ok = self._vtg(ticks)
        elif a == 71 and b == 83 and c == 65:  # GSA
            ok = self._gsa(ticks)
        else:
            self.ignored += 1
            return
        if ok:
            self.sentences += 1
        else:
            self.bad += 1

    # Join the epoch: a sentence with UTC time tod (-1: none) arrived at ticks.
    def _join(self, tod, ticks):
        if self.has and tod >= 0:
            if self.tod >= 0 and tod != self.tod:
                self._complete()
            elif self.tod < 0:
                self.tod = tod
        if not self.has:
            self.has = True
            self.ticks = ticks
            self.tod = tod
        self.last = ticks

    def _rmc(self, ticks):
        if self.nf < 9:
            return False
        tod = self._time(0)
        if self.st == _BAD:
            return False
        active = self._char(1) == 65  # 'A'
        if self.nf > 11 and self._char(11) == 78:  # NMEA 2.3 mode 'N': not valid
            active = False
        lat = self._latlon(2, 2)
        if self.st == _BAD:
            return False
        lon = self._latlon(4, 3)
        if self.st == _BAD:
            return False
        knots = self._num(6, 3)
        knots_st = self.st
        course = self._num(7, 2)
        course_st = self.st
        day = self._date(8)
        if self.st == _BAD or knots_st == _BAD or course_st == _BAD:
            return False
        if knots > _MAX_KNOTS_E3 or course >= 36000:
            return False
        self._join(tod, ticks)
        if not active:
            return True
        self.rmc_fix = True
        if self.nf > 11 and self._char(11) == 68:  # 'D'ifferential
            self.differential = True
        if not self.valid & POS and lat != _NONE and lon != _NONE:
            self.lat = lat
            self.lon = lon
            self.valid |= POS
        if knots_st == _OK and not self.valid & MOTION:
            self.speed = (knots * 1852 + 18000) // 36000  # 1 knot = 1852 m/h
            self.course = course if course_st == _OK else 0
            self.valid |= MOTION
        if day >= 0:
            self.day = day
        return True

    def _gga(self, ticks):
        if self.nf < 9:
            return False
        tod = self._time(0)
        if self.st == _BAD:
            return False
        lat = self._latlon(1, 2)
        if self.st == _BAD:
            return False
        lon = self._latlon(3, 3)
        if self.st == _BAD:
            return False
        q = self._num(5, 0)
        if self.st != _OK or q > 9:
            return False
        sats = self._num(6, 0)
        if self.st == _BAD or sats > 255:
            return False
        hdop = self._num(7, 2)
        hdop_st = self.st
        alt = self._num(8, 1)
        alt_st = self.st
        if hdop_st == _BAD or alt_st == _BAD or hdop > 65535 or not -99999 <= alt <= 999999:
            return False
        self._join(tod, ticks)
        self.sats = sats
        if q == 0:
            return True
        self.quality = q
        if lat != _NONE and lon != _NONE:
            self.lat = lat
            self.lon = lon
            self.valid |= POS
        if alt_st == _OK:
            self.alt = alt
            self.valid |= ALT
        if hdop_st == _OK:
            self.hdop = hdop
            self.valid |= HDOP
        return True

    def _vtg(self, ticks):
        if self.nf < 8:
            return False
        course = self._num(0, 2)
        course_st = self.st
        kmh = self._num(6, 3)
        if self.st == _BAD or course_st == _BAD or kmh > _MAX_KMH_E3 or course >= 36000:
            return False
        self._join(-1, ticks)
        if self.nf > 8 and self._char(8) == 78:  # mode 'N': not valid
            return True
        if self.st == _OK and not self.valid & MOTION:
            self.speed = (kmh + 18) // 36  # m/h to cm/s
            self.course = course if course_st == _OK else 0
            self.valid |= MOTION
        return True

    def _gsa(self, ticks):
        if self.nf < 16:
            return False
        fix = self._num(1, 0)
        if self.st == _BAD:
            return False
        hdop = self._num(15, 2)
        if self.st == _BAD or hdop > 65535:
            return False
        self._join(-1, ticks)
        if fix >= 2 and self.st == _OK and not self.valid & HDOP:
            self.hdop = hdop
            self.valid |= HDOP
        return True

    # -- fields ---------------------------------------------------------------------
    def _char(self, k):
        a = self.commas[k] + 1
        return self.line[a] if a < self.commas[k + 1] else 0

    # Field k as an integer scaled by 10**dec ("12.345", dec 2 -> 1234; extra decimals
    # are cut). At most 9 digits, so the result is a small int.
    def _num(self, k, dec):
        line = self.line
        a = self.commas[k] + 1
        e = self.commas[k + 1]
        if a >= e:
            self.st = _EMPTY
            return 0
        neg = line[a] == 45  # '-'
        if neg:
            a += 1
        v = 0
        digits = 0
        frac = -1
        for i in range(a, e):
            c = line[i]
            if c == 46:  # '.'
                if frac >= 0:
                    self.st = _BAD
                    return 0
                frac = 0
                continue
            if c < 48 or c > 57:
                self.st = _BAD
                return 0
            if frac >= 0:
                if frac >= dec:
                    continue
                frac += 1
            digits += 1
            if digits > 9:
                self.st = _BAD
                return 0
            v = v * 10 + c - 48
        if digits == 0:
            self.st = _BAD
            return 0
        if frac < 0:
            frac = 0
        while frac < dec:
            if v > 99999999:
                self.st = _BAD
                return 0
            v *= 10
            frac += 1
        self.st = _OK
        return -v if neg else v

    # Latitude (deg_digits 2) or longitude (3) of fields k (ddmm.mmmm) and k+1 (N/S or
    # E/W) in 1e-6 degree; _NONE when empty.
    def _latlon(self, k, deg_digits):
        line = self.line
        a = self.commas[k] + 1
        e = self.commas[k + 1]
        if a >= e:
            self.st = _EMPTY
            return _NONE
        dot = a
        while dot < e and line[dot] != 46:
            dot += 1
        if dot - a != deg_digits + 2:
            self.st = _BAD
            return _NONE
        deg = 0
        for i in range(a, dot - 2):
            c = line[i] - 48
            if c < 0 or c > 9:
                self.st = _BAD
                return _NONE
            deg = deg * 10 + c
        m6 = 0
        nd = 0
        for i in range(dot - 2, e):
            c = line[i]
            if c == 46 and i == dot:
                continue
            c -= 48
            if c < 0 or c > 9:
                self.st = _BAD
                return _NONE
            if nd < 8:  # 2 minute digits + 6 decimals
                m6 = m6 * 10 + c
                nd += 1
        while nd < 8:
            m6 *= 10
            nd += 1
        if m6 >= 60000000 or deg > (90 if deg_digits == 2 else 180):
            self.st = _BAD
            return _NONE
        v = deg * 1000000 + (m6 + 30) // 60
        if v > (90000000 if deg_digits == 2 else 180000000):
            self.st = _BAD
            return _NONE
        h = self._char(k + 1)
        if h == 78 or h == 69:  # N, E
            self.st = _OK
            return v
        if h == 83 or h == 87:  # S, W
            self.st = _OK
            return -v
        self.st = _BAD
        return _NONE

    # hhmmss[.sss] -> ms of day, -1 when empty.
    def _time(self, k):
        v = self._num(k, 3)
        if self.st != _OK:
            return -1
        if v < 0:
            self.st = _BAD
            return -1
        ms = v % 1000
        v //= 1000
        s = v % 100
        m = (v // 100) % 100
        h = v // 10000
        if h > 23 or m > 59 or s > 60:
            self.st = _BAD
            return -1
        return ((h * 60 + m) * 60 + s) * 1000 + ms

    # ddmmyy -> days since 1970, -1 when empty. Two-digit years 80..99 are 19xx.
    def _date(self, k):
        a = self.commas[k] + 1
        if a >= self.commas[k + 1]:
            self.st = _EMPTY
            return -1
        if self.commas[k + 1] - a != 6:
            self.st = _BAD
            return -1
        v = self._num(k, 0)
        if self.st != _OK or v < 0:
            self.st = _BAD
            return -1
        y = v % 100
        m = (v // 100) % 100
        d = v // 10000
        if not 1 <= m <= 12 or not 1 <= d <= 31:
            self.st = _BAD
            return -1
        return days_from_civil(1900 + y if y >= 80 else 2000 + y, m, d)


def _hex(c):
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return 0x100  # never a checksum digit: the sum cannot match
