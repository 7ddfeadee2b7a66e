# The CAN service: watches a CAN source and turns its counters into events.
#
# A source (hal_unix.StreamCan, can_machine.MachineCan, can_pyb.PybCan) puts received
# frames into the FrameRing (from its receive interrupt on a board, from poll() on the
# unix port) and offers:
#   poll()                    move waiting frames into the ring (interrupt sources: no-op)
#   frames, overruns          received / lost by the controller, since it was opened
#   state()                   0 error-active, 1 warning, 2 error-passive, 3 bus-off
#   errors()                  receive errors seen (auto-detect uses it)
#   send(id, ext, data, dlc)  transmit (normal mode only); False when it could not
#   restart(), close()
#   eof                       a finite source (unix file or FIFO) has ended
import time

from micropython import const

from logger.record import EV_AUTOBAUD, EV_BITRATE, EV_BUS_STATE, EV_OVERRUN

BUS_OFF = const(3)
_RESTART_MS = const(1000)  # wait this long in bus-off before restarting the controller
# Auto-detect tries the configured bitrate first, then these.
BITRATES = (500000, 250000, 125000, 1000000)
# OBD-II responses (ISO 15765-4): 0x7E8..0x7EF, 11-bit.
OBD_RESPONSE = (0x7E8, 0x7F8, False)


class CanService:
    def __init__(self, src):
        self.src = src
        self.overruns = 0  # already logged
        self.state = 0
        self.off_ms = 0

    def poll(self, log, now):
        src = self.src
        src.poll()
        n = src.overruns
        if n != self.overruns:
            log.event(now, EV_OVERRUN, n - self.overruns if n > self.overruns else n)
            self.overruns = n
        st = src.state()
        if st != self.state:
            self.state = st
            log.bus_state = st
            log.event(now, EV_BUS_STATE, st)
            if st == BUS_OFF:
                self.off_ms = time.ticks_ms()
        if self.state == BUS_OFF and time.ticks_diff(time.ticks_ms(), self.off_ms) >= _RESTART_MS:
            self.off_ms = time.ticks_ms()
            src.restart()
        return 1000

    def close(self, log):
        self.src.close()


# The acceptance filters of the config as (id, mask, extended) tuples; [] means log
# everything. With OBD-II polling, the responses are let through as well.
def filters(cfg):
    out = []
    for f in cfg["can.filters"]:
        out.append((f[0], f[1], len(f) == 3 and f[2]))
    if out and cfg["obd.enabled"]:
        for can_id in range(0x7E8, 0x7F0):
            if not _accepted(out, can_id):
                out.append(OBD_RESPONSE)
                break
    return out


def _accepted(flt, can_id):
    for fid, mask, ext in flt:
        if not ext and can_id & mask == fid & mask:
            return True
    return False


# Find the bus's bitrate by listening in silent mode: open(bitrate) opens a source,
# the first bitrate on which frames arrive without receive errors wins. Returns 0 when
# none did. feed() keeps the watchdog fed while listening.
def detect_bitrate(open_silent, first, listen_ms, feed):
    order = [first]
    for b in BITRATES:
        if b != first:
            order.append(b)
    for bitrate in order:
        src = open_silent(bitrate)
        t0 = time.ticks_ms()
        ok = False
        while time.ticks_diff(time.ticks_ms(), t0) < listen_ms:
            src.poll()
            if feed:
                feed()
            if src.errors() or src.state():
                ok = False  # bits that make no sense at this bitrate: try the next
                break
            ok = src.frames > 0
            time.sleep_ms(10)
        src.close()
        if ok:
            return bitrate
    return 0


# Open the CAN source for cfg through the HAL, auto-detecting the bitrate if asked.
# Returns (source or None, events to log at boot).
def open_source(cfg, hal, ring, feed):
    from logger import config

    normal = config.can_mode(cfg) == "normal"
    bitrate = cfg["can.bitrate"]
    events = []
    if cfg["can.autobaud"] and hal.can_has_bitrate:
        found = detect_bitrate(
            lambda b: hal.open_can(cfg, ring, False, b), bitrate, cfg["can.autobaud_ms"], feed
        )
        ring.discard()
        events.append((EV_AUTOBAUD, found))
        if found:
            bitrate = found
    src = hal.open_can(cfg, ring, normal, bitrate)
    if src is not None and hal.can_has_bitrate:
        events.append((EV_BITRATE, bitrate))
    return src, events
