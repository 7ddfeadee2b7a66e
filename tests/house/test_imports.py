"""The house: units import only upstream along the data path, and never in a cycle.

docs/architecture.md draws the same table; a unit is a subpackage of ``keilog`` or a
top-level module, and function-level imports count as much as module-level ones.
"""

from __future__ import annotations

from tests.house.imports import PACKAGE, cycles, host_graph

# What each unit may import (besides itself). Upstream only: a stage never reaches into
# one downstream of it, and the CLI is the only layer that sees them all.
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "paths": set(),
    "progress": set(),
    "outputs": {"errors"},
    "units": set(),
    "geo": {"outputs", "errors", "units"},
    "logformat": {"outputs", "errors"},
    # paths: the logger's own inputs DBC (dbc/keilog_inputs.dbc) ships beside the package
    "decode": {"outputs", "errors", "paths", "progress", "logformat"},
    "store": {"outputs", "errors", "progress", "units", "geo", "logformat", "decode"},
    "hardware": {"outputs", "errors", "paths"},
    "sync": {"outputs", "errors", "paths", "hardware", "store"},
    "unixport": {"outputs", "errors", "paths", "sync"},
    "sim": {"outputs", "errors", "paths", "units", "decode", "unixport"},
    "roads": {"outputs", "errors", "units", "geo"},
    "rules": {"outputs", "errors", "units", "geo", "roads", "store"},
    "report": {"outputs", "errors", "units", "geo", "roads", "rules", "store"},
    "export": {"outputs", "errors", "progress", "units", "geo", "store", "rules"},
    "bus": {"outputs", "errors", "paths", "progress", "logformat", "decode", "store", "export"},
    "fleet": {
        "errors", "outputs", "paths", "progress", "units", "geo", "logformat", "decode", "store",
        "roads", "rules", "report",
    },
    "demo": {"outputs",
        "errors", "paths", "units", "logformat", "decode", "store", "sync", "unixport",
        "sim", "roads", "rules", "report",
    },
    "cli": {
        "errors", "outputs", "paths", "progress", "units", "geo", "logformat", "decode", "store",
        "hardware", "sync", "unixport", "sim", "roads", "rules", "report", "export", "bus", "demo",
        "fleet",
    },
    "__main__": {"cli"},  # python -m keilog
}  # fmt: skip


def test_the_top_of_the_package_holds_at_most_eight_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 8, top


def test_every_unit_is_in_the_table():
    assert set(host_graph()) <= set(MAY_IMPORT), set(host_graph()) - set(MAY_IMPORT)


def test_units_import_only_what_the_table_allows():
    wrong = {
        unit: sorted(deps - MAY_IMPORT[unit])
        for unit, deps in host_graph().items()
        if deps - MAY_IMPORT.get(unit, set())
    }
    assert wrong == {}


def test_no_import_cycles_between_host_units():
    assert cycles(host_graph()) == []
