# Power and health: the ignition sense, the watchdog, and the status LED.
#
# Ignition: the sense voltage (power.ignition_pin: an ADC pin behind the divider of
# hardware/README.md on a board, a file holding mV on the unix port) is sampled every
# 10 ms. Below power.ignition_mv (with 500 mV hysteresis, 3 samples in a row) the
# logger writes ignition_off, closes its segment and parks: nothing is written, the
# loop dozes. It wakes when the ignition comes back or CAN frames arrive, and parks
# again after power.idle_s without frames while the ignition stays off.
import time

from micropython import const

from logger.record import EV_IGNITION_OFF, EV_IGNITION_ON, STOP_IGNITION

_SAMPLE_MS = const(10)
_HYSTERESIS_MV = const(500)
_DEBOUNCE = const(3)


class PowerService:
    def __init__(self, sense, on_mv, idle_s):
        self.sense = sense
        self.on_mv = on_mv
        self.off_mv = on_mv - _HYSTERESIS_MV if on_mv > _HYSTERESIS_MV else 0
        self.idle_ms = idle_s * 1000
        self.on = True  # the logger starts logging; a low first reading parks it
        self.count = 0  # samples in a row on the other side of the threshold
        self.mv = 0
        self.last_frames = 0
        self.active_ms = time.ticks_ms()  # last time CAN frames arrived or ignition on
        self.wakes = 0

    def poll(self, log, now):
        mv = self.sense.read_mv()
        if mv >= 0:
            self.mv = mv
            if (self.on and mv < self.off_mv) or (not self.on and mv >= self.on_mv):
                self.count += 1
            else:
                self.count = 0
            if self.count >= _DEBOUNCE:
                self.count = 0
                self.on = not self.on
                if self.on:
                    log.unpark(now)
                    log.event(now, EV_IGNITION_ON, mv)
                else:
                    log.event(now, EV_IGNITION_OFF, mv)
                    log.park(now, STOP_IGNITION)
        now_ms = time.ticks_ms()
        ring = log.ring
        if ring.head != ring.tail or self.on:
            self.active_ms = now_ms
        if log.parked and ring.head != ring.tail:
            self.wakes += 1
            log.unpark(now)  # CAN activity: log it while the ignition is off
        elif not self.on and not log.parked:
            if time.ticks_diff(now_ms, self.active_ms) >= self.idle_ms:
                log.park(now, STOP_IGNITION)
        return _SAMPLE_MS


class WatchdogService:
    def __init__(self, wdt):
        self.wdt = wdt

    def poll(self, log, now):
        self.wdt.feed()
        return 1000


# Status LED patterns: 8 slots of 125 ms per second, bit 0 first; 1 = lit.
LOGGING = const(0b11111110)  # on, with a short blink each second: alive and logging
NO_FIX = const(0b00001111)  # slow blink: logging, but GPS has no fix
ERROR = const(0b01010101)  # fast blink: bad config, storage full or failing, bus-off
PARKED = const(0b00000001)  # a short flash each second: ignition off, dozing
_SLOT_MS = const(125)


class StatusService:
    # leds: list of (use, led) from the HAL. A board with one LED shows the most urgent
    # pattern on it; a board with an LED per use lights each one for its own condition.
    def __init__(self, leds, gps):
        self.leds = leds
        self.gps = gps  # the GPS service, or None
        self.pattern = LOGGING
        self.slot = -1
        self.t0 = time.ticks_ms()

    def mode(self, log):
        if log.errors or log.full or log.halted or log.bus_state == 3:
            return ERROR
        if log.parked:
            return PARKED
        if self.gps is not None and not self.gps.has_fix:
            return NO_FIX
        return LOGGING

    def poll(self, log, now):
        self.pattern = self.mode(log)
        slot = time.ticks_diff(time.ticks_ms(), self.t0) // _SLOT_MS & 7
        if slot == self.slot:
            return _SLOT_MS
        self.slot = slot
        lit = self.pattern >> slot & 1
        for use, led in self.leds:
            if use == "status" or use == "logging":
                on = lit if use == "status" else self.pattern != ERROR
            elif use == "error":
                on = self.pattern == ERROR and lit
            elif use == "no_gps_fix":
                on = self.pattern == NO_FIX and lit
            else:
                continue  # usb_sync: the USB link's own LED
            if on:
                led.on()
            else:
                led.off()
        return _SLOT_MS
