"""``keilog simulate``: drive a scenario's virtual kei car onto a CAN bus, NMEA and the
firmware's stream."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    from keilog.sim.run import Simulation


def _pids(text: str | None) -> list[int]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            pid = int(part, 16)
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is not a hex PID like 0D", param_hint="--obd-poll"
            ) from None
        if not 0 <= pid <= 0xFF:
            raise click.BadParameter(f"{part!r} is not a PID (00-FF)", param_hint="--obd-poll")
        out.append(pid)
    return out


@cli.command("simulate")
@click.argument("scenario", required=False)
@click.option(
    "--speedup",
    type=float,
    default=1.0,
    show_default=True,
    help="Run this many times faster than real time.",
)
@click.option(
    "--as-fast-as-possible",
    "afap",
    is_flag=True,
    help="No pacing at all (for files; a live bus needs --speedup).",
)
@click.option(
    "-i",
    "--interface",
    default="virtual",
    show_default=True,
    help="python-can interface (virtual, socketcan, pcan, ...); 'none' for no bus.",
)
@click.option("-c", "--channel", default=None, help="python-can channel, e.g. vcan0.")
@click.option("-b", "--bitrate", type=int, default=None, help="Bus bitrate, e.g. 500000.")
@click.option(
    "--nmea",
    "nmea_target",
    metavar="PATH|PORT|pty",
    default=None,
    help="Write NMEA to a file, FIFO, serial port, pyserial URL, or a new pty.",
)
@click.option("--nmea-hz", type=float, default=1.0, show_default=True, help="Fixes per second.")
@click.option("--nmea-baud", type=int, default=9600, show_default=True, help="Serial baud rate.")
@click.option("--vtg", is_flag=True, help="Also send VTG sentences.")
@click.option("--gsa", is_flag=True, help="Also send GSA sentences.")
@click.option("--talker", default="GP", show_default=True, help="NMEA talker id: GP, GN, GL or GA.")
@click.option(
    "--stream",
    "stream_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write every bus frame as 16-byte SocketCAN frames (file, FIFO or unix socket).",
)
@click.option(
    "--inputs",
    "inputs_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the logger's input stream (a vehicle with inputs: VSS and tach edges, "
    "analog and switch levels) to a file or FIFO: the firmware's inputs.source.",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--seed", type=int, default=None, help="Noise seed (default: the scenario's).")
@click.option(
    "--obd-poll",
    metavar="PIDS",
    default=None,
    help="Also act as a scan tool polling these hex PIDs every second, e.g. 0D,0C.",
)
@click.option("--list", "list_builtin", is_flag=True, help="List the built-in scenarios.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def simulate_cmd(
    scenario: str | None,
    speedup: float,
    afap: bool,
    interface: str,
    channel: str | None,
    bitrate: int | None,
    nmea_target: str | None,
    nmea_hz: float,
    nmea_baud: int,
    vtg: bool,
    gsa: bool,
    talker: str,
    stream_path: str | None,
    inputs_path: str | None,
    duration: float | None,
    seed: int | None,
    obd_poll: str | None,
    list_builtin: bool,
    quiet: bool,
) -> None:
    """Drive SCENARIO (a scenario file or a built-in name) with the virtual kei car.

    Sends the car's broadcast frames from dbc/keicar.dbc at their cycle times on a
    python-can bus, answers OBD-II service 01 requests on 0x7DF/0x7E0 from 0x7E8,
    writes NMEA (RMC + GGA, optionally VTG/GSA) and the firmware's 16-byte frame
    stream. Prints a JSON summary on stdout. The format of scenario files is in
    docs/scenarios.md.

    Example:

    \b
        keilog simulate florida_rural --speedup 10 --nmea gps.nmea --stream can.bin
        keilog simulate my_trip.json -i socketcan -c vcan0 --nmea pty
        keilog simulate kei_truck_1995 --nmea gps.nmea --inputs inputs.bin
        keilog simulate --list
    """
    from keilog.sim.nmea import NmeaOptions
    from keilog.sim.outputs import NmeaOutput
    from keilog.sim.route import route_length_m
    from keilog.sim.run import run
    from keilog.sim.scenario import builtin_names, resolve
    from keilog.units import KMH_PER_MPH

    if list_builtin:
        click.echo(json.dumps(builtin_names()))
        return
    if scenario is None:
        raise click.UsageError("give a SCENARIO file or built-in name (see --list)")
    sc = resolve(scenario)
    nmea = NmeaOptions(hz=nmea_hz, vtg=vtg, gsa=gsa, talker=talker)
    pids = _pids(obd_poll)
    bus_interface = None if interface == "none" else interface
    if afap and bus_interface not in (None, "virtual") and not quiet:
        status("Note: --as-fast-as-possible floods a live bus; consider --speedup.")
    if not quiet:
        pace = "as fast as possible" if afap else f"at {speedup:g}x real time"
        km = route_length_m([(p.lat, p.lon) for p in sc.route]) / 1000
        status(f"Driving {sc.name!r}: {km:.2f} km, {len(sc.route) - 1} legs, {pace}")
    nmea_out = NmeaOutput(nmea_target, baud=nmea_baud) if nmea_target else None
    if nmea_out is not None and nmea_target == "pty":
        status(f"NMEA on {nmea_out.path}", quiet)

    def progress(sim: Simulation) -> None:
        s = sim.state
        if not quiet and int(s.t) % 10 == 0:
            status(
                f"  t={s.t:6.1f} s  {s.speed_kmh / KMH_PER_MPH:5.1f} mph  gear {s.gear}  "
                f"{s.engine_rpm:5.0f} rpm  {sim.summary.frames.total()} frames"
            )

    try:
        summary = run(
            sc,
            interface=bus_interface,
            channel=channel,
            bitrate=bitrate,
            nmea_out=nmea_out,
            nmea=nmea,
            nmea_baud=nmea_baud,
            stream=stream_path,
            speedup=None if afap else speedup,
            duration=duration,
            seed=seed,
            obd_poll=pids,
            progress=progress,
            inputs_out=inputs_path,
        )
    except KeyboardInterrupt:
        status("Interrupted.")
        sys.exit(130)
    finally:
        if nmea_out is not None:
            nmea_out.close()
    click.echo(json.dumps(summary, indent=2))
