"""Where am I: offline US state lookup, after deciding whether a point is in the US."""

from keilog.geo.countries import COUNTRY_NAMES, TERRITORY_NAMES, CountryIndex
from keilog.geo.errors import GeoError
from keilog.geo.states import (
    NEAR_BORDER_M,
    WATER_FALLBACK_M,
    StateIndex,
    Where,
    WhereArrays,
    load_states,
    where,
)

__all__ = [
    "COUNTRY_NAMES",
    "NEAR_BORDER_M",
    "TERRITORY_NAMES",
    "WATER_FALLBACK_M",
    "CountryIndex",
    "GeoError",
    "StateIndex",
    "Where",
    "WhereArrays",
    "load_states",
    "where",
]
