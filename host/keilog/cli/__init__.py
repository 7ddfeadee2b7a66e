"""The ``keilog`` command line: one click group, one module per area.

Every command is a thin layer over a library function: it parses options, calls the
library, and formats the result. Importing a command module registers its commands;
``keilog.cli.main.COMMAND_MODULES`` says which module has which command, and the group
imports a module when its command is asked for.
"""

from keilog.cli.main import cli

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
