"""Which stored raw frames a DBC decodes: per message, and the identifiers none defines.

An import or a ``keilog redecode`` with no DBC, or with the wrong one, stores every raw
frame and decodes few or none ("0 decoded"). This module counts, from the frame blocks
a run stored (``frame_blocks``: one identifier per block, so one small query), the raw
frames of each DBC message and of each identifier no DBC defines, and words the
warnings ``keilog import``, ``keilog sync`` and ``keilog redecode`` print from them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database

from keilog.decode.dbc import load_database

TOP_IDS = 5  # identifiers a warning names; the rest are counted together


def id_text(arbitration_id: int, is_extended: bool) -> str:
    """An identifier as keilog writes it in results (keilog.decode DecodeStats):
    ``0x1a0``, and ``0x18feef00x`` for an extended one."""
    return f"0x{arbitration_id:x}{'x' if is_extended else ''}"


@dataclass
class Coverage:
    """Raw frames of some segments, by what a DBC makes of them."""

    frames: int = 0  # every raw frame counted
    message_frames: dict[str, int] = field(default_factory=dict)  # DBC message -> frames
    unknown_ids: dict[str, int] = field(default_factory=dict)  # id_text -> frames, most first

    def add(self, frames: int, message_frames: dict[str, int], unknown: dict[str, int]) -> None:
        """Count in another segment's (a SegmentImport's) numbers."""
        self.frames += frames
        for target, source in ((self.message_frames, message_frames), (self.unknown_ids, unknown)):
            for key, n in source.items():
                target[key] = target.get(key, 0) + n
        self.unknown_ids = _most_first(self.unknown_ids)


def stored_coverage(
    conn: sqlite3.Connection,
    can_db: cantools.database.Database | None,
    segment: int | None = None,
) -> Coverage:
    """The coverage of one segment's raw frames (``segment``), or of all of them."""
    where, args = ("where segment = ?", [segment]) if segment is not None else ("", [])
    rows = conn.execute(
        "select arbitration_id, is_extended, sum(frames) from frame_blocks "
        f"{where} group by arbitration_id, is_extended",
        args,
    ).fetchall()
    # Like the decoder (keilog.decode.Decoder): a later message with the same id wins.
    names: dict[tuple[int, bool], str] = {}
    for message in can_db.messages if can_db is not None else []:
        names[(message.frame_id, bool(message.is_extended_frame))] = message.name
    out = Coverage()
    for arbitration_id, is_extended, frames in rows:
        key = (int(arbitration_id), bool(is_extended))
        out.frames += int(frames)
        if key in names:
            out.message_frames[names[key]] = out.message_frames.get(names[key], 0) + int(frames)
        else:
            out.unknown_ids[id_text(*key)] = int(frames)
    out.unknown_ids = _most_first(out.unknown_ids)
    return out


def _most_first(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def by_file(
    paths: Sequence[str | Path], can_db: cantools.database.Database
) -> list[tuple[str, cantools.database.Database]]:
    """Each DBC file given with its own messages, for :func:`coverage_warnings` to name
    the one that decodes nothing (several files are loaded into one database ``can_db``
    for decoding, so each is read once more on its own)."""
    if len(paths) == 1:
        return [(str(paths[0]), can_db)]
    return [(str(p), load_database(p)) for p in paths]


def coverage_warnings(
    coverage: Coverage,
    dbcs: Sequence[tuple[str, Any]],
    db_path: str,
    top: int = TOP_IDS,
) -> list[str]:
    """One line per problem: a DBC (``(name, cantools database)``, as given) that
    decodes none of the frames, and the frames whose identifiers no DBC defines (the
    ``top`` commonest by name with their counts, the rest counted). Empty when every
    frame has a message, or there are no frames."""
    if not coverage.frames:
        return []
    hint = f"keilog redecode --db {db_path} --dbc CAR.dbc decodes the stored frames again"
    lines = []
    for name, can_db in dbcs:
        if not any(m.name in coverage.message_frames for m in can_db.messages):
            lines.append(
                f"warning: {name} decodes nothing: none of its {len(can_db.messages)} "
                f"messages' identifiers occurs among the {coverage.frames:,} frames; check "
                f"that it is this car's DBC ({hint})"
            )
    unknown = coverage.unknown_ids
    if unknown:
        total = sum(unknown.values())
        named = ", ".join(f"{key} ({n:,})" for key, n in list(unknown.items())[:top])
        rest = list(unknown.values())[top:]
        more = f", and {len(rest):,} more ({sum(rest):,} frames)" if rest else ""
        ids = f"{len(unknown):,} identifier{'s' if len(unknown) != 1 else ''}"
        why = f"no DBC was given; {ids}" if not dbcs else f"{ids} no DBC defines"
        lines.append(
            f"warning: {total:,} of {coverage.frames:,} frames were not decoded ({why}): "
            f"{named}{more}; {hint}"
        )
    return lines
