"""Vectorised decoding of all frames of one message (the fast path), and the cantools
per-frame fallback for the messages the fast path cannot express.

Pitfalls handled here (see docs/decode.md): floats are reinterpreted from their raw bits,
never sign-extended; signed integers are sign-extended from their own length before
scaling; integer arithmetic stays in int64 (NumPy 2 keeps uint64 + negative Python int
an error); a signal is present only if the frame's own bytes contain it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cantools.database.errors import DecodeError
from cantools.database.namedsignalvalue import NamedSignalValue
from numpy.typing import NDArray

from keilog.decode.compile import MessagePlan, MuxNode, SignalPlan
from keilog.decode.frames import FrameBatch
from keilog.decode.result import (
    TRUNCATED,
    UNDECODABLE,
    UNDEFINED_MULTIPLEXER,
    UNSUPPORTED,
    DecodedMessage,
)

U64 = np.dtype("<u8")
Mask = NDArray[np.bool_] | None  # None: True for every frame


def decode_message_rows(
    plan: MessagePlan,
    batch: FrameBatch,
    idx: NDArray[np.intp],
    timestamps: NDArray[np.float64],
    dlc: NDArray[np.uint8],
    words: NDArray[np.uint64],
    choices: bool,
) -> DecodedMessage:
    """Decode the frames ``idx`` of ``batch``, all of which carry ``plan``'s id.

    ``timestamps``, ``dlc`` and ``words`` (the first 8 bytes as a little-endian uint64)
    are those frames' values, already gathered by the caller.
    """
    message = plan.message
    out = DecodedMessage(
        name=plan.name,
        frame_id=int(message.frame_id),
        is_extended=bool(message.is_extended_frame),
        rows=idx,
        timestamps=timestamps,
        signals={},
    )
    if plan.unsupported:
        out.problems[UNSUPPORTED] = len(idx)
        return out
    short = int(np.count_nonzero(dlc < message.length)) if len(idx) else 0
    if short:
        out.problems[TRUNCATED] = short
    if plan.fallback:
        _fallback(plan, batch, idx, choices, out)
        return out
    _fast(plan, batch, idx, dlc, words, choices, out)
    return out


def _fast(
    plan: MessagePlan,
    batch: FrameBatch,
    idx: NDArray[np.intp],
    dlc: NDArray[np.uint8],
    words: NDArray[np.uint64],
    choices: bool,
    out: DecodedMessage,
) -> None:
    windows = _windows(plan, batch, idx, words)
    min_dlc = int(dlc.min()) if len(dlc) else 0
    fits: dict[str, Mask] = {}
    raws: dict[str, NDArray[Any]] = {}
    for sp in plan.signals:
        fits[sp.name] = None if sp.needed_bytes <= min_dlc else dlc >= sp.needed_bytes
        raw = _raw(windows[(sp.window, sp.big_endian)], sp)
        out.signals[sp.name] = _convert(raw, sp)
        if choices and sp.choices:
            raws[sp.name] = raw
    present, undefined = _presence(plan.tree, fits, out.signals)
    if undefined:
        out.problems[UNDEFINED_MULTIPLEXER] = undefined
    for name, mask in present.items():
        if mask is None:
            continue
        out.present[name] = mask
        _blank(out.signals[name], mask)
    for name, raw in raws.items():
        sp = next(s for s in plan.signals if s.name == name)
        out.labels[name] = _labels(raw, sp, out.present.get(name))


def _windows(
    plan: MessagePlan,
    batch: FrameBatch,
    idx: NDArray[np.intp],
    words: NDArray[np.uint64],
) -> dict[tuple[int, bool], NDArray[np.uint64]]:
    """The 8-byte windows the message's signals read, as uint64 per frame."""
    little: dict[int, NDArray[np.uint64]] = {}
    starts = sorted({w for w, _ in plan.windows})
    width = batch.width
    if starts == [0]:
        little[0] = words
    elif all(w % 8 == 0 and w + 8 <= width for w in starts):
        by_word = batch.data.view(U64)  # (N, width // 8), no copy
        for w in starts:
            little[w] = by_word[idx, w // 8]
    else:
        # Windows past the batch width (a signal the DBC puts beyond what this batch
        # carries) or not 8-aligned (CAN FD): copy the rows into a padded buffer.
        padded = max(width, max(starts) + 8)
        rows = np.zeros((len(idx), padded), np.uint8)
        rows[:, :width] = batch.data[idx]
        for w in starts:
            little[w] = np.ascontiguousarray(rows[:, w : w + 8]).view(U64).reshape(len(idx))
    out: dict[tuple[int, bool], NDArray[np.uint64]] = {}
    for w, big in plan.windows:
        out[(w, big)] = little[w].byteswap() if big else little[w]
    return out


def _raw(word: NDArray[np.uint64], sp: SignalPlan) -> NDArray[Any]:
    """The signal's raw value: uint64 (unsigned), int64 (signed) or float64 (IEEE).

    Never returns ``word`` itself, so callers may modify the result in place.
    """
    if sp.length == 64:
        bits = word.copy()
    else:
        bits = word >> np.uint64(sp.shift) if sp.shift else word.copy()
        bits &= np.uint64((1 << sp.length) - 1)
    if sp.raw == "unsigned":
        return bits
    if sp.raw == "signed":
        signed = bits.view(np.int64)
        if sp.length < 64:
            sign = np.int64(1 << (sp.length - 1))
            signed ^= sign
            signed -= sign
        return signed
    # Widening a signalling NaN raises the "invalid" flag; the value is still NaN, as
    # cantools gives it.
    with np.errstate(invalid="ignore"):
        if sp.raw == "float32":
            return bits.astype(np.uint32).view(np.float32).astype(np.float64)
        if sp.raw == "float16":
            return bits.astype(np.uint16).view(np.float16).astype(np.float64)
    return bits.view(np.float64)


def _convert(raw: NDArray[Any], sp: SignalPlan) -> NDArray[Any]:
    """raw * scale + offset with cantools' result types (int stays int)."""
    if sp.output == "float64":
        value = raw if raw.dtype == np.float64 else raw.astype(np.float64)
        if sp.conversion == "identity":
            return value
        value *= sp.scale
        value += sp.offset
        return value
    if sp.output == "object":
        return np.asarray(raw.astype(object) * sp.scale + sp.offset, dtype=object)
    if sp.output == "uint64":
        if sp.conversion == "identity":
            return raw.astype(np.uint64)
        return raw * np.uint64(sp.scale) + np.uint64(sp.offset)
    value = raw.view(np.int64)  # raw is fresh uint64 below 2**63, or int64
    if sp.conversion == "int":
        value *= np.int64(sp.scale)
        value += np.int64(sp.offset)
    return value


def _presence(
    tree: list[str | MuxNode],
    fits: dict[str, Mask],
    values: dict[str, NDArray[Any]],
) -> tuple[dict[str, Mask], int]:
    """Which frames carry each signal, walking the multiplexer tree as cantools does.

    Returns (presence per signal, number of frames with a selector value the DBC does
    not define). A selector takes cantools' view of its value: int() of the scaled value.
    """
    present: dict[str, Mask] = {}
    undefined: Mask = None
    any_undefined = False

    def mark(name: str, cond: Mask) -> Mask:
        here = _and(cond, fits[name])
        present[name] = _or(present[name], here) if name in present else here
        return here

    def walk(nodes: list[str | MuxNode], cond: Mask) -> None:
        nonlocal undefined, any_undefined
        for node in nodes:
            if isinstance(node, str):
                mark(node, cond)
                continue
            here = mark(node.signal, cond)
            selector = _selector(values[node.signal])
            for value, sub in node.branches.items():
                walk(sub, _and(here, selector == value))
            bad = ~np.isin(selector, np.array(list(node.branches), dtype=np.int64))
            bad = bad if here is None else bad & here
            undefined = bad if undefined is None else undefined | bad
            any_undefined = True

    walk(tree, None)
    # A signal the tree never reaches (cantools leaves it undecoded) is never present.
    for name in values:
        if name not in present:
            present[name] = np.zeros(len(values[name]), np.bool_)
    count = int(np.count_nonzero(undefined)) if any_undefined and undefined is not None else 0
    return present, count


def _selector(values: NDArray[Any]) -> NDArray[Any]:
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(values), np.trunc(values), np.nan)
    if values.dtype == object:
        return np.array([int(v) if -(1 << 63) <= v < (1 << 63) else -1 for v in values], np.int64)
    if values.dtype == np.uint64:
        return np.where(values > np.uint64(1 << 62), -1, values.astype(np.int64))
    return values


def _and(a: Mask, b: Mask) -> Mask:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _or(a: Mask, b: Mask) -> Mask:
    if a is None or b is None:
        return None
    return a | b


def _blank(values: NDArray[Any], present: NDArray[np.bool_]) -> None:
    absent = ~present
    if values.dtype.kind == "f":
        values[absent] = np.nan
    elif values.dtype == object:
        values[absent] = None
    else:
        values[absent] = 0


def _labels(raw: NDArray[Any], sp: SignalPlan, present: Mask) -> NDArray[np.object_]:
    # cantools looks labels up by int(raw value).
    choices = sp.choices or {}
    keys = np.where(np.isfinite(raw), np.trunc(raw), -1.5) if raw.dtype.kind == "f" else raw
    uniq, inverse = np.unique(keys, return_inverse=True)
    table = np.array(
        [None if (k != k or k == -1.5) else choices.get(int(k)) for k in uniq.tolist()] + [None],
        dtype=object,
    )
    labels = table[inverse.reshape(-1)]
    if present is not None:
        labels[~present] = None
    return np.asarray(labels, dtype=object)


def _fallback(
    plan: MessagePlan,
    batch: FrameBatch,
    idx: NDArray[np.intp],
    choices: bool,
    out: DecodedMessage,
) -> None:
    """cantools, frame by frame, for what the fast path cannot express."""
    message = plan.message
    decoded: list[Any] = []  # cantools' signal dicts; None where it raised
    labelled: list[Any] = []
    failed = 0
    for row in idx.tolist():
        payload = batch.payload(row)
        try:
            decoded.append(message.decode(payload, decode_choices=False, allow_truncated=True))
            if choices:
                labelled.append(message.decode(payload, decode_choices=True, allow_truncated=True))
        except DecodeError:
            failed += 1
            decoded.append(None)
            labelled.append(None)
    if failed:
        out.problems[UNDECODABLE] = failed
    for signal in message.signals:
        name = str(signal.name)
        column = [None if d is None else d.get(name) for d in decoded]
        mask = np.array([v is not None for v in column], np.bool_)
        out.signals[name] = _column(column, mask)
        if not mask.all():
            out.present[name] = mask
        if choices and signal.choices:
            out.labels[name] = np.array(
                [
                    str(d[name])
                    if d is not None and isinstance(d.get(name), NamedSignalValue)
                    else None
                    for d in labelled
                ],
                dtype=object,
            )


def _column(values: list[Any], present: NDArray[np.bool_]) -> NDArray[Any]:
    seen = [v for v in values if v is not None]
    if any(isinstance(v, float) for v in seen):
        return np.array([np.nan if v is None else float(v) for v in values], np.float64)
    ints = [0 if v is None else int(v) for v in values]
    if all(-(1 << 63) <= v < (1 << 63) for v in ints):
        return np.array(ints, np.int64)
    if all(0 <= v < (1 << 64) for v in ints):
        return np.array(ints, np.uint64)
    column = np.array(ints, dtype=object)
    column[~present] = None
    return column
