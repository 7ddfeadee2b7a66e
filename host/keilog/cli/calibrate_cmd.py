"""``keilog calibrate``: fit the VSS pulse input's pulses per km against GPS."""

from __future__ import annotations

import json
from pathlib import Path

import click

from keilog.cli.main import cli, handle_errors, status


@cli.command("calibrate")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Database with VSS samples and GPS fixes (keilog import).",
)
@click.option("--device", default=None, help="Only this logger's data (device id).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the fitted vss.pulses_per_km into this config.json.",
)
@click.option(
    "--push",
    "push_port",
    default=None,
    metavar="PORT|auto",
    help="Also store the updated config on the logger over the sync link (needs --config).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines.")
@handle_errors
def calibrate_cmd(
    db_path: Path,
    device: str | None,
    config_path: Path | None,
    push_port: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Fit the speed sensor's pulses per km from steady driving with good GPS.

    Uses every stretch of at least 5 s above 30 km/h where GPS speed changes by less
    than 0.3 m/s per second; prints the fit, how far the logged VSS speed was off,
    and the speedometer's error against JIS D 5601's 637 revolutions per km. With
    --config, writes vss.pulses_per_km into that config.json; with --push too, stores
    it on the logger (it takes effect at the next boot).

    Example:

        \b
        keilog calibrate --db keilog.db --config config.json --push auto
    """
    from keilog.store.calibrate import calibrate_vss

    if push_port is not None and config_path is None:
        raise click.UsageError("--push needs --config (the config to update and store)")
    cal = calibrate_vss(db_path, device)
    if as_json:
        click.echo(json.dumps(cal.as_dict(), indent=2))
    else:
        was = cal.configured_pulses_per_km
        click.echo(f"pulses per km: {cal.pulses_per_km} (configured: {was or 'unknown'})")
        if cal.vss_reads_high_percent is not None:
            click.echo(f"logged VSS speed read {_signed(cal.vss_reads_high_percent)} against GPS")
        click.echo(
            f"speedometer: {_signed(cal.speedometer_reads_high_percent)} against 637 rev/km "
            f"(JIS D 5601) at {cal.pulses_per_rev} pulses per revolution"
        )
        click.echo(
            f"from {cal.samples} GPS fixes in {cal.stretches} steady stretch(es), "
            f"spread ±{cal.spread_percent:.2f} %"
        )
    if config_path is not None:
        from keilog.hardware import devconfig

        config = devconfig.with_value(
            devconfig.load_config(config_path), "vss.pulses_per_km", cal.pulses_per_km
        )
        devconfig.write_config(config_path, config)
        status(f"wrote vss.pulses_per_km = {cal.pulses_per_km} into {config_path}", quiet)
        if push_port is not None:
            from keilog.sync.devconf import push_config

            used = push_config(push_port, config)
            status(f"stored on the logger at {used}; it takes effect at the next boot", quiet)


def _signed(pct: float) -> str:
    return f"{abs(pct):.2f} % {'high' if pct >= 0 else 'low'}"
