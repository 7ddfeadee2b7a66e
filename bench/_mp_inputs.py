# Run under MicroPython by bench/firmware.py: the firmware's pulse path on the unix port.
# Prints one JSON line.
# Usage: _mp_inputs.py STREAM STORAGE N the input stream (N edges) (edges of the VSS and the tach)
#        through InputFeed.pump -> Pulse.edge, sampled by InputService at 50 Hz into
#        input records and blocks, timed; then, collector off, the heap per pulse
#        _mp_inputs.py edges N            Pulse.edge alone (what a pin interrupt runs)
#        _mp_inputs.py list N             the reference: edge times kept in a list
import gc
import json
import sys
import time

from logger import config, hal_unix
from logger.app import Logger
from logger.hal_unix_inputs import InputFeed
from logger.inputs import InputService, Pulse


def edges(n):
    p = Pulse()
    edge = p.edge
    t0 = time.ticks_us()
    for i in range(n):
        edge(i)
    us = time.ticks_diff(time.ticks_us(), t0)
    print(json.dumps({"pulses": n, "us": us}))


def listed(n):
    kept = []
    gc.collect()
    gc.disable()
    held = gc.mem_alloc()
    for _i in range(n):
        kept.append(time.ticks_us())
    garbage = gc.mem_alloc() - held
    gc.enable()
    print(json.dumps({"pulses": n, "heap_bytes": garbage}))


def stream(path, storage, n):
    cfg, errors = config.validate(
        {
            "storage": {"path": storage},
            "can": {"enabled": False},
            "gps": {"enabled": False},
            "inputs": {"source": path, "pulse_hz": 50, "analog_hz": 1},
            "vss": {"pin": "vss"},
            "tach": {"pin": "tach"},
        }
    )
    assert not errors, errors
    log = Logger(cfg, hal_unix)
    feed = InputFeed(open(path, "rb"), True)
    svc = InputService(cfg, feed, ("X19", 12, 3300, 100000, 22000))
    now = log.clock.update()
    log.open_segment(now)
    svc.t_pulse = now
    step = 20000  # a sample every poll (50 Hz on the logger's clock)
    for _ in range(3):  # warm up
        now += step
        svc.poll(log, now)
    rec0 = feed.records
    t0 = time.ticks_us()
    half = 0
    garbage = 0
    while not feed.eof:
        now += step
        svc.poll(log, now)
        if not half and feed.records - rec0 > n // 2:
            half = feed.records
            gc.collect()
            gc.disable()
            held = gc.mem_alloc()
    if half:
        garbage = gc.mem_alloc() - held
        gc.enable()
    us = time.ticks_diff(time.ticks_us(), t0)
    log.flush()
    log.store.close()
    print(
        json.dumps(
            {
                "pulses": feed.records - rec0,
                "us": us,
                "garbage_pulses": feed.records - half if half else 0,
                "garbage_bytes": garbage,
                "records_bytes": log.store.bytes_written,
            }
        )
    )


if sys.argv[1] == "edges":
    edges(int(sys.argv[2]))
elif sys.argv[1] == "list":
    listed(int(sys.argv[2]))
else:
    stream(sys.argv[1], sys.argv[2], int(sys.argv[3]))
