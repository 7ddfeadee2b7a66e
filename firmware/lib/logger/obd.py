# OBD-II polling (opt-in, obd.enabled): mode 01 requests on the functional address
# 0x7DF for the configured PIDs, round-robin, each PID once per obd.interval_ms.
#
# SAE J1979 / ISO 15765-4 over CAN: a single-frame request is 8 bytes: length 2,
# service 0x01, the PID, then padding (ISO 15765-2 leaves the padding value open; keilog
# sends 0x00). Answers come from 0x7E8..0x7EF as single frames and are logged by the
# receive path like any other frame (dbc/obd2.dbc decodes them). Each request is
# logged too, as the frame it was, so the host sees what was asked and when.
#
# Polling needs the controller in normal mode (it must ACK and transmit): the config
# switches the mode when obd.enabled is set (config.can_mode).
import time

from micropython import const

REQUEST_ID = const(0x7DF)
# ISO 15765-4: an ECU answers within P2 = 50 ms; requests are never closer than that.
_MIN_GAP_MS = const(50)


class ObdPoller:
    def __init__(self, src, ring, pids, interval_ms):
        self.src = src
        self.ring = ring
        self.pids = bytearray(pids)
        gap = interval_ms // len(pids)
        self.gap_ms = gap if gap > _MIN_GAP_MS else _MIN_GAP_MS
        self.req = bytearray(8)
        self.req[0] = 2  # ISO-TP single frame, 2 bytes follow
        self.req[1] = 0x01  # service 01: current data
        self.next = 0
        self.last_ms = time.ticks_ms()
        self.started = False
        self.sent = 0
        self.failed = 0

    def poll(self, log, now):
        now_ms = time.ticks_ms()
        wait = self.gap_ms - time.ticks_diff(now_ms, self.last_ms)
        if self.started and wait > 0:
            return wait
        self.started = True
        self.last_ms = now_ms
        req = self.req
        req[2] = self.pids[self.next]
        self.next = (self.next + 1) % len(self.pids)
        if self.src.send(REQUEST_ID, False, req, 8):
            self.sent += 1
            self.ring.put(time.ticks_us(), REQUEST_ID, 0, 8, req)
        else:
            self.failed += 1
        return self.gap_ms
