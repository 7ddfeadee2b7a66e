"""``keilog decode``: print the decoded frames of CAN logs."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.cli.progress import TerminalProgress

if TYPE_CHECKING:
    from keilog.decode import LogDecoding

CSV_COLUMNS = ["timestamp", "arbitration_id", "is_extended_id", "message", "signal", "value"]


@cli.command("decode")
@click.argument("logs", nargs=-1, required=True, metavar="LOG...", type=click.Path(path_type=Path))
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="DBC (or KCD/SYM/ARXML) file; repeat for several.",
)
@click.option("--nl", is_flag=True, help="Newline-delimited JSON: one object per line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per signal value (long format).")
@click.option("--choices", is_flag=True, help="Print choice labels instead of raw numbers.")
@click.option(
    "--allow-damage",
    is_flag=True,
    help="Exit 0 although a log is damaged (truncated, bad lines: those are skipped).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@handle_errors
def decode(
    logs: tuple[Path, ...],
    dbc_paths: tuple[Path, ...],
    nl: bool,
    as_csv: bool,
    choices: bool,
    allow_damage: bool,
    quiet: bool,
) -> None:
    """Decode CAN logs with DBC files; print one object per decoded frame.

    LOG may be a keilog segment (*.KLG) or any python-can log: candump .log, Vector
    .asc/.blf, PEAK .trc, .csv, .db, gzip-compressed text logs (.asc.gz), and ASAM
    MDF4 .mf4 bus logging as CSS Electronics' CANedge writes it. LOG - reads candump's
    output from stdin, its log format (candump -L) or its default one, and prints each
    frame as it arrives.

    Each frame prints as {"timestamp", "arbitration_id", "is_extended_id", "message",
    "signals"}; values are those of cantools decode_message(..., decode_choices=False)
    (labels with --choices; NaN and infinite floats print as null). The default is one
    JSON array; --nl prints one object per line, --csv one row per signal value. Frames
    whose id no DBC defines are skipped and counted on stderr.

    Example:

        \b
        keilog decode drive.asc --dbc dbc/keicar.dbc --nl
        candump -L can0 | keilog decode - --dbc dbc/keicar.dbc --nl
    """
    from keilog.decode import Decoder, LogDecoding, decode_logs, decode_stream

    if nl and as_csv:
        raise click.UsageError("choose one of --nl and --csv")
    from_stdin = Path("-") in logs
    if from_stdin and len(logs) > 1:
        raise click.UsageError("LOG - (stdin) cannot be combined with log files")
    decoder = Decoder.from_files(dbc_paths)
    for name, why in {**decoder.fallback_messages, **decoder.unsupported_messages}.items():
        status(f"note: {name}: {why}", quiet)
    totals = LogDecoding()
    progress = TerminalProgress(quiet)
    if from_stdin:
        stdin = click.get_binary_stream("stdin")
        results = decode_stream(stdin, decoder, choices=choices, totals=totals)
    else:
        results = decode_logs(
            logs,
            decoder,
            choices=choices,
            progress=progress,
            totals=totals,
            skip_bad_lines=allow_damage,
        )
    frames = (frame for result in _flushed(results, from_stdin) for frame in result.frames())
    try:
        if as_csv:
            _write_csv(frames)
        elif nl:
            for frame in frames:
                click.echo(_json(frame))
        else:
            _write_array(frames)
    finally:
        progress.done()
    for problem in totals.problems[:20]:
        status(f"warning: {problem}", quiet)
    if len(totals.problems) > 20:
        status(f"warning: ... and {len(totals.problems) - 20} more", quiet)
    status(summary(totals), quiet)
    error = totals.damage_error()
    if error is not None and not allow_damage:
        raise error


def _flushed(results: Iterator[Any], live: bool) -> Iterator[Any]:
    """Pass results through; when reading a live pipe, flush stdout before each read so
    that every frame is printed as soon as it is decoded."""
    for result in results:
        yield result
        if live:
            sys.stdout.flush()


def summary(totals: LogDecoding) -> str:
    s = totals.stats
    text = f"decoded {s.decoded:,} of {s.frames:,} frames"
    details = []
    if s.unknown:
        top = sorted(totals.stats.as_dict()["unknown_ids"].items(), key=lambda kv: -kv[1])[:5]
        ids = ", ".join(f"{key} ({n:,})" for key, n in top)
        details.append(f"{s.unknown:,} with ids no DBC defines, e.g. {ids}")
    for label, count in (
        ("remote frames", s.remote),
        ("error frames", s.error_frames),
        ("shorter than their DBC length", s.truncated),
        ("with a multiplexer value the DBC does not define", s.undefined_multiplexer),
        ("that cantools could not decode", s.undecodable),
        ("of messages keilog does not decode", s.unsupported),
    ):
        if count:
            details.append(f"{count:,} {label}")
    return text + (": " + "; ".join(details) if details else "")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(frame: dict[str, Any]) -> str:
    frame = {**frame, "signals": {k: _clean(v) for k, v in frame["signals"].items()}}
    return json.dumps(frame, allow_nan=False)


def _write_array(frames: Iterator[dict[str, Any]]) -> None:
    out = sys.stdout
    first = True
    for frame in frames:
        out.write(("[" if first else ",\n ") + _json(frame))
        first = False
    out.write("[]\n" if first else "]\n")


def _write_csv(frames: Iterator[dict[str, Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for frame in frames:
        head = [
            frame["timestamp"],
            frame["arbitration_id"],
            frame["is_extended_id"],
            frame["message"],
        ]
        for name, value in frame["signals"].items():
            writer.writerow([*head, name, _clean(value)])


@cli.command("dbc")
@click.argument(
    "files", nargs=-1, required=True, metavar="FILE...", type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as one JSON object.")
@handle_errors
def dbc_command(files: tuple[Path, ...], as_json: bool) -> None:
    """List what DBC files define: messages, signals, units and choices.

    One line per message (name, id, length, senders, cycle time), then one per signal
    (start bit and length, byte order, scale and offset, range, unit, choices). Several
    files are listed as one bus, as keilog decode --dbc loads them. --json prints every
    field cantools reads, comments and receivers too.

    Example:

        \b
        keilog dbc dbc/keicar.dbc
        keilog dbc dbc/obd2.dbc --json
    """
    from keilog.decode.listing import describe_files, text_lines

    described = describe_files(list(files))
    if as_json:
        click.echo(json.dumps(described, indent=2))
    else:
        for line in text_lines(described):
            click.echo(line)
