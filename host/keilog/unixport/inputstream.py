"""The unix port's input stream: what stands in for the logger's pulse, analog and switch
pins when the firmware runs on this computer (``inputs.source``, docs/firmware-unix.md).

8-byte records ``<BBHI``: kind, channel, value, t. Kind 0 only advances the stream's
clock, 1 is an edge on a pulse channel, 2 sets a channel's level (an ADC's 16-bit
reading, or a switch pin's 0/1). ``t`` is microseconds on the stream's own clock,
modulo 2**30; the firmware's pulse inputs measure periods on it as a board's measure
them on ``ticks_us``. The firmware side is ``firmware/lib/logger/hal_unix_inputs.py``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

RECORD = struct.Struct("<BBHI")
KIND_CLOCK, KIND_EDGE, KIND_LEVEL = 0, 1, 2
# Channels, as firmware/lib/logger/inputs.py numbers them.
VSS, TACH, BATTERY, COOLANT, FUEL, OIL, BRAKE, LIGHTS = range(8)
CHANNEL_PINS = ("vss", "tach", "battery", "coolant", "fuel", "oil", "brake", "lights")
"""The config section of each channel (``vss.pin`` ...)."""
ADC_VREF_V = 3.3
ADC_FULL = 65535
_MASK30 = (1 << 30) - 1


def record(kind: int, channel: int, value: int, t_s: float) -> bytes:
    """One stream record at ``t_s`` seconds on the stream's clock."""
    return RECORD.pack(kind, channel, value & 0xFFFF, round(t_s * 1e6) & _MASK30)


def pack(events: Iterable[tuple[float, int, int, int]]) -> bytes:
    """Records for ``(t_s, kind, channel, value)`` tuples, in the order given."""
    return b"".join(record(k, ch, v, t) for t, k, ch, v in events)


def adc_u16(pin_v: float) -> int:
    """An ADC's ``read_u16`` for a voltage at the pin (clamped to 0 .. 3.3 V)."""
    return max(0, min(ADC_FULL, round(pin_v / ADC_VREF_V * ADC_FULL)))


def divider_u16(volts: float, top_ohm: float, bottom_ohm: float) -> int:
    """The reading of ``volts`` seen through a divider (the battery and sense input)."""
    return adc_u16(volts * bottom_ohm / (top_ohm + bottom_ohm))


def sender_u16(sender_ohm: float, pullup_ohm: float) -> int:
    """The reading of a sender to ground under the logger's pull-up to 3.3 V."""
    return adc_u16(ADC_VREF_V * sender_ohm / (sender_ohm + pullup_ohm))
