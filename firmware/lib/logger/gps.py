# The GPS service: NMEA from the GNSS UART -> one GPS record per epoch. The first fix
# with a valid date and time sets the RTC and writes a clock anchor (source GPS); a fix
# lost for gps.fix_lost_s writes a gps_fix_lost event.
import time

from micropython import const

from logger.nmea import POS, TIME, Nmea
from logger.record import EV_GPS_FIX_LOST, SRC_GPS

_POLL_MS = const(20)  # the UART buffers a few hundred bytes: 20 ms is ~20 at 9600 baud


class GpsService:
    def __init__(self, uart, rate_hz, fix_lost_s):
        self.uart = uart
        self.buf = bytearray(128)
        self.nmea = Nmea(self._epoch)
        # An epoch is complete when no sentence came for half an epoch period.
        self.gap_us = 500000 // rate_hz
        self.fix_lost_ms = fix_lost_s * 1000
        self.log = None
        self.fixes = 0  # epochs with a valid position
        self.clock_set = False
        self.has_fix = False  # a fix came within gps.fix_lost_s
        self.last_fix_ms = 0

    def poll(self, log, now):
        self.log = log
        uart = self.uart
        buf = self.buf
        nmea = self.nmea
        for _ in range(8):
            n = uart.readinto(buf)
            if not n:
                break
            nmea.feed(buf, n, time.ticks_us())
        nmea.idle(time.ticks_us(), self.gap_us)
        if self.has_fix:
            lost = time.ticks_diff(time.ticks_ms(), self.last_fix_ms)
            if lost >= self.fix_lost_ms:
                self.has_fix = False
                log.event(now, EV_GPS_FIX_LOST, lost // 1000)
        return _POLL_MS

    # Called by the parser once per epoch. Non-allocating.
    def _epoch(self, p):
        log = self.log
        if log is None:
            return
        valid = p.valid
        log.gps(
            p.ticks,
            p.day,
            p.tod,
            p.lat if valid & POS else 0,
            p.lon if valid & POS else 0,
            p.alt,
            p.speed,
            p.course,
            p.hdop,
            p.quality,
            p.sats,
            valid,
        )
        if valid & POS:
            self.fixes += 1
            self.has_fix = True
            self.last_fix_ms = time.ticks_ms()
            if valid & TIME and not self.clock_set:
                self.clock_set = True
                log.clock_set(p.ticks, p.day, p.tod, 0, SRC_GPS)

    def close(self, log):
        self.log = log
        self.nmea.finish()
        close = getattr(self.uart, "close", None)
        if close is not None:
            close()
