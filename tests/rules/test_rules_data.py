"""The shipped rule data: complete, sourced, and read the way docs/rules.md says."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import keilog.cli.rules_cmd  # noqa: F401  (registers the command)
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.cli.main import cli
from keilog.rules import CLASSES, RuleDataError, load_rules
from keilog.rules.model import DATA_DIR, DATE_KINDS, FIELDS, SOURCE_KINDS, parse_jurisdiction

# The 50 states and DC, written out independently of the package's own list.
ALL = [
    "AK",
    "AL",
    "AR",
    "AZ",
    "CA",
    "CO",
    "CT",
    "DC",
    "DE",
    "FL",
    "GA",
    "HI",
    "IA",
    "ID",
    "IL",
    "IN",
    "KS",
    "KY",
    "LA",
    "MA",
    "MD",
    "ME",
    "MI",
    "MN",
    "MO",
    "MS",
    "MT",
    "NC",
    "ND",
    "NE",
    "NH",
    "NJ",
    "NM",
    "NV",
    "NY",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VA",
    "VT",
    "WA",
    "WI",
    "WV",
    "WY",
]


def test_every_jurisdiction_and_class_is_present():
    book = load_rules()
    assert len(ALL) == 51
    assert sorted(book) == sorted(ALL)
    for code in ALL:
        assert set(book[code].classes) == set(CLASSES), code


def test_every_known_value_has_a_source_and_a_confidence_and_says_its_sources_date():
    book = load_rules()
    checked = 0
    for code in ALL:
        for cls, periods in book[code].classes.items():
            for rule in periods:
                for name in FIELDS:
                    value = rule[name]
                    if not value.known:
                        continue
                    where = f"{code} {cls} {name}"
                    assert value.sources, where
                    assert all(s.cite or s.url for s in value.sources), where
                    assert value.confidence in ("high", "medium", "low"), where
                    shown = value.to_dict()
                    # The value's date is its sources' own date, never the compile date.
                    assert shown["as_of"] == value.source_date, where
                    assert shown["compiled"] == book[code].as_of, where
                    checked += 1
    assert checked > 300  # the research gives several hundred known values


@pytest.mark.parametrize(
    ("state", "cls", "field", "expected", "source"),
    [
        # Fla. Stat. 316.2122: mini trucks only on streets posted 35 mph or less.
        ("FL", "mini_truck", "road_max_posted_mph", 35, "Fla. Stat. 316.2122"),
        ("FL", "mini_truck", "crossing_allowed", True, "Fla. Stat. 316.2122"),
        # N.C. S.L. 2019-34: streets posted 55 mph or less.
        ("NC", "mini_truck", "road_max_posted_mph", 55, "N.C. S.L. 2019-34"),
        # La. R.S. 32:299.2: no interstates, controlled-access or multi-lane divided highways.
        (
            "LA",
            "mini_truck",
            "banned_roads",
            ("interstate", "controlled_access", "divided_highway"),
            "La. R.S. 32:299.2",
        ),
        # IC 9-13-2-103.1: a mini-truck's top speed is at most 60 mph.
        ("IN", "mini_truck", "vehicle_max_mph", 60, "IC 9-13-2-103.1"),
        # 49 CFR 571.3: a low-speed vehicle goes no faster than 25 mph.
        ("KS", "lsv", "vehicle_max_mph", 25, "49 CFR 571.3"),
        # KSA 8-15,101: LSVs on streets posted 40 mph or less.
        ("KS", "lsv", "road_max_posted_mph", 40, "KSA 8-15,101"),
        # W. Va. Code 17A-13-1: at most 20 miles on highways with centerline markings.
        ("WV", "special", "distance_limit_mi", 20, "W. Va. Code 17A-13-1"),
    ],
)
def test_values_from_the_statutes(state, cls, field, expected, source):
    rule = load_rules().rule(state, cls, dt.date(2026, 6, 1))
    assert rule is not None
    assert rule[field].value == expected
    assert source in rule[field].source_label


def test_unknown_stays_unknown():
    # Arizona: the research found no kei or mini-truck law (confidence "unknown").
    rule = load_rules().rule("AZ", "mini_truck", dt.date(2026, 6, 1))
    assert rule is not None
    assert rule["road_use"].value is None
    assert rule["road_use"].to_dict()["status"] == "unknown"


def _minimal() -> dict[str, Any]:
    period = {
        "summary": "x",
        "road_use": {"value": "allowed", "sources": ["s"], "confidence": "high"},
    }
    return {
        "jurisdiction": "ZZ",
        "name": "Test",
        "as_of": "2026-01-01",
        "kei_status": "unknown",
        "kei_confidence": "unknown",
        "summary": "",
        "sources": {
            "s": {"cite": "Test Code 1", "url": None, "kind": "statute", "undated": "a test"}
        },
        "classes": {c: [dict(period)] for c in CLASSES},
        "statutory_limits": [],
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["classes"]["lsv"][0].update(road_use={"value": "allowed"}),
            "needs at least one source",
        ),
        (
            lambda d: d["classes"]["lsv"][0].update(
                road_use={"value": "maybe", "sources": ["s"], "confidence": "high"}
            ),
            "invalid value",
        ),
        (
            lambda d: d["classes"]["lsv"][0].update(
                road_use={"value": "allowed", "sources": ["nope"], "confidence": "high"}
            ),
            "not in the file's 'sources'",
        ),
        (
            lambda d: d["classes"]["lsv"][0].update(
                road_use={"value": "allowed", "sources": ["s"], "confidence": "sure"}
            ),
            "confidence must be",
        ),
        (
            lambda d: d["classes"]["lsv"][0].update(
                banned_roads={"value": ["motorways"], "sources": ["s"], "confidence": "high"}
            ),
            "invalid value",
        ),
        (lambda d: d["classes"].pop("msv"), "missing"),
        (lambda d: d["sources"]["s"].update(cite=None), "neither a cite nor a URL"),
        (lambda d: d["sources"]["s"].pop("undated"), "has no date; give its own date"),
        # The check's text puts a source in parentheses: "((a remark))" reads as a typo.
        (
            lambda d: d["sources"]["s"].update(cite="(Test LSV access, Code 1)"),
            r"cite '\(Test LSV access, Code 1\)' is not a plain citation",
        ),
        (
            lambda d: d["sources"]["s"].update(cite="Test Code 1 (quoted at"),
            "balanced parentheses",
        ),
        (lambda d: d["sources"]["s"].update(kind="blog"), "kind 'blog' is not one of"),
        (
            lambda d: d["sources"]["s"].update(date="2024", date_basis="cite"),
            "date_kind None is not one of",
        ),
        (
            lambda d: d["sources"]["s"].update(date="2024", date_kind="enacted"),
            "date_basis None is not one of",
        ),
        (
            lambda d: d["sources"]["s"].update(date="June 2024", date_kind="enacted"),
            "is not YYYY, YYYY-MM or YYYY-MM-DD",
        ),
        (
            lambda d: d["statutory_limits"].append(
                {"highway": ["tertiary"], "mph": 35, "min_mph": 55, "where": "x", "sources": ["s"]}
            ),
            "min_mph 55 is above mph 35",
        ),
        (lambda d: d.update(as_of="soon"), "not a YYYY-MM-DD date"),
    ],
)
def test_malformed_rule_files_are_rejected_with_the_place(mutate, message):
    doc = _minimal()
    mutate(doc)
    with pytest.raises(RuleDataError, match=message) as info:
        parse_jurisdiction(doc, "ZZ.json")
    assert "ZZ.json" in str(info.value)


def test_load_rules_names_the_file_with_bad_json(tmp_path: Path):
    (tmp_path / "ZZ.json").write_text('{"jurisdiction": ')
    with pytest.raises(RuleDataError, match=r"ZZ\.json:1: invalid JSON"):
        load_rules(tmp_path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_parser_raises_only_rule_data_errors(data):
    doc = _minimal()
    # Replace one random part of a valid document with arbitrary JSON.
    target = data.draw(st.sampled_from(["doc", "sources", "period", "value"]))
    junk = data.draw(json_values)
    if target == "doc":
        doc = junk
    elif target == "sources":
        doc["sources"]["s"] = junk
    elif target == "period":
        doc["classes"]["normal"] = junk
    else:
        doc["classes"]["normal"][0]["road_use"] = junk
    with contextlib.suppress(RuleDataError):
        parse_jurisdiction(doc, "fuzz.json")


def test_shipped_files_are_one_per_jurisdiction():
    assert sorted(p.stem for p in DATA_DIR.glob("*.json")) == sorted(ALL)


def test_cli_rules_state_text_marks_unknowns():
    result = CliRunner().invoke(cli, ["rules", "FL", "--class", "mini_truck"])
    assert result.exit_code == 0, result.output
    assert "max posted limit of roads (mph): 35  [high confidence]" in result.output
    assert "vehicle top speed cap (mph): unknown" in result.output


def test_cli_rules_json_carries_sources():
    result = CliRunner().invoke(cli, ["rules", "NC", "--class", "mini_truck", "--json"])
    assert result.exit_code == 0, result.output
    (rule,) = json.loads(result.output)
    assert rule["class"] == "mini_truck"
    assert rule["road_max_posted_mph"]["value"] == 55
    assert rule["road_max_posted_mph"]["sources"][0]["cite"] == "N.C. S.L. 2019-34 (HB 179)"


def test_cli_rules_json_carries_the_states_statutory_limits_as_the_text_does():
    # La. R.S. 32:61 (through Acts 2010 No. 81): 55 mph unless posted lower, 65 on a
    # multi-lane divided highway, 70 on a controlled-access one (docs/rules.md).
    result = CliRunner().invoke(cli, ["rules", "LA", "--class", "lsv", "--json"])
    assert result.exit_code == 0, result.output
    (rule,) = json.loads(result.output)
    limits = {tuple(s["highways"]): s for s in rule["statutory_limits"]}
    assert [s["range_mph"] for s in rule["statutory_limits"]] == [[55, 55], [55, 65], [55, 70]]
    divided = limits[
        ("primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link")
    ]
    assert divided["text"] == "55-65 mph" and divided["confidence"] == "low"
    assert divided["source_date"] == "2010"
    assert [(s["cite"], s["kind"], s["date"]) for s in divided["sources"]] == [
        ("La. R.S. 32:61", "statute", "2010")
    ]
    text = CliRunner().invoke(cli, ["rules", "LA", "--class", "lsv"]).output
    for s in rule["statutory_limits"]:
        assert f"{', '.join(s['highways'])}: {s['text']} ({s['where']})  [low confidence]" in text
    # A state with no statutory limit recorded says so with an empty list, not a guess.
    (tn,) = json.loads(CliRunner().invoke(cli, ["rules", "TN", "--class", "lsv", "--json"]).output)
    assert tn["statutory_limits"] == []


def test_cli_rules_on_date_selects_the_period():
    result = CliRunner().invoke(
        cli, ["rules", "CO", "--class", "mini_truck", "--on", "2028-08-01", "--json"]
    )
    (rule,) = json.loads(result.output)
    assert rule["start"] == "2028-01-01"


def test_cli_rules_table_has_a_line_per_state():
    result = CliRunner().invoke(cli, ["rules", "--class", "lsv"])
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) == 1 + 51


def test_cli_rules_unknown_state_is_an_error():
    result = CliRunner().invoke(cli, ["rules", "XX"])
    assert result.exit_code == 1
    assert "no rules for 'XX'" in result.output


# Issue 15: values the research marks unknown, or that rest on inference from a text's
# silence or on news pages alone, are unknown (the check says "unverified").
UNKNOWN_NOW = [
    *[("TX", "normal", f) for f in ("vehicle_max_mph", "road_max_posted_mph", "banned_roads")],
    *[("WA", "normal", f) for f in ("vehicle_max_mph", "road_max_posted_mph", "banned_roads")],
    *[
        ("MA", "normal", f)
        for f in (
            "vehicle_max_mph",
            "road_max_posted_mph",
            "banned_roads",
            "daylight_only",
            "distance_limit_mi",  # a news article on registration is silent on operation
        )
    ],
    ("KS", "mini_truck", "vehicle_max_mph"),
    ("FL", "mini_truck", "daylight_only"),
    ("LA", "mini_truck", "daylight_only"),
    ("NC", "mini_truck", "daylight_only"),
    ("MN", "mini_truck", "daylight_only"),
    *[("TN", "msv", f) for f in ("daylight_only", "banned_roads", "distance_limit_mi")],
    *[("TN", "lsv", f) for f in ("daylight_only", "banned_roads", "distance_limit_mi")],
    ("MS", "lsv", "road_use"),
]


@pytest.mark.parametrize(("state", "cls", "field"), UNKNOWN_NOW)
def test_values_no_source_states_are_unknown_with_a_reason(state, cls, field):
    value = load_rules().rule(state, cls, dt.date(2026, 6, 1))[field]
    assert not value.known
    assert value.note and value.note.startswith("Unknown:")


@pytest.mark.parametrize("state", ["NH", "VA", "PA"])
def test_use_limits_a_log_cannot_check_are_stated_conditions(state):
    value = load_rules().rule(state, "special", dt.date(2026, 6, 1))["use_conditions"]
    assert value.known and "a log cannot show" in value.value.lower()


def test_colorado_kei_class_applies_from_2028():
    # HB25-1281 takes effect 2027-07-01 but applies to applications and offenses from
    # 2028-01-01 (bill tracker; the Colorado DMV gives the same date): until then the DMV's
    # ban stands.
    book = load_rules()
    for day in (dt.date(2027, 6, 30), dt.date(2027, 12, 31)):
        assert book.rule("CO", "mini_truck", day)["road_use"].value == "prohibited", day
    kei = book.rule("CO", "mini_truck", dt.date(2028, 1, 1))
    assert kei["road_use"].value == "allowed" and kei["road_max_posted_mph"].value == 55
    # Read from a committee version of the bill and a tracker's summary of the act.
    assert kei["road_max_posted_mph"].confidence == "medium"
    # The class sets a minimum top speed; no source states a cap or its absence.
    assert not kei["vehicle_max_mph"].known
    assert kei["vehicle_max_mph"].note.startswith("Unknown:")


def test_rhode_islands_2024_law_is_recorded_not_encoded():
    # P.L. 2024 ch. 414 (H 8013 Sub A) was enacted 2024-06-28; the kei clause of its
    # companion S 2693 Sub A was not found in the text read, so nothing rests on it.
    ri = load_rules()["RI"]
    law = ri.sources["webserver-rilegislature-gov-publiclaws-law24-law"]
    assert (law.date, law.date_kind, law.kind) == ("2024-06-28", "enacted", "statute")
    bill = ri.sources["ri-2026-h-7577"]
    assert (bill.date, bill.date_kind) == ("2026-02-06", "introduced")
    assert not ri.rule("mini_truck", dt.date(2026, 6, 1))["road_use"].known
    normal = ri.rule("normal", dt.date(2026, 6, 1))["road_use"]
    assert normal.value == "not_registrable"
    assert "ch. 414" in normal.note and "not verified" in normal.note


def test_every_source_has_its_own_date_and_its_kind_or_says_why_not():
    book = load_rules()
    for code in ALL:
        for src in book[code].sources.values():
            where = f"{code} {src.id}"
            if src.date:
                assert src.date_kind in DATE_KINDS and src.date_basis, where
                assert src.date != book[code].as_of, where  # never the compile date
            else:
                assert src.undated, where
            assert src.kind in SOURCE_KINDS, where


def test_source_dates_are_the_sources_own():
    book = load_rules()
    iihs = book["FL"].sources["iihs-org-iihs-topics-laws-minitrucks"]
    assert (iihs.date, iihs.date_basis) == ("2019-04", "note")  # "IIHS ... April 2019"
    fla = book["FL"].sources["fla-stat-316-2122-2"]
    assert fla.date == "2009"  # "2009 text, quoted at the URL"
    assert fla.to_dict()["url"].startswith("https://")
    assert book.version.startswith(max(j.as_of for j in book.values()) + "+")


def test_cli_rules_text_shows_each_sources_kind_date_url_and_the_disclaimer():
    result = CliRunner().invoke(cli, ["rules", "FL", "--class", "mini_truck"])
    assert result.exit_code == 0, result.output
    assert "source: Fla. Stat. 316.2122 (statute; version 2009 (from its note))" in result.output
    assert "source: 49 CFR 571.3" not in result.output  # the mini-truck class only
    assert "        https://sowal.com/forum/threads/" in result.output
    assert "        2009 text, quoted at the URL" in result.output
    assert result.output.rstrip().endswith("See docs/rules.md.")
    assert "Not legal advice" in result.output


def test_cli_rules_json_carries_the_disclaimer_and_data_version():
    result = CliRunner().invoke(cli, ["rules", "PA", "--class", "special", "--json"])
    (rule,) = json.loads(result.output)
    assert rule["disclaimer"].startswith("Not legal advice")
    assert rule["rules_version"] == load_rules().version
    assert rule["use_conditions"]["value"].startswith("Antique plates")
