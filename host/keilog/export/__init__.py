"""``keilog export``: a database's frames, tables and tracks in the formats owners use.

    from keilog.export import export

    export("trips.db", "drive.blf", trip=3)      # raw frames of trip 3, Vector BLF
    export("trips.db", "archive.parquet")        # the analytics archive (DuckDB, Spark)

By the extension of the output: ``.log`` (candump), ``.asc``, ``.blf``, ``.trc`` and
``.csv`` through python-can's writers, ``.mf4`` (ASAM MDF 4 bus logging) through
asammdf, ``.parquet`` (the analytics archive: a Hive-partitioned Parquet folder,
keilog.export.archive), and ``.gpx``, ``.geojson``,
``.kml`` maps of the trips (keilog.export.maps). Every frame file reads back with
``keilog import`` / ``keilog decode``.
"""

from keilog.export.run import FORMATS, ExportProgress, ExportResult, export
from keilog.export.source import ExportError

__all__ = ["FORMATS", "ExportError", "ExportProgress", "ExportResult", "export"]
