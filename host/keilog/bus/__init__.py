"""Live-bus tools on python-can: record a bus to log segments, replay logs onto a bus,
watch decoded signals live.

- :mod:`keilog.bus.connect`: open any bus python-can supports (``-i/-c/-b`` as its tools).
- :mod:`keilog.bus.recorder`: this computer as the logger: frames into KLG segments with
  the firmware's own encoder (``firmware/lib/logger/record.py``), read by ``keilog import``.
- :mod:`keilog.bus.player`: a log file or a database trip onto a bus, paced by its times.
- :mod:`keilog.bus.monitor`: the latest decoded value of every signal seen on a bus.

    import can
    from keilog.bus import record

    with can.Bus(interface="socketcan", channel="can0") as bus:
        result = record(bus, "logs/", duration=60)
"""

from keilog.bus.connect import BusError, open_bus
from keilog.bus.monitor import Monitor, SignalRow, watch
from keilog.bus.player import PlayResult, db_messages, log_messages, play
from keilog.bus.recorder import RecordResult, record

__all__ = [
    "BusError",
    "Monitor",
    "PlayResult",
    "RecordResult",
    "SignalRow",
    "db_messages",
    "log_messages",
    "open_bus",
    "play",
    "record",
    "watch",
]
