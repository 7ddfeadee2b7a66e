"""The result of ``keilog check``, typed: what the check writes and what its readers see.

``check_database`` builds a :class:`CheckResult` and writes it with ``to_json`` (the JSON
of docs/rules.md); the report and the map exports read a file back with
``CheckResult.from_json`` (or :func:`load_check`), which validates it and refuses
anything else in one line naming the file. Check trips are matched to the database's
trips by time overlap, not by number, so that a different trip numbering cannot attach
violations to the wrong trip.

Each violation shows its rule's source; the date of that source comes from the
violation itself when the check gives one (``source_date`` or ``as_of``), else from the
rule data keilog ships (the value's ``as_of``, else its jurisdiction's).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keilog.errors import ReportError
from keilog.rules.model import FIELDS, RuleBook, load_rules

if TYPE_CHECKING:  # keilog.store imports sqlite-utils, which keilog.rules leaves out
    from keilog.store.trips import Trip

_TIME = {"type": ["string", "null"]}
_NUM = {"type": ["number", "null"]}
_EVENT = {
    "type": "object",
    "properties": {
        "rule": {"type": "string"},
        "state": {"type": ["string", "null"]},
        "start": _TIME,
        "end": _TIME,
        "duration_s": _NUM,
        "limit_mph": _NUM,
        "observed_mph": _NUM,
        "lat": _NUM,
        "lon": _NUM,
        "source": {"type": ["string", "null"]},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["trips"],
    "properties": {
        "vehicle": {"type": "object"},
        "trips": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer"},
                    "start": _TIME,
                    "end": _TIME,
                    "states": {"type": "array", "items": {"type": "string"}},
                    "verdict": {"type": "string"},
                    "violations": {"type": "array", "items": {**_EVENT, "required": ["rule"]}},
                    "unverified": {"type": "array", "items": {"type": "object"}},
                    "road_judged": {
                        "type": "object",
                        "properties": {
                            "distance_mi": _NUM,
                            "posted_limit_share": _NUM,
                            "statutory_default_share": _NUM,
                            "unjudged_share": _NUM,
                        },
                    },
                },
            },
        },
    },
}
"""What a reader needs of a check result; the check writes more (docs/rules.md)."""

# Rule ids of the check that are not a rule-data field name as they stand.
_RULE_FIELDS = {
    "road_max_posted": "road_max_posted_mph",
    "vehicle_max": "vehicle_max_mph",
    "vehicle_max_speed": "vehicle_max_mph",
    "speed_cap": "vehicle_max_mph",
    "banned_road": "banned_roads",
    "interstate": "banned_roads",
    "daylight": "daylight_only",
    "class_not_allowed": "road_use",
    "not_allowed": "road_use",
    "prohibited": "road_use",
    "distance_limit": "distance_limit_mi",
    "crossing": "crossing_allowed",
}


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # only reading a check result needs it (the CLI starts without)

    return jsonschema.Draft202012Validator(SCHEMA)


def parse_time(text: Any, where: str) -> float | None:
    """ISO 8601 (``Z`` or an offset; naive means UTC) to UTC seconds."""
    if text is None:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise ReportError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


@dataclass(frozen=True)
class Violation:
    """One violation event of the check, with its source's date filled in."""

    number: int
    rule: str
    state: str | None
    start: float | None
    end: float | None
    duration_s: float | None
    limit_mph: float | None
    observed_mph: float | None
    lat: float | None
    lon: float | None
    source: str | None
    source_date: str | None
    source_url: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def excess_mph(self) -> float | None:
        if self.limit_mph is None or self.observed_mph is None:
            return None
        return self.observed_mph - self.limit_mph


@dataclass(frozen=True)
class RoadJudged:
    """How much of a trip's distance where a road rule applies the check judged: on
    posted limits, on a state's statutory limit of an unposted road, or not at all
    (shares of ``distance_mi``; None where no road rule applied)."""

    distance_mi: float
    posted: float | None
    statutory: float | None
    unjudged: float | None

    @classmethod
    def from_json(cls, doc: Any) -> RoadJudged | None:
        """From a trip's ``road_judged`` object (None: a check that wrote none)."""
        if not isinstance(doc, dict):
            return None
        return cls(
            float(doc.get("distance_mi") or 0.0),
            doc.get("posted_limit_share"),
            doc.get("statutory_default_share"),
            doc.get("unjudged_share"),
        )

    @property
    def text(self) -> str:
        """``62 % on posted limits, 0 % on statutory limits (low confidence), 38 % not
        judged, of 9.8 mi``: the one wording of ``keilog check`` and the report."""
        if self.posted is None or self.statutory is None or self.unjudged is None:
            return "no road rule applied on this trip"
        return (
            f"{self.posted * 100:.0f} % on posted limits, {self.statutory * 100:.0f} % on "
            f"statutory limits of unposted roads (low confidence), {self.unjudged * 100:.0f} % "
            f"not judged, of {self.distance_mi:g} mi"
        )

    @property
    def short(self) -> str:
        """``62 % posted, 0 % statutory, 38 % not judged (9.8 mi)``, where room is short."""
        if self.posted is None or self.statutory is None or self.unjudged is None:
            return "no road rule applied"
        return (
            f"{self.posted * 100:.0f} % posted, {self.statutory * 100:.0f} % statutory, "
            f"{self.unjudged * 100:.0f} % not judged ({self.distance_mi:g} mi)"
        )


@dataclass(frozen=True)
class CheckTrip:
    """One trip of the check: what readers use, typed, and its whole JSON object."""

    id: int
    start: float | None
    end: float | None
    states: list[str]
    verdict: str | None
    violations: list[Violation]
    unverified: list[dict[str, Any]]
    doc: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The trip's JSON object as the check wrote it (docs/rules.md)."""
        return self.doc

    @property
    def road_judged(self) -> RoadJudged | None:
        """The trip's shares judged on posted and statutory limits (None: not given)."""
        return RoadJudged.from_json(self.doc.get("road_judged"))


@dataclass(frozen=True)
class CheckResult:
    """A check of a database's trips for one vehicle (``keilog check --json``)."""

    vehicle: dict[str, Any]
    trips: list[CheckTrip]
    path: str = ""  # where it was read from (names the file in errors)
    roads: str | None = None  # the road file the check used, when its JSON names one
    disclaimer: str | None = None
    rules_version: str | None = None
    thresholds: dict[str, Any] | None = None

    @property
    def vehicle_class(self) -> str | None:
        value = self.vehicle.get("class") or self.vehicle.get("vehicle_class")
        return str(value) if value else None

    def for_trip(self, trip: Trip) -> CheckTrip | None:
        """The check trip that overlaps ``trip`` most (None: the check did not cover it)."""
        best, best_overlap = None, 0.0
        for ct in self.trips:
            if ct.start is None or ct.end is None:
                continue
            overlap = min(ct.end, trip.end) - max(ct.start, trip.start)
            if overlap >= 0 and (best is None or overlap > best_overlap):
                best, best_overlap = ct, overlap
        if best is None and all(ct.start is None for ct in self.trips):
            return next((ct for ct in self.trips if ct.id == trip.id), None)
        return best

    def to_json(self) -> dict[str, Any]:
        """The check's JSON object (docs/rules.md), as ``keilog check --json`` prints it."""
        return {
            "vehicle": self.vehicle,
            "disclaimer": self.disclaimer,
            "rules_version": self.rules_version,
            "thresholds": self.thresholds,
            "roads": self.roads,
            "trips": [t.to_json() for t in self.trips],
        }

    @classmethod
    def from_json(
        cls, doc: Any, where: str = "check", rules: RuleBook | None = None
    ) -> CheckResult:
        """Validate and read a check result parsed from JSON; ``where`` names it in errors."""
        import jsonschema  # only reading a check result needs it (the CLI starts without)

        try:
            _validator().validate(doc)
        except jsonschema.ValidationError as exc:
            at = "/".join(str(p) for p in exc.absolute_path) or "top level"
            raise ReportError(
                f"{where}: not a keilog check result at {at}: {exc.message}; write it with "
                "keilog check --json"
            ) from None
        return _read(doc, where, rules if rules is not None else load_rules())


def _read(doc: dict[str, Any], where: str, book: RuleBook) -> CheckResult:
    vehicle = dict(doc.get("vehicle") or {})
    vclass = vehicle.get("class") or vehicle.get("vehicle_class")
    trips = []
    number = 0
    for i, t in enumerate(doc["trips"]):
        here = f"{where}: trips[{i}]"
        violations = []
        for j, v in enumerate(t.get("violations") or []):
            number += 1
            violations.append(_violation(v, number, f"{here}.violations[{j}]", vclass, book))
        trips.append(
            CheckTrip(
                id=int(t["id"]),
                start=parse_time(t.get("start"), f"{here}.start"),
                end=parse_time(t.get("end"), f"{here}.end"),
                states=list(t.get("states") or []),
                verdict=t.get("verdict"),
                violations=violations,
                unverified=list(t.get("unverified") or []),
                doc=t,
            )
        )
    roads = doc.get("roads") or vehicle.get("roads")
    return CheckResult(
        vehicle,
        trips,
        where,
        str(roads) if roads else None,
        disclaimer=doc.get("disclaimer"),
        rules_version=doc.get("rules_version"),
        thresholds=doc.get("thresholds"),
    )


def load_check(path: str | Path, rules: RuleBook | None = None) -> CheckResult:
    """Read a check result written by ``keilog check --json``."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{p}: cannot read the check result: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{p}:{exc.lineno}: not JSON ({exc.msg}); write it with keilog check --json"
        ) from exc
    except ValueError as exc:  # not UTF-8, or an integer of more than 4300 digits
        raise ReportError(
            f"{p}: not a check result ({exc}); write it with keilog check --json"
        ) from exc
    except RecursionError:
        # json's own limit on nesting (it recurses): a check result is 4 levels deep.
        raise ReportError(
            f"{p}: nested too deep to be a check result; write it with keilog check --json"
        ) from None
    return CheckResult.from_json(doc, str(p), rules)


CheckInput = CheckResult | dict[str, Any] | str | Path | None


def as_check(check: CheckInput, rules: RuleBook | None = None) -> CheckResult | None:
    """A check result from a result, its JSON object (``check_database``), or its file."""
    if check is None or isinstance(check, CheckResult):
        return check
    if isinstance(check, dict):
        return CheckResult.from_json(check, "check result", rules)
    return load_check(check, rules)


def check_from_dict(doc: Any, where: str = "check", rules: RuleBook | None = None) -> CheckResult:
    """Validate and read a check result already parsed from JSON (``CheckResult.from_json``)."""
    return CheckResult.from_json(doc, where, rules)


def _violation(
    v: dict[str, Any], number: int, where: str, vclass: Any, book: RuleBook
) -> Violation:
    known = set(_EVENT["properties"]) | {"source_date", "as_of", "source_url"}
    start = parse_time(v.get("start"), f"{where}.start")
    date, url = _source_date(v, start, vclass, book)
    return Violation(
        number=number,
        rule=str(v["rule"]),
        state=v.get("state"),
        start=start,
        end=parse_time(v.get("end"), f"{where}.end"),
        duration_s=v.get("duration_s"),
        limit_mph=v.get("limit_mph"),
        observed_mph=v.get("observed_mph"),
        lat=v.get("lat"),
        lon=v.get("lon"),
        source=v.get("source"),
        source_date=date,
        source_url=url,
        extra={k: val for k, val in v.items() if k not in known},
    )


def rule_field(rule: str) -> str | None:
    """The rule-data field a check rule id rests on (None if it names none)."""
    if rule in FIELDS:
        return rule
    for candidate in (_RULE_FIELDS.get(rule), f"{rule}_mph", f"{rule}s"):
        if candidate in FIELDS:
            return candidate
    return None


def _source_date(
    v: dict[str, Any], start: float | None, vclass: Any, book: RuleBook
) -> tuple[str | None, str | None]:
    date = v.get("source_date") or v.get("as_of")
    url = v.get("source_url")
    state = v.get("state")
    if (date and url) or not state or state not in book:
        return date, url
    juris = book[state]
    day = dt.datetime.fromtimestamp(start, dt.UTC).date() if start else dt.date.today()
    name = rule_field(str(v["rule"]))
    rule = juris.rule(str(vclass), day) if vclass else None
    if rule is not None and name is not None:
        value = rule[name]
        date = date or value.as_of or juris.as_of
        label = v.get("source")
        for s in value.sources:
            if url is None and s.url and (label is None or s.label in str(label)):
                url = s.url
    return date or juris.as_of, url
