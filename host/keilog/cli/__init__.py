"""The ``keilog`` command line: one click group, one module per area.

Every command is a thin layer over a library function: it parses options, calls the
library, and formats the result. Importing a command module registers its commands.
"""

from keilog.cli.main import cli

# Command modules register themselves on import; keep one line per area.
from keilog.cli import demo_cmd as _demo_cmd  # noqa: F401
from keilog.cli import import_cmd as _import_cmd  # noqa: F401
from keilog.cli import firmware_cmd as _firmware_cmd  # noqa: F401
from keilog.cli import rules_cmd as _rules_cmd  # noqa: F401
from keilog.cli import geo_cmd as _geo_cmd  # noqa: F401
from keilog.cli import roads_cmd as _roads_cmd  # noqa: F401, E402
from keilog.cli import check_cmd as _check_cmd  # noqa: F401, E402
from keilog.cli import hardware_cmd as _hardware_cmd  # noqa: F401
from keilog.cli import config_cmd as _config_cmd  # noqa: F401
from keilog.cli import deploy_cmd as _deploy_cmd  # noqa: F401
from keilog.cli import sim_cmd as _sim_cmd  # noqa: F401
from keilog.cli import decode_cmd as _decode_cmd  # noqa: F401
from keilog.cli import report_cmd as _report_cmd  # noqa: F401
from keilog.cli import sync_cmd as _sync_cmd  # noqa: F401
from keilog.cli import export_cmd as _export_cmd  # noqa: F401
from keilog.cli import bus_cmd as _bus_cmd  # noqa: F401
from keilog.cli import fleet_cmd as _fleet_cmd  # noqa: F401
from keilog.cli import calibrate_cmd as _calibrate_cmd  # noqa: F401

__all__ = ["cli", "main"]


def main() -> None:
    """The ``keilog`` entry point: the click group, with Ctrl-C as one line and exit 130."""
    import sys

    import click

    from keilog.cli.interrupts import defer_interrupts_in_swallowing_imports

    defer_interrupts_in_swallowing_imports()
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns Ctrl-C into Abort. Imports and syncs commit whole files and remove
        # what a failed run made, so an interrupted run loses nothing stored before it.
        click.echo("Interrupted: nothing stored before this was lost.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
