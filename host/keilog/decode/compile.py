"""Compile cantools messages into plans for vectorised signal extraction.

cantools parses the DBC; here each signal becomes a constant shift and mask over one
8-byte window of the frame read as a 64-bit integer: little-endian for Intel signals,
big-endian for Motorola ones. numpy then decodes every frame of a message with a handful
of whole-array operations per signal (see ``extract.py``). Nothing here is per frame.

Bit numbering, as cantools defines it:

* Intel (``@1``): ``start`` is the LSB; bit i is bit ``i % 8`` of byte ``i // 8``.
* Motorola (``@0``): ``start`` is the MSB in "sawtooth" numbering (byte * 8 + bit, bit 7
  the MSB of the byte). In network order (bit 0 = MSB of byte 0) the signal runs from
  ``8 * (start // 8) + 7 - start % 8`` for ``length`` bits.

A message the plans cannot express exactly (a signal spread over 9 bytes, a float of a
width IEEE 754 has no type for here, a conversion class cantools added later) is decoded
by cantools frame by frame instead; ``MessagePlan.fallback`` says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cantools.database.can import Message, Signal
from cantools.database.conversion import (
    BaseConversion,
    IdentityConversion,
    LinearConversion,
    LinearIntegerConversion,
)

from keilog.errors import DbcError

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

RawKind = Literal["unsigned", "signed", "float16", "float32", "float64"]
# "identity": the raw number itself; "int": raw * scale + offset with integer scale and
# offset (cantools returns int); "float": raw * scale + offset in float64.
ConversionKind = Literal["identity", "int", "float"]
# dtype of the output column: int64, uint64 (unsigned 64-bit raw), object (Python ints
# beyond 64 bits, as cantools returns them), float64.
OutputKind = Literal["int64", "uint64", "object", "float64"]


@dataclass(frozen=True)
class SignalPlan:
    """How to extract one signal from a window of 8 frame bytes."""

    name: str
    window: int  # first byte of the 8-byte window
    big_endian: bool  # window read as a big-endian (Motorola) or little-endian word
    shift: int  # right shift of the word that brings the signal's LSB to bit 0
    length: int  # bits
    needed_bytes: int  # the frame must carry this many bytes for the signal to be present
    raw: RawKind
    conversion: ConversionKind
    scale: int | float
    offset: int | float
    output: OutputKind
    choices: dict[int, str] | None


@dataclass(frozen=True)
class MuxNode:
    """A multiplexer signal and, per value it may take, the nodes decoded then."""

    signal: str
    branches: dict[int, list[str | MuxNode]]


@dataclass
class MessagePlan:
    """Everything the decoder needs for one message."""

    message: Message
    key: int  # frame_id | is_extended << 31
    signals: list[SignalPlan] = field(default_factory=list)
    tree: list[str | MuxNode] = field(default_factory=list)
    fallback: str | None = None  # why cantools decodes this message frame by frame
    unsupported: str | None = None  # why no frame of this message can be decoded at all

    @property
    def name(self) -> str:
        return str(self.message.name)

    @property
    def multiplexed(self) -> bool:
        return any(isinstance(node, MuxNode) for node in self.tree)

    @property
    def needed_bytes(self) -> int:
        return max((s.needed_bytes for s in self.signals), default=0)

    @property
    def windows(self) -> list[tuple[int, bool]]:
        return sorted({(s.window, s.big_endian) for s in self.signals})

    @property
    def first_word_only(self) -> bool:
        """Every signal lies in the frame's first 8 bytes (classic CAN)."""
        return bool(self.signals) and all(s.window == 0 for s in self.signals)


class _Fallback(Exception):
    """Raised while compiling when the fast path cannot express a signal exactly."""


def message_key(frame_id: int, is_extended: bool) -> int:
    return frame_id | (int(is_extended) << 31)


def compile_message(message: Message) -> MessagePlan:
    """Compile one cantools message; never raises for what cantools accepted."""
    plan = MessagePlan(
        message=message, key=message_key(message.frame_id, message.is_extended_frame)
    )
    if message.is_container:
        plan.unsupported = (
            "an AUTOSAR container message: keilog does not decode the messages inside it"
        )
        return plan
    plan.tree = _compile_tree(message.signal_tree)
    try:
        plan.signals = [compile_signal(signal) for signal in message.signals]
    except _Fallback as why:
        plan.signals = []
        plan.fallback = str(why)
    return plan


def compile_signal(signal: Signal) -> SignalPlan:
    length = int(signal.length)
    if not 1 <= length <= 64:
        raise _Fallback(f"signal {signal.name} is {length} bits long")
    if signal.byte_order == "little_endian":
        lsb = int(signal.start)
        first_byte, last_byte = lsb // 8, (lsb + length - 1) // 8
        window = _window(first_byte, last_byte, signal)
        shift = lsb - 8 * window
        big_endian = False
    else:
        msb = 8 * (signal.start // 8) + 7 - signal.start % 8  # network order
        lsb_net = msb + length - 1
        first_byte, last_byte = msb // 8, lsb_net // 8
        window = _window(first_byte, last_byte, signal)
        shift = 8 * window + 63 - lsb_net
        big_endian = True
    raw = _raw_kind(signal)
    conversion, scale, offset = _conversion(signal)
    return SignalPlan(
        name=str(signal.name),
        window=window,
        big_endian=big_endian,
        shift=shift,
        length=length,
        needed_bytes=last_byte + 1,
        raw=raw,
        conversion=conversion,
        scale=scale,
        offset=offset,
        output=_output_kind(signal, raw, conversion, scale, offset),
        choices={int(k): str(v) for k, v in signal.choices.items()} if signal.choices else None,
    )


def _window(first_byte: int, last_byte: int, signal: Signal) -> int:
    if last_byte - first_byte >= 8:
        raise _Fallback(f"signal {signal.name} spreads over {last_byte - first_byte + 1} bytes")
    aligned = first_byte - first_byte % 8
    return aligned if last_byte < aligned + 8 else first_byte


def _raw_kind(signal: Signal) -> RawKind:
    if signal.is_float:
        kinds: dict[int, RawKind] = {16: "float16", 32: "float32", 64: "float64"}
        if signal.length not in kinds:
            raise _Fallback(f"float signal {signal.name} is {signal.length} bits long")
        return kinds[signal.length]
    return "signed" if signal.is_signed else "unsigned"


def _conversion(signal: Signal) -> tuple[ConversionKind, int | float, int | float]:
    # The conversion cantools applies with decode_choices=False: the same factory without
    # the choices, so the arithmetic (and int versus float result) matches it exactly.
    conv = BaseConversion.factory(
        scale=signal.scale, offset=signal.offset, choices=None, is_float=signal.is_float
    )
    if isinstance(conv, IdentityConversion):
        return "identity", 1, 0
    if isinstance(conv, LinearIntegerConversion):
        return "int", int(conv.scale), int(conv.offset)
    if isinstance(conv, LinearConversion):
        return "float", conv.scale, conv.offset
    raise _Fallback(f"signal {signal.name} uses {type(conv).__name__}")


def _output_kind(
    signal: Signal,
    raw: RawKind,
    conversion: ConversionKind,
    scale: int | float,
    offset: int | float,
) -> OutputKind:
    if raw.startswith("float") or conversion == "float":
        return "float64"
    length = int(signal.length)
    lo, hi = (
        (-(1 << (length - 1)), (1 << (length - 1)) - 1)
        if raw == "signed"
        else (0, (1 << length) - 1)
    )
    if conversion == "identity":
        return "uint64" if hi > INT64_MAX else "int64"
    ends = [lo * int(scale), hi * int(scale)]
    results = [e + int(offset) for e in ends]
    if hi <= INT64_MAX and all(INT64_MIN <= v <= INT64_MAX for v in ends + results):
        return "int64"
    if lo >= 0 and scale >= 0 and offset >= 0 and max(results) <= UINT64_MAX:
        return "uint64"
    return "object"


def _compile_tree(tree: Sequence[object]) -> list[str | MuxNode]:
    nodes: list[str | MuxNode] = []
    for node in tree:
        if isinstance(node, str):
            nodes.append(node)
            continue
        if not isinstance(node, Mapping):
            raise DbcError(
                f"a message's signal tree has {node!r} where a signal or multiplexer belongs "
                "(a damaged multiplexer definition); fix the database file"
            )
        for mux_name, branches in node.items():
            nodes.append(
                MuxNode(
                    signal=str(mux_name),
                    branches={int(v): _compile_tree(sub) for v, sub in branches.items()},
                )
            )
    return nodes
