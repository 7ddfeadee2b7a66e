"""Loading DBC (and KCD/SYM/ARXML) files: one loader for the whole package.

The loader lives with the decoder (:mod:`keilog.decode.dbc`), which names the file and
the line of whatever cantools rejects; these are the names the rest of keilog uses.
"""

from keilog.decode.dbc import load_database as load_file
from keilog.decode.dbc import load_databases as load_files

__all__ = ["load_file", "load_files"]
