# Run under MicroPython: the board CAN sources (can_machine, can_pyb) on the in-memory
# controllers of fakecan.py, through the real ring, CanService, Logger and segment
# store. Usage: mp_can.py SCENARIO DRIVER STORAGE_DIR; prints one JSON line.
import json
import sys
import time

import micropython
from fakecan import MachineCAN, PybCAN, new_bus
from logger import canbus, config, hal_unix
from logger.app import Logger
from logger.can_machine import MachineCan
from logger.can_pyb import PybCan
from logger.obd import ObdPoller

SCENARIO, DRIVER, PATH = sys.argv[1], sys.argv[2], sys.argv[3]


def make_logger(extra):
    obj = {"storage": {"path": PATH}, "counters_s": 3600}
    for k in extra:
        obj[k] = extra[k]
    cfg, errors = config.validate(obj)
    if errors:
        raise ValueError(errors)
    log = Logger(cfg, hal_unix)
    log.start()
    return log, cfg


def open_src(cfg, ring, bitrate=500000):
    normal = config.can_mode(cfg) == "normal"
    flt = canbus.filters(cfg)
    if DRIVER == "machine":
        return MachineCan(MachineCAN, 1, bitrate, normal, flt, ring)
    return PybCan(PybCAN, 1, bitrate, normal, flt, ring)


def controller():
    return (MachineCAN if DRIVER == "machine" else PybCAN).instances[-1]


def describe(ctl):
    if DRIVER == "machine":
        return {
            "mode": ctl.mode,
            "silent": ctl.mode == MachineCAN.MODE_SILENT,
            "filters": None if ctl.filters is None else [list(f) for f in ctl.filters],
            "trigger": ctl.trigger,
            "hard": ctl.hard,
        }
    return {
        "mode": ctl.mode,
        "silent": ctl.mode == PybCAN.SILENT,
        "banks": [
            [b, ctl.banks[b][0], ctl.banks[b][1], list(ctl.banks[b][2]), ctl.banks[b][3]]
            for b in sorted(ctl.banks)
        ],
        "callbacks": [cb is not None for cb in ctl.callbacks],
    }


# Step the logger by hand: the service, then the drain, with the heap locked as in the
# main loop (the controller's interrupt has already filled the ring).
def step(log, svc):
    now = log.clock.update()
    micropython.heap_lock()
    try:
        svc.poll(log, now)
        log.drain()
    finally:
        micropython.heap_unlock()


def rx():
    bus = new_bus()
    log, cfg = make_logger({"can": {"filters": [[0x100, 0x700], [0x18DAF100, 0x1FFFFF00, True]]}})
    src = open_src(cfg, log.ring)
    svc = canbus.CanService(src)
    bus.deliver(0x123, b"\x01\x02")  # passes [0x100, 0x700]
    bus.deliver(0x200, b"\xff")  # filtered out
    bus.deliver(0x18DAF110, b"\x02\x01\x0d\x00\x00\x00\x00\x00", ext=True)
    bus.deliver(0x18DAF210, b"\x09", ext=True)  # filtered out
    bus.deliver(0x1FF, b"", rtr=True, dlc=4)
    bus.deliver(0x101, b"")
    for i in range(300):  # more than the ring (256) holds: drained as they come
        bus.deliver(0x100 + (i & 0xFF), bytes([i & 0xFF, 1, 2, 3, 4, 5, 6, 7]))
        if i % 50 == 49:
            step(log, svc)
    step(log, svc)
    out = describe(controller())
    out["frames"] = src.frames
    out["send_silent"] = src.send(0x7DF, False, b"\x02\x01\x0d", 3)
    log.shutdown(0)
    return out


def overrun():
    bus = new_bus()
    log, cfg = make_logger({})
    src = open_src(cfg, log.ring)
    svc = canbus.CanService(src)
    bus.deliver(0x10, b"\x00")  # the first interrupt: unlocked warm-up
    step(log, svc)
    bus.hold = True  # interrupts masked: the controller's FIFO fills and overflows
    for i in range(7):
        bus.deliver(0x20 + 2 * i, bytes([i]))  # even ids: one FIFO on either driver
    bus.release()
    step(log, svc)
    out = {"frames": src.frames, "overruns": src.overruns}
    log.shutdown(0)
    return out


def state():
    new_bus()
    log, cfg = make_logger({})
    src = open_src(cfg, log.ring)
    svc = canbus.CanService(src)
    ctl = controller()
    seen = []
    for st in (2, 3, 1, 4):  # warning, passive, active, bus-off (controller numbering)
        if DRIVER == "machine":
            ctl.set_state(st)
        else:
            ctl.st = st
        step(log, svc)
        seen.append(src.state())
    time.sleep_ms(1050)  # CanService restarts a bus-off controller after 1 s
    step(log, svc)
    step(log, svc)
    seen.append(src.state())
    log.shutdown(0)
    return {"states": seen}


def autobaud():
    bus = new_bus(bitrate=250000)
    log, cfg = make_logger({})

    silent = []

    def opener(b):
        src = open_src(cfg, log.ring, b)
        silent.append(describe(controller())["silent"])
        return src

    bus.traffic = (0x123, b"\x11\x22")
    found = canbus.detect_bitrate(opener, 500000, 60, None)
    tried = [c.baudrate if DRIVER == "pyb" else c.bitrate for c in controller_list()]
    bus.traffic = None
    n = len(controller_list())
    none = canbus.detect_bitrate(opener, 500000, 30, None)
    log.shutdown(0)
    return {
        "found": found,
        "tried": tried,
        "silent": silent,
        "quiet": none,
        "quiet_tried": len(controller_list()) - n,
    }


def controller_list():
    return MachineCAN.instances if DRIVER == "machine" else PybCAN.instances


def obd():
    bus = new_bus()
    log, cfg = make_logger(
        {
            "obd": {"enabled": True, "pids": [0x0D, 0x0C], "interval_ms": 200},
            "can": {"filters": [[0x100, 0x7FF]]},
        }
    )
    src = open_src(cfg, log.ring)
    svc = canbus.CanService(src)
    poller = ObdPoller(src, log.ring, cfg["obd.pids"], cfg["obd.interval_ms"])

    def ecu(bus, can_id, data, ext):  # an engine ECU answering mode 01 requests
        if can_id == 0x7DF and data[1] == 0x01:
            pid = data[2]
            value = b"\x3c" if pid == 0x0D else b"\x1a\xf8"  # 60 km/h, 1726 rpm
            payload = bytes([2 + len(value), 0x41, pid]) + value
            bus.deliver(0x7E8, payload + bytes(8 - len(payload)))

    bus.responder = ecu
    bus.deliver(0x100, b"")  # warm-up interrupt
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 450:
        now = log.clock.update()
        poller.poll(log, now)
        step(log, svc)
        time.sleep_ms(5)
    out = describe(controller())
    out["sent"] = [[i, d.hex(), e] for i, d, e in bus.sent]
    out["gap_ms"] = poller.gap_ms
    log.shutdown(0)
    return out


SCENARIOS = {"rx": rx, "overrun": overrun, "state": state, "autobaud": autobaud, "obd": obd}
print(json.dumps(SCENARIOS[SCENARIO]()))
