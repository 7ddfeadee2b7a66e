"""Errors of the geography stage."""

from keilog.errors import KeilogError


class GeoError(KeilogError):
    """A position or a boundary file cannot be used."""
