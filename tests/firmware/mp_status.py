# Run under MicroPython: the status LED patterns and the unix watchdog report.
# Prints one JSON object: for each logger state, the LEDs lit in each of the 8 slots of
# a second, for a one-LED board and for the Pyboard's four LEDs.
import json
import time

from logger import hal_unix
from logger.power import StatusService


class Led:
    def __init__(self):
        self.value = 0

    def on(self):
        self.value = 1

    def off(self):
        self.value = 0


class Gps:
    has_fix = True


class Log:
    def __init__(self, **kw):
        self.errors = ()
        self.full = False
        self.halted = False
        self.parked = False
        self.bus_state = 0
        for k in kw:
            setattr(self, k, kw[k])


def sequence(leds, log, gps):
    svc = StatusService(leds, gps)
    out = []
    for slot in range(8):
        svc.t0 = time.ticks_add(time.ticks_ms(), -125 * slot - 60)  # the middle of a slot
        svc.poll(log, 0)
        out.append("".join(str(led.value) for _, led in leds))
    return out


def main():
    states = {
        "logging": (Log(), True),
        "no_fix": (Log(), False),
        "config_error": (Log(errors=("bad",)), True),
        "storage_full": (Log(full=True), True),
        "bus_off": (Log(bus_state=3), True),
        "parked": (Log(parked=True), True),
    }
    out = {}
    for name in states:
        log, fix = states[name]
        gps = Gps()
        gps.has_fix = fix
        one = [("status", Led())]
        four = [("error", Led()), ("logging", Led()), ("no_gps_fix", Led()), ("usb_sync", Led())]
        out[name] = {"one": sequence(one, log, gps), "pyboard": sequence(four, log, gps)}
    wdt = hal_unix.Watchdog(50)
    wdt.feed()
    time.sleep_ms(80)
    wdt.feed()
    wdt.feed()
    out["watchdog_stalls"] = wdt.stalls
    print(json.dumps(out))


main()
