"""The SQLite store: schema, idempotent and atomic import, decoded tables and trips.

- :mod:`keilog.store.ingest`: import log segments and other CAN logs (one transaction each).
- :mod:`keilog.store.schema`: the tables (docs/database.md).
- :mod:`keilog.store.bulk`: many rows per INSERT from columns.
- :mod:`keilog.store.decoded`: decoded columns into ``msg_<MESSAGE>`` rows.
- :mod:`keilog.store.trips`: the ``trips`` table, the one definition of a trip.
"""

from keilog.store.ingest import (
    SegmentImport,
    ensure_schema,
    import_files,
    import_log,
    import_segment,
    message_table,
    open_db,
)

__all__ = [
    "SegmentImport",
    "ensure_schema",
    "import_files",
    "import_log",
    "import_segment",
    "message_table",
    "open_db",
]
