"""The road file's error, and what numpy's ``.npz`` reader raises on a damaged file."""

from __future__ import annotations

import zipfile
import zlib

from keilog.errors import KeilogError


class RoadsError(KeilogError):
    """An OSM extract or a road file cannot be used."""


NPZ_ERRORS = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
"""What numpy's .npz reader raises on a damaged road file."""
