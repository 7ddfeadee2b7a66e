"""``keilog log``, ``keilog play``, ``keilog monitor``: a live CAN bus through python-can.

The bus options are python-can's own tools' (``python -m can.logger``): ``-i``
interface, ``-c`` channel, ``-b`` bitrate, and ``--bus-arg key=value`` for the rest;
what is not given comes from python-can's configuration (``~/.canrc``).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    import can

    from keilog.bus.monitor import Monitor, Update


def bus_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-i/-c/-b/--bus-arg, as python-can's tools take them."""
    for option in reversed(
        [
            click.option("-i", "--interface", help="python-can interface: socketcan, pcan, "
                         "kvaser, vector, slcan, gs_usb, virtual, ..."),
            click.option("-c", "--channel", help="Channel: can0, PCAN_USBBUS1, COM4, ..."),
            click.option("-b", "--bitrate", type=int, help="Bitrate in bit/s, e.g. 500000."),
            click.option("--bus-arg", "--bus-kwargs", "bus_args", multiple=True,
                         metavar="KEY=VALUE",
                         help="Another python-can bus argument; repeat for several."),
        ]
    ):  # fmt: skip
        fn = option(fn)
    return fn


def _open(interface: str | None, channel: str | None, bitrate: int | None, args: Any) -> can.BusABC:
    from keilog.bus import open_bus

    return open_bus(interface, channel, bitrate, args)


@cli.command("log")
@bus_options
@click.option(
    "--to", "to", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the segments (BBBBSSSS.KLG; the boot counter is kept there).",
)  # fmt: skip
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--frames", type=int, help="Stop after this many frames.")
@click.option("--device-id", default="keilog-host", show_default=True,
              help="Device id in the segments (16 ASCII characters at most).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@handle_errors
def log_command(
    interface: str | None,
    channel: str | None,
    bitrate: int | None,
    bus_args: tuple[str, ...],
    to: Path,
    duration: float | None,
    frames: int | None,
    device_id: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Record a CAN bus from this computer's adapter into keilog segments.

    The computer is the logger: the segments are the firmware's format, written by the
    firmware's own encoder, so keilog import, decode and play read them like a board's.
    A new segment starts every 4 MiB; blocks are written at least once a second. Runs
    until --duration or --frames, or Ctrl-C; the segment is finished either way.

    Example:

        \b
        keilog log -i socketcan -c can0 --to logs/ --duration 600
        keilog import logs/*.KLG --db trips.db --dbc dbc/keicar.dbc
    """
    from keilog.bus import record

    def progress(p: Any) -> None:
        if not quiet and sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K{p.segment.name}: {p.frames:,} frames, {p.seconds:.0f} s")
            sys.stderr.flush()

    with _open(interface, channel, bitrate, bus_args) as bus:
        status(f"recording into {to} (Ctrl-C stops)", quiet)
        result = record(bus, to, duration=duration, frames=frames, device_id=device_id,
                        progress=progress)  # fmt: skip
    if not quiet and sys.stderr.isatty():
        sys.stderr.write("\r\x1b[K")
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    fd = f", {result.skipped_fd:,} CAN FD frames not logged" if result.skipped_fd else ""
    status(
        f"{result.frames:,} frames in {len(result.segments)} segment(s) of boot {result.boot} "
        f"in {to} ({result.seconds:.1f} s, stopped by {result.stopped_by}{fd})",
        quiet,
    )


@cli.command("play")
@click.argument("logs", nargs=-1, metavar="[LOG]...", type=click.Path(path_type=Path))
@bus_options
@click.option("--db", "db_path", type=click.Path(path_type=Path),
              help="Play frames from this keilog database instead of log files.")  # fmt: skip
@click.option("--trip", type=int, help="With --db: only trip N (see keilog trips).")
@click.option("--speedup", type=float, default=1.0, show_default=True,
              help="Play this many times faster than logged.")  # fmt: skip
@click.option("--as-fast-as-possible", "fast", is_flag=True,
              help="Send every frame at once, ignoring the timestamps.")  # fmt: skip
@click.option("--frames", type=int, help="Stop after sending this many frames.")
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@handle_errors
def play_command(
    logs: tuple[Path, ...],
    interface: str | None,
    channel: str | None,
    bitrate: int | None,
    bus_args: tuple[str, ...],
    db_path: Path | None,
    trip: int | None,
    speedup: float,
    fast: bool,
    frames: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Replay logs, or a database trip, onto a CAN bus, paced by their timestamps.

    LOG is any log keilog decode reads (KLG segments, candump .log, .asc, .blf, .trc,
    .csv, .mf4 ...); or --db with --trip plays a stored trip. Frames go out as far apart
    as they were logged (divided by --speedup; gaps over 10 s are cut to 10 s), or
    back to back with --as-fast-as-possible. Error frames are counted, not sent.

    Example:

        \b
        keilog play drive.blf -i socketcan -c vcan0
        keilog play --db trips.db --trip 3 -i socketcan -c vcan0 --speedup 10
    """
    from keilog.bus import db_messages, log_messages, play

    if bool(logs) == bool(db_path):
        raise click.UsageError("give LOG files or --db (with --trip), not both nor neither")
    if trip is not None and db_path is None:
        raise click.UsageError("--trip needs --db")
    source = db_messages(db_path, trip) if db_path else log_messages(logs)
    with _open(interface, channel, bitrate, bus_args) as bus:
        result = play(bus, source, speedup=speedup, as_fast_as_possible=fast, limit=frames)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    errors = f", {result.error_frames:,} error frames not sent" if result.error_frames else ""
    status(
        f"sent {result.frames:,} frames ({result.log_seconds:.1f} s of log in "
        f"{result.seconds:.1f} s{errors})",
        quiet,
    )


@cli.command("monitor")
@bus_options
@click.option("--dbc", "dbc_paths", multiple=True, required=True, type=click.Path(path_type=Path),
              help="DBC (or KCD/SYM/ARXML) file; repeat for several.")  # fmt: skip
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--raw", is_flag=True, help="Numbers instead of choice labels.")
@click.option("--nl", is_flag=True, help="One JSON object per decoded frame, never a table.")
@handle_errors
def monitor_command(
    interface: str | None,
    channel: str | None,
    bitrate: int | None,
    bus_args: tuple[str, ...],
    dbc_paths: tuple[Path, ...],
    duration: float | None,
    raw: bool,
    nl: bool,
) -> None:
    """Watch the decoded signals of a live CAN bus.

    On a terminal: a table of every signal seen, its latest value and unit and how many
    frames of its message arrived, redrawn 10 times a second. Otherwise (a pipe, a
    file): one line per decoded frame, `TIME MESSAGE SIGNAL=VALUE UNIT ...`, or JSON
    with --nl.

    Example:

        \b
        keilog monitor -i socketcan -c can0 --dbc dbc/keicar.dbc
        keilog monitor -i virtual -c demo --dbc dbc/keicar.dbc --duration 5 --nl
    """
    from keilog.bus import Monitor, watch
    from keilog.decode import load_databases

    monitor = Monitor(load_databases(dbc_paths), choices=not raw)
    table = sys.stdout.isatty() and not nl
    screen = _Screen(monitor) if table else None
    with _open(interface, channel, bitrate, bus_args) as bus:
        stopped = watch(
            bus,
            monitor,
            duration=duration,
            on_update=None if table else (_print_json if nl else _print_line),
            on_idle=screen.draw if screen else None,
        )
    if screen:
        screen.draw(force=True)
    unknown = sum(monitor.unknown.values())
    status(f"{monitor.frames:,} frames, {unknown:,} with ids no DBC defines (stopped by {stopped})")


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _print_line(update: Update) -> None:
    fields = " ".join(
        f"{r.signal}={_value(r.value)}" + (f" {r.unit}" if r.unit else "") for r in update.rows
    )
    click.echo(f"{update.timestamp:.6f} {update.message} {fields}")
    sys.stdout.flush()


def _print_json(update: Update) -> None:
    rows = update.rows
    signals = {r.signal: r.to_dict()["value"] for r in rows}
    units = {r.signal: r.unit for r in rows if r.unit}
    click.echo(json.dumps({"timestamp": update.timestamp, "message": update.message,
                           "signals": signals, "units": units}))  # fmt: skip
    sys.stdout.flush()


class _Screen:
    """The refreshing table on a terminal, redrawn at most 10 times a second."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.last = 0.0

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        rows = self.monitor.rows()
        lines = [f"{'MESSAGE':<24} {'SIGNAL':<24} {'VALUE':>14} {'UNIT':<8} {'FRAMES':>8}"]
        for r in rows:
            lines.append(
                f"{r.message:<24} {r.signal:<24} {_value(r.value):>14} {r.unit:<8} {r.frames:>8}"
            )
        unknown = sum(self.monitor.unknown.values())
        lines.append(
            f"\n{self.monitor.frames:,} frames, {unknown:,} with unknown ids; Ctrl-C stops"
        )
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        sys.stdout.flush()
