"""Errors raised by the keilog library.

Every message names the file, line or frame it is about and says what to do next; the
CLI prints it as ``Error: ...`` and exits 1.
"""


class KeilogError(Exception):
    """Base class of every error keilog raises on purpose."""


class LogFormatError(KeilogError):
    """A log segment (or other log file) cannot be read."""


class DamagedFileError(LogFormatError):
    """A log has damaged parts and damage was not allowed: nothing of it was stored."""


class DbcError(KeilogError):
    """A DBC (or KCD/SYM/ARXML) file cannot be loaded."""


class ConfigError(KeilogError):
    """A configuration or scenario file is invalid."""


class FirmwareError(KeilogError):
    """The firmware could not be run (no interpreter, it crashed, ...)."""


class StoreError(KeilogError):
    """The SQLite database cannot be used."""


class ReportError(KeilogError):
    """A report, export or trip selection cannot be made from what was given."""
