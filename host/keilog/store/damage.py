"""Damage as people read it: counted, the first few listed, and a damaged file refused
unless damage is allowed (docs/database.md, "Damaged files")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from keilog.errors import DamagedFileError
from keilog.logformat.reader import Damage

DAMAGE_SHOWN = 5  # damage lines listed one by one; the rest are counted by reason


def summarise_damage(damage: Sequence[Damage | str], total: int | None = None) -> list[str]:
    """Damage for people: up to 2 * DAMAGE_SHOWN lines as they are, else the first
    DAMAGE_SHOWN and one line counting the rest by reason (100 MB of zeros named .KLG
    is 204,800 damaged blocks: one line says so, and no line is made for the others).
    total: how many there were, when damage lists only the first of them."""
    total = len(damage) if total is None else total
    lines = [str(d) for d in damage[: 2 * DAMAGE_SHOWN + 1]]
    if total <= 2 * DAMAGE_SHOWN:
        return lines
    rest = Counter(
        d.reason if isinstance(d, Damage) else d.split(": ", 1)[-1] for d in damage[DAMAGE_SHOWN:]
    )
    counts = "; ".join(f"{n} x {reason}" for reason, n in rest.most_common(5))
    if len(rest) > 5:
        counts += f"; {len(rest) - 5} other reasons"
    if total > len(damage):
        counts += f"; {total - len(damage)} not listed"
    return [*lines[:DAMAGE_SHOWN], f"... and {total - DAMAGE_SHOWN} more: {counts}"]


def refuse_damage(name: str, result: Any, total: int) -> None:
    """The error for a damaged file when damage is not allowed (raised inside its
    transaction: nothing of it is stored)."""
    first = result.damage[0] if result.damage else ""
    raise DamagedFileError(
        f"{name}: {total} damaged part{'s' if total != 1 else ''} (first: {first}); "
        f"{result.frames} frames are readable: import with --allow-damage to store them "
        "and record the damage, nothing of this file was stored"
    )
