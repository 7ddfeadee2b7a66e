"""``keilog rules``: show the state rules keilog checks against."""

from __future__ import annotations

import datetime as dt
import json

import click

from keilog.cli.main import cli, handle_errors
from keilog.rules import CLASSES, DISCLAIMER, ClassRule, Value, load_rules, select_rules

_LABELS = {
    "effective_from": "in force from",
    "road_use": "road use",
    "vehicle_max_mph": "vehicle top speed cap (mph)",
    "road_max_posted_mph": "max posted limit of roads (mph)",
    "banned_roads": "banned road classes",
    "crossing_allowed": "may cross faster/banned roads",
    "daylight_only": "daylight only",
    "distance_limit_mi": "distance limit (miles)",
    "local_restrictions": "local governments may restrict",
    "use_conditions": "use limits a log cannot check",
}


def _show(value: Value) -> str:
    if not value.known:
        text = "unknown"
    elif isinstance(value.value, tuple):
        text = ", ".join(value.value) if value.value else "none"
    elif isinstance(value.value, bool):
        text = "yes" if value.value else "no"
    else:
        text = str(value.value)
    if value.known:
        extra = "; secondary sources only" if value.secondary_only else ""
        text += f"  [{value.confidence} confidence{extra}]"
    if value.note:
        text += f"\n      note: {value.note}"
    for src in value.sources:
        dated = f"{src.date_text} (from its {src.date_basis})" if src.date else src.date_text
        text += f"\n      source: {src.label} ({src.kind}; {dated})"
        if src.url and src.url != src.label:
            text += f"\n        {src.url}"
        if src.note:
            text += f"\n        {src.note}"
    return text


def _period(rule: ClassRule) -> str:
    if rule.start and rule.end:
        return f"{rule.start} to {rule.end}"
    if rule.start:
        return f"from {rule.start}"
    if rule.end:
        return f"until {rule.end}"
    return "current"


def _text(rules: list[ClassRule]) -> str:
    book = load_rules()
    lines = []
    state = None
    for rule in rules:
        if rule.jurisdiction != state:
            state = rule.jurisdiction
            j = book[state]
            lines.append(f"{j.code} ({j.name}): kei status {j.kei_status} ({j.kei_confidence})")
        lines.append(f"  class {rule.vehicle_class} ({_period(rule)})")
        for name, label in _LABELS.items():
            if name == "effective_from" and not rule.start:
                continue
            lines.append(f"    {label}: {_show(rule[name])}")
    for code in dict.fromkeys(r.jurisdiction for r in rules):
        limits = book[code].statutory_limits
        if limits:
            lines.append(f"  {code} statutory limits of roads that post none (by road type):")
            for s in limits:
                lines.append(
                    f"    {', '.join(sorted(s.highways))}: {s.text} ({s.where})  "
                    f"[{s.confidence} confidence]"
                )
                for src in s.sources:
                    lines.append(f"      source: {src.label} ({src.kind}; {src.date_text})")
                    if src.url and src.url != src.label:
                        lines.append(f"        {src.url}")
    lines.append(f"rule data {book.version}. {DISCLAIMER}")
    return "\n".join(lines)


def _table(rules: list[ClassRule]) -> str:
    head = f"{'state':5} {'class':10} {'period':24} {'road use':16} {'veh cap':8} {'road max':8}"
    lines = [head + " banned"]
    for r in rules:
        banned = r["banned_roads"]
        ban = (",".join(banned.value) or "none") if banned.known else "unknown"
        lines.append(
            f"{r.jurisdiction:5} {r.vehicle_class:10} {_period(r):24} "
            f"{r['road_use'].value or 'unknown':16} {r['vehicle_max_mph'].value or 'unknown'!s:8} "
            f"{r['road_max_posted_mph'].value or 'unknown'!s:8} {ban}"
        )
    return "\n".join(lines)


@cli.command("rules")
@click.argument("state", required=False)
@click.option(
    "--class", "vehicle_class", type=click.Choice(CLASSES), help="Registration class to show."
)
@click.option("--on", "on", metavar="YYYY-MM-DD", help="Only the rules in force on this date.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON (every value with sources).")
@handle_errors
def rules_command(
    state: str | None, vehicle_class: str | None, on: str | None, as_json: bool
) -> None:
    """Show what STATE allows each registration class, with the source of every value.

    Without STATE, shows a one-line summary per state. Values nobody could verify are
    shown as "unknown"; keilog never treats them as allowed. Each value shows its sources
    with their kind, their own date ("undated" where the research recorded none), URL
    and note. Not legal advice: see docs/rules.md.

    Example:

        \b
        keilog rules FL --class mini_truck
        keilog rules --class lsv
        keilog rules CO --class mini_truck --on 2028-08-01 --json
    """
    day = None
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            raise click.BadParameter(
                f"{on!r} is not a YYYY-MM-DD date", param_hint="--on"
            ) from None
    book = load_rules()
    rules = select_rules(book, state, vehicle_class, day)
    if as_json:
        extra = {"disclaimer": DISCLAIMER, "rules_version": book.version}
        out = [
            {
                **r.to_dict(),
                "statutory_limits": [s.to_dict() for s in book[r.jurisdiction].statutory_limits],
                **extra,
            }
            for r in rules
        ]
        click.echo(json.dumps(out, indent=2))
    elif state:
        click.echo(_text(rules))
    else:
        click.echo(_table(rules))
