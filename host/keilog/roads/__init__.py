"""Which road: OpenStreetMap roads, their posted limits, and snapping GPS fixes to them."""

from keilog.roads.index import SNAP_RADIUS_M, Road, RoadIndex, SnapArrays, road_classes
from keilog.roads.maxspeed import Limit, parse_maxspeed, road_limit
from keilog.roads.osm import BuildSummary, RoadsError, build_roads

__all__ = [
    "SNAP_RADIUS_M",
    "BuildSummary",
    "Limit",
    "Road",
    "RoadIndex",
    "RoadsError",
    "SnapArrays",
    "build_roads",
    "parse_maxspeed",
    "road_classes",
    "road_limit",
]
