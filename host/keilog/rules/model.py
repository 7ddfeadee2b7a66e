"""The rule data: what each state allows each registration class, with sources.

The data lives in ``keilog/rules/data/XX.json``, one file per jurisdiction (the 50 states
and DC). Every value is stored as ``{"value": ..., "sources": [...], "confidence": ...,
"note": ...}``; a value of ``null`` (or a bare ``null``) means *unknown* and is reported
as such, never as allowed. ``docs/rules.md`` describes the format.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keilog.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"

CLASSES = ("normal", "mini_truck", "lsv", "msv", "special", "off_road")
"""Registration classes keilog knows, in the order they are shown."""

ROAD_USES = ("allowed", "local_option", "not_registrable", "prohibited")
"""``allowed``: statewide road use under the class rules. ``local_option``: only where a
local ordinance or designation allows it. ``not_registrable``: the state refuses to title or
register the vehicle in this class (whether a vehicle registered elsewhere may drive there
is not settled). ``prohibited``: public-road use is banned."""

ROAD_CLASSES = (
    "interstate",
    "controlled_access",
    "expressway",
    "us_highway",
    "state_highway",
    "divided_highway",
)
"""Road classes a rule can ban; ``keilog.roads`` maps OpenStreetMap tags onto them."""

CONFIDENCES = ("high", "medium", "low")


FIELDS = (
    "effective_from",
    "road_use",
    "vehicle_max_mph",
    "road_max_posted_mph",
    "banned_roads",
    "crossing_allowed",
    "daylight_only",
    "distance_limit_mi",
    "local_restrictions",
    "use_conditions",
)
"""``use_conditions``: a limit on how the vehicle may be used (antique plates: no general
transportation; farm use only) that a log cannot check. The check states it in the verdict
instead of passing it silently."""

DISCLAIMER = (
    "Not legal advice: keilog's rule data is a research summary that can be incomplete or "
    "out of date; check each value's source. See docs/rules.md."
)
SOURCE_KINDS = ("statute", "regulation", "bill", "official", "survey", "secondary", "aggregator")
"""``statute``: a statute's or session law's text; ``regulation``: an agency rule;
``bill``: a bill's text or legislative analysis; ``official``: an agency page (a DMV page,
a news release); ``survey``: a table of all states (IIHS); ``secondary``: news, columns,
lawyers' and dealers' pages; ``aggregator``: unsourced state-by-state lists."""
SECONDARY_KINDS = ("secondary", "survey", "aggregator")
"""Source kinds that report the law rather than state it."""
DATE_KINDS = ("effective", "enacted", "introduced", "version", "session", "published", "retrieved")
"""What a source's own date is: ``effective`` the day the text took effect; ``enacted``
the day (or year) it was signed or enacted; ``introduced`` the day a bill was filed;
``version`` the text as in force on that date
(a code's "current through"); ``session`` the legislative session of a bill;
``published`` the page's, document's or article's own date; ``retrieved`` the day the
research read it."""
DATE_BASES = ("note", "cite", "url", "text")
"""Where a source's date was read: its note, its citation, its URL, or its text."""


class RuleDataError(ConfigError):
    """A rule data file is malformed."""


@dataclass(frozen=True)
class Source:
    """A statute, regulation, agency page or other document a value rests on."""

    id: str
    cite: str | None
    url: str | None
    kind: str
    note: str | None = None
    date: str | None = None  # the source's own date: YYYY, YYYY-MM or YYYY-MM-DD
    date_kind: str | None = None  # what the date is: one of DATE_KINDS
    date_basis: str | None = None  # where the date was read: one of DATE_BASES
    undated: str | None = None  # without a date: why there is none

    @property
    def date_text(self) -> str:
        """The date with its kind, e.g. ``enacted 2024-06-28``, or ``undated: <why>``."""
        if self.date:
            return f"{self.date_kind} {self.date}"
        return f"undated: {self.undated}"

    @property
    def label(self) -> str:
        """The citation if there is one, else the URL."""
        return self.cite or self.url or self.id

    @property
    def dated_label(self) -> str:
        return f"{self.label} ({self.date_text})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cite": self.cite,
            "url": self.url,
            "kind": self.kind,
            "note": self.note,
            "date": self.date,
            "date_kind": self.date_kind,
            "date_basis": self.date_basis,
            "undated": self.undated,
        }


@dataclass(frozen=True)
class Value:
    """One rule value with its provenance. ``value is None`` means unknown."""

    value: Any
    sources: tuple[Source, ...] = ()
    confidence: str | None = None
    as_of: str | None = None
    note: str | None = None

    @property
    def known(self) -> bool:
        return self.value is not None

    @property
    def source_label(self) -> str | None:
        """The sources as one short string, e.g. ``Fla. Stat. 316.2122``."""
        labels = list(dict.fromkeys(s.label for s in self.sources))
        return "; ".join(labels) if labels else None

    @property
    def source_date(self) -> str | None:
        """The newest own date among the value's sources (None: none of them is dated)."""
        dates = [s.date for s in self.sources if s.date]
        return max(dates) if dates else None

    @property
    def secondary_only(self) -> bool:
        """Whether every source only reports the law (news, surveys, aggregators)."""
        return bool(self.sources) and all(s.kind in SECONDARY_KINDS for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "status": "known" if self.known else "unknown",
            "confidence": self.confidence,
            "as_of": self.source_date,
            "compiled": self.as_of,
            "secondary_only": self.secondary_only,
            "sources": [s.to_dict() for s in self.sources],
            "note": self.note,
        }


UNKNOWN = Value(None)


@dataclass(frozen=True)
class ClassRule:
    """What one jurisdiction allows one registration class during one period."""

    jurisdiction: str
    vehicle_class: str
    summary: str
    start: dt.date | None
    end: dt.date | None
    values: Mapping[str, Value] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Value:
        return self.values.get(name, UNKNOWN)

    def applies_on(self, day: dt.date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "class": self.vehicle_class,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "summary": self.summary,
            **{name: self[name].to_dict() for name in FIELDS},
        }


@dataclass(frozen=True)
class StatutoryLimit:
    """A state's speed limit by statute for roads that post none, by OpenStreetMap road
    type: what the check judges a road by where OpenStreetMap has no usable maxspeed.

    ``where`` says which roads the statute means (e.g. "business or residence district");
    a road type says that only roughly, so the confidence is at most medium. Where the
    statute's limit for such a road depends on what a road type does not tell (inside or
    outside city limits, a residence district or not), the limit is the range
    ``min_mph``..``mph``: a class that may use roads up to ``mph`` keeps to it, one whose
    highest road limit is below ``min_mph`` breaks it, anything between is unverified."""

    highways: frozenset[str]
    mph: float
    where: str
    sources: tuple[Source, ...]
    confidence: str = "low"
    min_mph: float | None = None

    @property
    def lowest_mph(self) -> float:
        """The lowest limit the statute may set for such a road (``mph`` if one value)."""
        return self.mph if self.min_mph is None else self.min_mph

    @property
    def text(self) -> str:
        """The limit as shown: ``55 mph`` or ``35-55 mph``."""
        if self.min_mph is None or self.min_mph == self.mph:
            return f"{self.mph:g} mph"
        return f"{self.min_mph:g}-{self.mph:g} mph"

    @property
    def source_label(self) -> str:
        return "; ".join(s.cite or s.url or s.id for s in self.sources)

    @property
    def source_date(self) -> str | None:
        dates = [s.date for s in self.sources if s.date]
        return max(dates) if dates else None

    def to_dict(self) -> dict[str, Any]:
        """As ``keilog rules --json`` gives it: ``range_mph`` is [lowest, highest], equal
        where the statute sets one value for such a road."""
        return {
            "highways": sorted(self.highways),
            "range_mph": [self.lowest_mph, self.mph],
            "text": self.text,
            "where": self.where,
            "confidence": self.confidence,
            "source_date": self.source_date,
            "sources": [s.to_dict() for s in self.sources],
        }


@dataclass(frozen=True)
class Jurisdiction:
    """A state (or DC) and its rules for every registration class."""

    code: str
    name: str
    as_of: str
    kei_status: str
    kei_confidence: str
    summary: str
    classes: Mapping[str, tuple[ClassRule, ...]]
    sources: Mapping[str, Source]
    statutory_limits: tuple[StatutoryLimit, ...] = ()

    def statutory_limit(self, highway: str) -> StatutoryLimit | None:
        """The statute's limit for an unposted road of this OpenStreetMap type, if any."""
        return next((s for s in self.statutory_limits if highway in s.highways), None)

    def rule(self, vehicle_class: str, on: dt.date) -> ClassRule | None:
        """The rule in force for ``vehicle_class`` on ``on``, or None if none is known."""
        for rule in self.classes.get(vehicle_class, ()):
            if rule.applies_on(on):
                return rule
        return None


class RuleBook(Mapping[str, Jurisdiction]):
    """All jurisdictions, by two-letter code."""

    def __init__(self, jurisdictions: Mapping[str, Jurisdiction], version: str = "") -> None:
        self._j = dict(jurisdictions)
        self.version = version
        """The data's version: its newest compile date and a digest of its files."""

    def __getitem__(self, code: str) -> Jurisdiction:
        try:
            return self._j[code.upper()]
        except KeyError:
            raise RuleDataError(
                f"no rules for {code!r}; use a two-letter state code such as FL (or DC)"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._j)

    def __len__(self) -> int:
        return len(self._j)

    def rule(self, code: str, vehicle_class: str, on: dt.date) -> ClassRule | None:
        return self[code].rule(check_class(vehicle_class), on)


def check_class(vehicle_class: str) -> str:
    if vehicle_class not in CLASSES:
        raise RuleDataError(
            f"unknown registration class {vehicle_class!r}; use one of {', '.join(CLASSES)}"
        )
    return vehicle_class


_SOURCE_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def _date(text: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise RuleDataError(f"{where}: {text!r} is not a YYYY-MM-DD date") from None


def _check_value(name: str, value: Any, where: str) -> Any:
    """Validate one field's value and return it in its runtime form."""
    ok: bool
    if name == "effective_from":
        _date(value, where)
        ok = True
    elif name == "road_use":
        ok = value in ROAD_USES
    elif name in ("vehicle_max_mph", "road_max_posted_mph", "distance_limit_mi"):
        ok = value == "none" or (
            isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        )
    elif name == "banned_roads":
        ok = isinstance(value, list) and all(v in ROAD_CLASSES for v in value)
        value = tuple(value) if ok else value
    elif name == "daylight_only":
        ok = value in (True, False, "unless_lighted")
    elif name == "use_conditions":
        ok = isinstance(value, str) and bool(value.strip())
    else:  # crossing_allowed, local_restrictions
        ok = isinstance(value, bool)
    if not ok:
        raise RuleDataError(f"{where}: invalid value {value!r}; see docs/rules.md for the format")
    return value


def _parse_value(
    raw: Any, name: str, sources: Mapping[str, Source], as_of: str, where: str
) -> Value:
    if raw is None:
        return UNKNOWN
    if not isinstance(raw, dict) or "value" not in raw:
        raise RuleDataError(f"{where}: expected an object with a 'value' key, got {raw!r}")
    extra = set(raw) - {"value", "sources", "confidence", "as_of", "note"}
    if extra:
        raise RuleDataError(f"{where}: unknown keys {sorted(extra)}")
    ids = raw.get("sources", [])
    missing = [i for i in ids if i not in sources]
    if missing:
        raise RuleDataError(f"{where}: sources {missing} are not in the file's 'sources' table")
    srcs = tuple(sources[i] for i in ids)
    note = raw.get("note")
    if raw["value"] is None:
        return Value(None, srcs, None, None, note)
    if not srcs:
        raise RuleDataError(f"{where}: a known value needs at least one source")
    confidence = raw.get("confidence")
    if confidence not in CONFIDENCES:
        raise RuleDataError(f"{where}: confidence must be one of {CONFIDENCES}, got {confidence!r}")
    value_as_of = raw.get("as_of", as_of)
    _date(value_as_of, where + ".as_of")
    value = _check_value(name, raw["value"], where)
    return Value(value, srcs, confidence, value_as_of, note)


_SOURCE_KEYS = {"cite", "url", "kind", "note", "date", "date_kind", "date_basis", "undated"}


def _plain_cite(cite: str) -> bool:
    """Whether a cite reads well inside the parentheses the check's text puts around it:
    its parentheses balance and it is not itself one parenthetical remark."""
    cite = cite.strip()
    depth, closes = 0, []  # where each parenthesis opened at the start closes
    for i, ch in enumerate(cite):
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
        if depth == 0 and ch == ")":
            closes.append(i)
    wrapped = cite.startswith("(") and closes[:1] == [len(cite) - 1]
    return depth == 0 and not wrapped and bool(cite.strip())


def _parse_source(sid: str, raw: Any, where: str) -> Source:
    """One entry of a file's ``sources`` table: what it is, and its own date or why it
    has none (the compile date is never put in its place)."""
    loc = f"{where}: source {sid!r}"
    if not isinstance(raw, dict):
        raise RuleDataError(f"{loc}: expected an object")
    extra = set(raw) - _SOURCE_KEYS
    if extra:
        raise RuleDataError(f"{loc}: unknown keys {sorted(extra)}")
    src = Source(
        sid,
        raw.get("cite"),
        raw.get("url"),
        raw.get("kind"),  # type: ignore[arg-type]
        raw.get("note"),
        raw.get("date"),
        raw.get("date_kind"),
        raw.get("date_basis"),
        raw.get("undated"),
    )
    if not (src.cite or src.url):
        raise RuleDataError(f"{loc}: has neither a cite nor a URL")
    if src.cite is not None and not _plain_cite(src.cite):
        raise RuleDataError(
            f"{loc}: cite {src.cite!r} is not a plain citation (the check shows it in "
            "parentheses); give the citation itself with balanced parentheses and put "
            "remarks in 'note'"
        )
    if src.kind not in SOURCE_KINDS:
        raise RuleDataError(f"{loc}: kind {src.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    if src.date is None:
        if not (isinstance(src.undated, str) and src.undated.strip()):
            raise RuleDataError(
                f"{loc}: has no date; give its own date (with date_kind and date_basis) "
                "or say why it has none in 'undated'"
            )
        if src.date_kind or src.date_basis:
            raise RuleDataError(f"{loc}: date_kind and date_basis need a date")
        return src
    if not (isinstance(src.date, str) and _SOURCE_DATE.fullmatch(src.date)):
        raise RuleDataError(f"{loc}: date {src.date!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    if src.date_kind not in DATE_KINDS:
        raise RuleDataError(
            f"{loc}: date_kind {src.date_kind!r} is not one of {', '.join(DATE_KINDS)}"
        )
    if src.date_basis not in DATE_BASES:
        raise RuleDataError(
            f"{loc}: date_basis {src.date_basis!r} is not one of {', '.join(DATE_BASES)}"
        )
    if src.undated is not None:
        raise RuleDataError(f"{loc}: has a date and an 'undated' reason; keep one")
    return src


def parse_jurisdiction(doc: Any, where: str) -> Jurisdiction:
    """Build a Jurisdiction from the parsed JSON of one data file; ``where`` names it."""
    if not isinstance(doc, dict):
        raise RuleDataError(f"{where}: expected a JSON object")
    try:
        code = doc["jurisdiction"]
        as_of = doc["as_of"]
        _date(as_of, f"{where}: as_of")
        sources = {sid: _parse_source(sid, s, where) for sid, s in doc["sources"].items()}
        classes: dict[str, tuple[ClassRule, ...]] = {}
        for cls, periods in doc["classes"].items():
            check_class(cls)
            parsed: list[tuple[dt.date | None, str, dict[str, Value]]] = []
            for i, period in enumerate(periods):
                values = {}
                for name in FIELDS:
                    loc = f"{where}: classes.{cls}[{i}].{name}"
                    values[name] = _parse_value(period.get(name), name, sources, as_of, loc)
                unknown_keys = set(period) - set(FIELDS) - {"summary"}
                if unknown_keys:
                    raise RuleDataError(
                        f"{where}: classes.{cls}[{i}] has unknown keys {unknown_keys}"
                    )
                start_value = values["effective_from"].value
                start = _date(start_value, where) if start_value else None
                parsed.append((start, period.get("summary", ""), values))
            later = [p[0] for p in parsed[1:]]
            dated = [d for d in later if d is not None]
            if len(dated) != len(later) or dated != sorted(dated):
                raise RuleDataError(
                    f"{where}: classes.{cls}: periods after the first need "
                    "increasing effective_from dates"
                )
            rules = []
            for i, (start, summary, values) in enumerate(parsed):
                end = parsed[i + 1][0] if i + 1 < len(parsed) else None
                rules.append(ClassRule(code, cls, summary, start, end, values))
            classes[cls] = tuple(rules)
        missing = set(CLASSES) - set(classes)
        if missing:
            raise RuleDataError(f"{where}: classes {sorted(missing)} are missing")
        return Jurisdiction(
            code=code,
            name=doc["name"],
            as_of=as_of,
            kei_status=doc["kei_status"],
            kei_confidence=doc["kei_confidence"],
            summary=doc["summary"],
            classes=classes,
            sources=sources,
            statutory_limits=_statutory_limits(doc.get("statutory_limits", []), sources, where),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise RuleDataError(f"{where}: malformed rule file ({exc!r}); see docs/rules.md") from None


def _statutory_limits(
    items: Any, sources: Mapping[str, Source], where: str
) -> tuple[StatutoryLimit, ...]:
    out = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        loc = f"{where}: statutory_limits[{i}]"
        refs = item["sources"]
        if not refs or any(r not in sources for r in refs):
            raise RuleDataError(f"{loc}: every limit needs sources listed under sources")
        highways = frozenset(str(h) for h in item["highway"])
        if highways & seen:
            raise RuleDataError(f"{loc}: road types {sorted(highways & seen)} listed twice")
        seen |= highways
        confidence = item.get("confidence", "low")
        if confidence not in ("low", "medium"):
            raise RuleDataError(f"{loc}: confidence must be low or medium for a statutory limit")
        mph = item["mph"]
        low = item.get("min_mph", mph)
        for x in (mph, low):
            if not isinstance(x, int | float) or isinstance(x, bool) or not 0 < x < 100:
                raise RuleDataError(f"{loc}: mph and min_mph must be miles per hour")
        if low > mph:
            raise RuleDataError(f"{loc}: min_mph {low} is above mph {mph}")
        out.append(
            StatutoryLimit(
                highways,
                float(mph),
                str(item["where"]),
                tuple(sources[r] for r in refs),
                confidence,
                None if low == mph else float(low),
            )
        )
    return tuple(out)


def load_rules(data_dir: Path | None = None) -> RuleBook:
    """Load every ``XX.json`` under ``data_dir`` (default: the rules keilog ships)."""
    if data_dir is None:
        return _default_rules()
    return _load(data_dir)


@functools.lru_cache(maxsize=1)
def _default_rules() -> RuleBook:
    return _load(DATA_DIR)


def _load(data_dir: Path) -> RuleBook:
    jurisdictions = {}
    digest = hashlib.sha256()
    for path in sorted(data_dir.glob("*.json")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            doc = json.loads(raw.decode("utf-8"))
        except json.JSONDecodeError as exc:
            raise RuleDataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
        except UnicodeDecodeError:
            raise RuleDataError(f"{path}: not UTF-8 text; save it as UTF-8") from None
        j = parse_jurisdiction(doc, str(path))
        if j.code != path.stem:
            raise RuleDataError(f"{path}: jurisdiction {j.code!r} does not match the file name")
        jurisdictions[j.code] = j
    if not jurisdictions:
        raise RuleDataError(f"no rule files (XX.json) found in {data_dir}")
    compiled = max(j.as_of for j in jurisdictions.values())
    return RuleBook(jurisdictions, f"{compiled}+{digest.hexdigest()[:12]}")


def select_rules(
    book: RuleBook,
    state: str | None = None,
    vehicle_class: str | None = None,
    on: dt.date | None = None,
) -> list[ClassRule]:
    """The rules matching a state, a class and a date (each None means all)."""
    codes = [book[state].code] if state else list(book)
    classes = [check_class(vehicle_class)] if vehicle_class else list(CLASSES)
    out = []
    for code in codes:
        for cls in classes:
            for rule in book[code].classes[cls]:
                if on is None or rule.applies_on(on):
                    out.append(rule)
    return out
