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

__all__ = [
    "CLASSES",
    "DISCLAIMER",
    "ROAD_CLASSES",
    "ROAD_USES",
    "ClassRule",
    "Jurisdiction",
    "RuleBook",
    "RuleDataError",
    "Source",
    "Value",
    "load_rules",
    "select_rules",
]
