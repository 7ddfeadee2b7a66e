"""``keilog sync``."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    from keilog.sync import Progress, SyncResult


class _Bar:
    """A progress bar on stderr (bytes, rate, ETA), made on the first report."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0
        self.started = time.monotonic()

    def __call__(self, p: Progress) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(p.total, 1),
                label="syncing",
                file=sys.stderr,
                show_eta=True,
                item_show_func=lambda item: item,
            )
            self.bar.__enter__()
        rate = p.done / max(time.monotonic() - self.started, 1e-6)
        text = f"{p.name} {p.done / 1e6:.2f}/{p.total / 1e6:.2f} MB {rate / 1e3:.0f} kB/s"
        self.bar.update(p.done - self.done, text)
        self.done = p.done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _summary(result: SyncResult, quiet: bool) -> None:
    d = result.device
    status(
        f"{result.port}: device {d.device_id} ({d.board}, firmware {d.firmware}, boot "
        f"{d.boot}), {d.free_bytes / 1e6:.1f} MB free",
        quiet,
    )
    if result.clock is not None:
        off = result.clock.offset_before_s
        status(
            "clock set from this computer"
            + (f" (the device was {off:+.3f} s off)" if off is not None else " (it had none)"),
            quiet,
        )
    status(f"{result.bytes_fetched} bytes fetched; the sync took {result.seconds:.1f} s", quiet)


@cli.command("sync")
@click.option(
    "--port",
    default="auto",
    show_default=True,
    help="The logger's serial port, or auto: the one MicroPython board (USB vendor 0xF055).",
)
@click.option(
    "--into",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("keilog-logs"),
    show_default=True,
    help="Archive folder: segments land here as <sha256>.KLG, never overwritten.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("keilog.db"),
    show_default=True,
    help="SQLite database to import into (created if missing).",
)
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="DBC file to decode frames with; repeat for several.",
)
@click.option("--list", "list_only", is_flag=True, help="List the candidate ports and exit.")
@click.option(
    "--seal/--no-seal",
    default=True,
    show_default=True,
    help="Seal the segment being written first, so that everything logged until now "
    "comes along (--no-seal: fetch it as far as it is flushed, finish it next time).",
)
@click.option(
    "--clock/--no-clock",
    default=True,
    show_default=True,
    help="Offer this computer's UTC time; the logger records it as a clock anchor.",
)
@click.option(
    "--timeout",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds to wait for each answer before asking again.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or status lines.")
@handle_errors
def sync_(
    port: str,
    into: Path,
    db_path: Path,
    dbc_paths: tuple[Path, ...],
    list_only: bool,
    seal: bool,
    clock: bool,
    timeout: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Copy every new log segment off the logger over USB, exactly once.

    Segments land in the archive folder, are imported into the database, and only
    after the import has committed is the logger told that it may delete them. A
    pulled cable or a sleeping laptop loses nothing: run it again and it resumes
    from the last verified byte. The logger keeps logging meanwhile.

    Example:

        \b
        keilog sync --port auto --into logs --db trips.db --dbc dbc/keicar.dbc
    """
    from keilog.decode import dbc
    from keilog.store.coverage import Coverage, by_file, coverage_warnings
    from keilog.sync import candidates, sync_port

    if list_only:
        found = candidates()
        for p in found:
            click.echo(json.dumps(asdict(p)))
        if not found:
            status("no MicroPython board found (USB vendor id 0xF055)", quiet)
        return
    can_db = dbc.load_databases(dbc_paths) if dbc_paths else None
    bar = _Bar() if not quiet and sys.stderr.isatty() else None
    try:
        result = sync_port(
            port,
            into,
            db_path,
            can_db=can_db,
            seal=seal,
            set_clock=clock,
            progress=bar,
            timeout=timeout,
        )
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), default=str))
    else:
        for s in result.segments:
            if s.status == "in progress":
                line = f"{s.name}: still being written, {s.fetched} bytes fetched so far"
            else:
                line = f"{s.name}: {s.status}" + (f", {s.frames} frames" if s.frames else "")
                line += ", acknowledged" if s.acknowledged else ""
            click.echo(line)
            for d in s.damage:
                status(f"{s.name}: damaged {d}", quiet)
    stored = Coverage()
    for s in result.segments:
        stored.add(s.frames, s.message_frames, s.unknown_ids)
    dbcs = by_file(dbc_paths, can_db) if can_db is not None else []
    for line in coverage_warnings(stored, dbcs, str(db_path)):
        status(line, quiet)
    _summary(result, quiet)
