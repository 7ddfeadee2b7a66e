"""The Decoder: group a FrameBatch by message and decode each group at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from cantools.database import Database
from numpy.typing import NDArray

from keilog.decode.compile import MessagePlan, compile_message
from keilog.decode.dbc import load_databases
from keilog.decode.extract import U64, decode_message_rows
from keilog.decode.frames import FrameBatch
from keilog.decode.result import DecodedMessage, DecodeResult, DecodeStats
from keilog.errors import DbcError

_STANDARD_IDS = 1 << 11


class Decoder:
    """Decodes CAN frames with the messages of a cantools database.

    Example::

        decoder = Decoder.from_files(["keicar.dbc"])
        result = decoder.decode(batch)
        speed = result["VEHICLE_SPEED"].signals["VEHICLE_SPEED"]   # numpy float64
    """

    def __init__(self, db: Database) -> None:
        self.database = db
        by_key: dict[int, MessagePlan] = {}
        # Like cantools' frame id lookup: a later message with the same id replaces an
        # earlier one.
        for message in db.messages:
            plan = compile_message(message)
            by_key[plan.key] = plan
        names: dict[str, MessagePlan] = {}
        for plan in by_key.values():
            if plan.name in names:
                first = names[plan.name].message.frame_id
                raise DbcError(
                    f"two messages are named {plan.name} (ids 0x{first:x} and "
                    f"0x{plan.message.frame_id:x}); rename one of them in the DBC"
                )
            names[plan.name] = plan
        self.plans: list[MessagePlan] = sorted(by_key.values(), key=lambda p: p.key)
        count = len(self.plans)
        self._slot_dtype = np.uint16 if count < np.iinfo(np.uint16).max else np.uint32
        # Standard ids (the usual case) map to a slot by table lookup; extended ones by a
        # binary search over their sorted ids. Slot ``count`` means "not decoded"; the
        # table's extra last entry catches standard ids beyond 11 bits.
        self._standard = np.full(_STANDARD_IDS + 1, count, self._slot_dtype)
        extended: list[tuple[int, int]] = []
        for slot, plan in enumerate(self.plans):
            if plan.message.is_extended_frame:
                extended.append((plan.message.frame_id, slot))
            else:
                self._standard[plan.message.frame_id] = slot
        self._extended_ids = np.array([i for i, _ in extended], np.uint32)
        self._extended_slot = np.array([s for _, s in extended], self._slot_dtype)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> Decoder:
        """Load DBC (or KCD/SYM/ARXML) files with cantools and compile them.

        Raises DbcError naming the file and line cantools rejects.
        """
        return cls(load_databases(paths))

    @property
    def fallback_messages(self) -> dict[str, str]:
        """Messages decoded by cantools frame by frame, and why."""
        return {p.name: p.fallback for p in self.plans if p.fallback}

    @property
    def unsupported_messages(self) -> dict[str, str]:
        """Messages keilog cannot decode at all, and why."""
        return {p.name: p.unsupported for p in self.plans if p.unsupported}

    def decode(self, batch: FrameBatch, *, choices: bool = False) -> DecodeResult:
        """Decode every frame of ``batch`` whose id the database defines.

        Values are those of cantools ``decode_message(..., decode_choices=False)``; with
        ``choices`` each DecodedMessage also carries the choice labels. Frames of unknown
        ids, remote frames and error frames are skipped and counted in ``result.stats``.
        """
        stats = DecodeStats(frames=len(batch))
        messages: dict[str, DecodedMessage] = {}
        if not len(batch):
            return DecodeResult(messages, stats, choices)
        slots = self._slots(batch, stats)
        nslots = len(self.plans)
        counts = np.bincount(slots, minlength=nslots + 1)
        order = np.argsort(slots, kind="stable")  # radix sort on small ints: O(N)
        ends = np.cumsum(counts)
        unknown = int(counts[nslots])
        stats.unknown = unknown - stats.remote - stats.error_frames
        stats.decoded = len(batch) - unknown
        if stats.unknown:
            self._count_unknown(batch, slots, stats)
        # One gather puts the frames of each message next to each other, in batch order;
        # every message then works on contiguous slices.
        known = order[: stats.decoded]
        first_words = batch.data.view(U64)[:, 0]
        words = first_words[known]
        timestamps = batch.timestamp[known]
        dlc = batch.dlc[known]
        for slot in np.flatnonzero(counts[:nslots]).tolist():
            plan = self.plans[slot]
            part = slice(int(ends[slot] - counts[slot]), int(ends[slot]))
            decoded = decode_message_rows(
                plan, batch, known[part], timestamps[part], dlc[part], words[part], choices
            )
            messages[plan.name] = decoded
            for problem, n in decoded.problems.items():
                setattr(stats, problem, getattr(stats, problem) + n)
        return DecodeResult(messages, stats, choices)

    def decode_frames(
        self, batch: FrameBatch, *, choices: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The decoded frames of ``batch`` one by one (see DecodeResult.frames)."""
        return self.decode(batch, choices=choices).frames()

    def _slots(self, batch: FrameBatch, stats: DecodeStats) -> NDArray[Any]:
        """Per frame, the index of its message in self.plans, or len(self.plans)."""
        ids = batch.arbitration_id
        nslots = len(self.plans)
        extended = np.flatnonzero(batch.is_extended)
        if not len(extended) and int(ids.max()) < _STANDARD_IDS:
            slots = self._standard[ids]
        else:
            # Out-of-range standard ids land on the table's last entry: not decoded.
            slots = self._standard[np.minimum(ids, _STANDARD_IDS)]
            if len(extended):
                slots[extended] = self._extended_slots(ids[extended])
        for flag, attr in ((batch.is_remote, "remote"), (batch.is_error, "error_frames")):
            if flag is not None and flag.any():
                slots[flag] = nslots
                setattr(stats, attr, int(np.count_nonzero(flag)))
        if batch.is_remote is not None and batch.is_error is not None:
            both = int(np.count_nonzero(batch.is_remote & batch.is_error))
            stats.remote -= both  # an error frame flagged remote is counted once
        return slots

    def _extended_slots(self, ids: NDArray[np.uint32]) -> NDArray[Any]:
        nslots = len(self.plans)
        if not len(self._extended_ids):
            return np.full(len(ids), nslots, self._slot_dtype)
        pos = np.searchsorted(self._extended_ids, ids)
        np.minimum(pos, len(self._extended_ids) - 1, out=pos)
        return np.where(self._extended_ids[pos] == ids, self._extended_slot[pos], nslots)

    def _count_unknown(self, batch: FrameBatch, slots: NDArray[Any], stats: DecodeStats) -> None:
        mask = slots == len(self.plans)
        for flag in (batch.is_remote, batch.is_error):
            if flag is not None:
                mask &= ~flag
        keys = batch.arbitration_id[mask] | (
            batch.is_extended[mask].astype(np.uint32) << np.uint32(31)
        )
        uniq, counts = np.unique(keys, return_counts=True)
        stats.unknown_ids = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
