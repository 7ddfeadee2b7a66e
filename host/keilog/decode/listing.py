"""What a DBC defines, as data: messages, signals, units, choices (``keilog dbc``).

cantools parses the file (keilog.decode.dbc); this turns its database into plain dicts
for JSON and into the text ``keilog dbc`` prints, one line per message and per signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cantools.database import Database
from cantools.database.can import Message, Signal

from keilog.decode.dbc import load_databases


def describe_files(paths: list[str | Path]) -> dict[str, Any]:
    """Every message and signal of the files (loaded as one bus, as --dbc does)."""
    return {"files": [str(p) for p in paths], **describe(load_databases(paths))}


def describe(db: Database) -> dict[str, Any]:
    return {"messages": [_message(m) for m in sorted(db.messages, key=lambda m: m.frame_id)]}


def _message(m: Message) -> dict[str, Any]:
    return {
        "name": m.name,
        "frame_id": m.frame_id,
        "is_extended": m.is_extended_frame,
        "is_fd": m.is_fd,
        "length": m.length,
        "senders": list(m.senders),
        "cycle_time_ms": m.cycle_time,
        "comment": m.comment,
        "signals": [_signal(s) for s in m.signals],
    }


def _number(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _signal(s: Signal) -> dict[str, Any]:
    return {
        "name": s.name,
        "start": s.start,
        "length": s.length,
        "byte_order": s.byte_order,
        "is_signed": s.is_signed,
        "is_float": s.is_float,
        "scale": _number(s.scale),
        "offset": _number(s.offset),
        "minimum": _number(s.minimum),
        "maximum": _number(s.maximum),
        "unit": s.unit or "",
        "choices": {str(int(k)): str(v) for k, v in (s.choices or {}).items()},
        "is_multiplexer": s.is_multiplexer,
        "multiplexer_ids": list(s.multiplexer_ids or []),
        "receivers": list(s.receivers),
        "comment": s.comment,
    }


def text_lines(described: dict[str, Any]) -> list[str]:
    """The listing ``keilog dbc`` prints: a line per message, an indented one per signal."""
    lines: list[str] = []
    for m in described["messages"]:
        ident = f"0x{m['frame_id']:08X}" if m["is_extended"] else f"0x{m['frame_id']:03X}"
        head = [f"{m['name']}  {ident}  {m['length']} bytes"]
        if m["senders"]:
            head.append("from " + ", ".join(m["senders"]))
        if m["cycle_time_ms"]:
            head.append(f"every {m['cycle_time_ms']} ms")
        lines.append("  ".join(head))
        width = max((len(s["name"]) for s in m["signals"]), default=0)
        for s in m["signals"]:
            order = "LE" if s["byte_order"] == "little_endian" else "BE"
            kind = "float" if s["is_float"] else ("signed" if s["is_signed"] else "unsigned")
            parts = [f"  {s['name']:<{width}}  bit {s['start']}+{s['length']} {order} {kind}"]
            sign = "+" if s["offset"] >= 0 else ""
            parts.append(f"x{s['scale']} {sign}{s['offset']}")
            if s["minimum"] is not None or s["maximum"] is not None:
                parts.append(f"[{_g(s['minimum'])} .. {_g(s['maximum'])}]")
            if s["unit"]:
                parts.append(s["unit"])
            if s["is_multiplexer"]:
                parts.append("multiplexer")
            if s["multiplexer_ids"]:
                parts.append("when mux in " + ",".join(map(str, s["multiplexer_ids"])))
            if s["choices"]:
                parts.append("choices " + ", ".join(f"{k}={v}" for k, v in s["choices"].items()))
            lines.append("  ".join(parts))
    return lines


def _g(x: Any) -> str:
    return "?" if x is None else str(x)
