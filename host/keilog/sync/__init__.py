"""USB sync: get every log segment off the logger, exactly once (docs/sync-protocol.md).

- :func:`sync_port` opens the logger's serial port and runs a whole sync;
  :func:`sync` does it over an open :class:`DeviceClient`.
- :class:`DeviceClient` speaks the protocol (the firmware's own ``syncproto`` module,
  loaded by :mod:`keilog.sync.proto`).
- :class:`Archive` is the content-addressed folder segments land in.
- :func:`candidates` lists the MicroPython boards plugged in.
"""

from keilog.sync.archive import Archive
from keilog.sync.client import ClockSet, DeviceClient, DeviceInfo, Entry, LinkStats
from keilog.sync.errors import (
    DeviceError,
    InvalidReplyError,
    LinkLostError,
    LinkTimeoutError,
    SyncError,
    VerifyError,
    VersionMismatchError,
)
from keilog.sync.ports import PortInfo, candidates, open_port, resolve
from keilog.sync.run import Progress, SegmentResult, SyncResult, sync, sync_port

__all__ = [
    "Archive",
    "ClockSet",
    "DeviceClient",
    "DeviceError",
    "DeviceInfo",
    "Entry",
    "InvalidReplyError",
    "LinkLostError",
    "LinkStats",
    "LinkTimeoutError",
    "PortInfo",
    "Progress",
    "SegmentResult",
    "SyncError",
    "SyncResult",
    "VerifyError",
    "VersionMismatchError",
    "candidates",
    "open_port",
    "resolve",
    "sync",
    "sync_port",
]
