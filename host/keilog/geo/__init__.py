"""Where am I: offline US state lookup."""

from keilog.geo.states import (
    NEAR_BORDER_M,
    WATER_FALLBACK_M,
    GeoError,
    StateIndex,
    Where,
    WhereArrays,
    load_states,
    where,
)

__all__ = [
    "NEAR_BORDER_M",
    "WATER_FALLBACK_M",
    "GeoError",
    "StateIndex",
    "Where",
    "WhereArrays",
    "load_states",
    "where",
]
