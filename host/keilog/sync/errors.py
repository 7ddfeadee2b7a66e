"""Errors of USB sync. Each says what happened on which port and what to do next."""

from __future__ import annotations

from keilog.errors import KeilogError


class SyncError(KeilogError):
    """USB sync could not finish."""


class LinkTimeoutError(SyncError):
    """The device did not answer in time (after retries)."""


class LinkLostError(SyncError):
    """The serial port went away (cable pulled, laptop slept) or cannot be opened."""


class VersionMismatchError(SyncError):
    """Host and device speak different sync protocol versions."""

    def __init__(self, message: str, host_version: int, device_version: int) -> None:
        super().__init__(message)
        self.host_version = host_version
        self.device_version = device_version


class InvalidReplyError(SyncError):
    """The device said something no keilog firmware says (a name that is not a segment
    name, an unusable device id, an out-of-range HELLO field): refused before anything
    was written."""


class DeviceError(SyncError):
    """The device refused a request (its ERROR reply)."""

    def __init__(self, message: str, code: int, command: str) -> None:
        super().__init__(message)
        self.code = code
        self.command = command


class VerifyError(SyncError):
    """What arrived is not what the device has (sha256 differs) even after a re-fetch."""
