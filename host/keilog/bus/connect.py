"""Open a python-can bus from the options python-can's own tools take (``-i``, ``-c``,
``-b``, plus ``--bus-arg key=value``); what is not given comes from python-can's
configuration (``~/.canrc``, ``CAN_INTERFACE`` ...), as with ``python -m can.logger``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import can

from keilog.errors import KeilogError


class BusError(KeilogError):
    """A CAN bus cannot be opened or used."""


def open_bus(
    interface: str | None = None,
    channel: str | None = None,
    bitrate: int | None = None,
    args: Iterable[str] = (),
    receive_own_messages: bool = False,
) -> can.BusABC:
    """A python-can bus; ``args`` are ``key=value`` keyword arguments for it."""
    kwargs: dict[str, Any] = {}
    if interface:
        kwargs["interface"] = interface
    if channel is not None:
        kwargs["channel"] = channel
    if bitrate:
        kwargs["bitrate"] = bitrate
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise BusError(f"bus argument {arg!r} is not key=value; e.g. --bus-arg fd=True")
        kwargs[key] = _value(value)
    if receive_own_messages:
        kwargs["receive_own_messages"] = True
    where = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "python-can's default config"
    try:
        return can.Bus(**kwargs)
    except (can.CanError, OSError, ValueError, ImportError, TypeError) as exc:
        raise BusError(
            f"cannot open the CAN bus ({where}): {exc}; check -i/--interface, "
            "-c/--channel and -b/--bitrate (python -m can.logger --help lists interfaces)"
        ) from exc


def _value(text: str) -> Any:
    """``--bus-arg`` values as python-can's tools read them: ints, floats, booleans."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
