"""The sync protocol module, loaded from the firmware tree.

``firmware/lib/logger/syncproto.py`` is the protocol's only implementation: the
firmware imports it under MicroPython and the host loads the very same file here, so
both ends frame bytes with the same code (docs/sync-protocol.md). ``load()`` returns it
typed as :class:`SyncProto`.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Protocol, cast

from keilog.errors import FirmwareError
from keilog.paths import firmware_dir


class FrameDecoder(Protocol):
    """``syncproto.Decoder``: raw bytes in, (type, seq, payload) frames out."""

    frames: int
    crc_errors: int
    header_errors: int
    skipped: int

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]: ...

    def reset(self) -> None: ...


class SyncProto(Protocol):
    """The names keilog's host side uses from ``syncproto``."""

    PROTOCOL_VERSION: int
    HEADER_SIZE: int
    OVERHEAD: int
    MAX_PAYLOAD: int
    MAX_REQUEST: int
    MAX_DATA: int
    HELLO: int
    LIST: int
    STAT: int
    READ: int
    ACK: int
    SET_CLOCK: int
    CONFIG_GET: int
    CONFIG_PUT: int
    COUNTERS: int
    ROTATE: int
    BYE: int
    REPLY: int
    ERROR: int
    E_VERSION: int
    E_NO_SESSION: int
    E_UNKNOWN: int
    E_BAD_REQUEST: int
    E_NOT_FOUND: int
    E_NOT_SEALED: int
    E_MISMATCH: int
    E_BUSY: int
    E_IO: int
    E_CONFIG: int
    E_UNSUPPORTED: int
    ERROR_NAMES: dict[int, str]
    CAP_CLOCK: int
    CAP_ROTATE: int
    CAP_CONFIG: int
    F_SEALED: int
    F_ACKED: int
    F_HASHED: int
    L_ACKED: int
    FMT_HELLO_REQ: str
    FMT_HELLO: str
    FMT_LIST_REQ: str
    FMT_LIST: str
    FMT_ENTRY: str
    FMT_NAME: str
    FMT_READ_REQ: str
    FMT_READ: str
    FMT_ACK_REQ: str
    FMT_CLOCK_REQ: str
    FMT_CLOCK: str
    FMT_OFFSET: str
    FMT_CONFIG_PUT_REQ: str
    FMT_ERROR: str
    ENTRY_SIZE: int
    READ_HEADER: int
    HELLO_SIZE: int
    NAME_SIZE: int

    def encode(self, kind: int, seq: int, payload: bytes) -> bytes: ...

    def stuff(self, frame: bytes) -> bytes: ...

    def unstuff(self, data: bytes) -> bytes: ...

    def is_segment_name(self, name: str) -> bool: ...

    def version_advice(self, host_version: int, device_version: int) -> str: ...

    def Decoder(self, max_payload: int = ...) -> FrameDecoder: ...


def source_path() -> Path:
    """Where the shared protocol module lives."""
    return firmware_dir() / "lib" / "logger" / "syncproto.py"


@functools.cache
def load() -> SyncProto:
    """The firmware's ``syncproto`` module, loaded once under its own name."""
    path = source_path()
    spec = importlib.util.spec_from_file_location("keilog.sync._syncproto", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FirmwareError(
            f"{path}: the sync protocol module is missing; reinstall keilog from a full checkout"
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(SyncProto, module)
