# Run under MicroPython: the pulse, analog and switch inputs (logger.inputs) fed from an
# input stream file (logger.hal_unix_inputs, the unix port's input hardware), sampled and
# logged with micropython.heap_lock() held after a warm-up: every edge (Pulse.edge, what
# a board's pin interrupt does, and the stream decoding before it), every sample and
# every input record allocates nothing.
#   argv: storage folder, stream file, "lock" or "nolock", step us between polls
import json
import sys

import micropython
from logger import config, hal_unix
from logger.app import Logger
from logger.hal_unix_inputs import InputFeed
from logger.inputs import InputService


def main():
    pins = {"pin": "x"}
    cfg, errors = config.validate(
        {
            "storage": {"path": sys.argv[1]},
            "can": {"enabled": False},
            "gps": {"enabled": False},
            "inputs": {"source": sys.argv[2], "pulse_hz": 50, "analog_hz": 10},
            "vss": pins,
            "tach": pins,
            "battery": pins,
            "coolant": pins,
            "fuel": pins,
            "oil": pins,
            "brake": pins,
            "lights": pins,
        }
    )
    assert not errors, errors
    lock = sys.argv[3] == "lock"
    step = int(sys.argv[4])
    log = Logger(cfg, hal_unix)
    # the stream read a record at a time (as from a FIFO), at most 64 per poll: samples
    # then see a fraction of a second of it each
    hw = InputFeed(open(sys.argv[2], "rb"), False)
    svc = InputService(cfg, hw, ("X19", 12, 3300, 100000, 22000))
    now = log.clock.update()
    log.open_segment(now)
    svc.t_pulse = svc.t_analog = now
    for _ in range(3):  # warm up outside the lock (first-call caches)
        now += step
        svc.poll(log, now)
    polls = 0
    edges0 = hw.records
    if lock:
        micropython.heap_lock()
    try:
        while not hw.eof:
            now += step
            svc.poll(log, now)
            polls += 1
        edges = hw.records - edges0
    finally:
        if lock:
            micropython.heap_unlock()
    log.flush()
    log.store.close()
    print(
        json.dumps(
            {
                "polls": polls,
                "records_in_lock": edges,
                "total": hw.records,
                "samples": svc.samples,
                "bytes": log.store.bytes_written,
            }
        )
    )


main()
