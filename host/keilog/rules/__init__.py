"""State rules for kei cars and trucks: the data, and the check of a logged trip."""

from keilog.rules.model import (
    CLASSES,
    DISCLAIMER,
    ROAD_CLASSES,
    ROAD_USES,
    ClassRule,
    Jurisdiction,
    RuleBook,
    RuleDataError,
    Source,
    Value,
    load_rules,
    select_rules,
)
from keilog.rules.result import (
    CheckInput,
    CheckResult,
    CheckTrip,
    Violation,
    as_check,
    check_from_dict,
    load_check,
    rule_field,
)

__all__ = [
    "CLASSES",
    "DISCLAIMER",
    "ROAD_CLASSES",
    "ROAD_USES",
    "CheckInput",
    "CheckResult",
    "CheckTrip",
    "ClassRule",
    "Jurisdiction",
    "RuleBook",
    "RuleDataError",
    "Source",
    "Value",
    "Violation",
    "as_check",
    "check_from_dict",
    "load_check",
    "load_rules",
    "rule_field",
    "select_rules",
]
