"""Decode CAN frames with DBC files, vectorised.

cantools parses the DBC (or KCD/SYM/ARXML); keilog compiles each message into shifts
and masks over the frame bytes and decodes all frames of a message with whole-array
numpy operations, with the same values cantools gives frame by frame.

    from keilog.decode import Decoder, FrameBatch

    decoder = Decoder.from_files(["dbc/keicar.dbc"])
    result = decoder.decode(FrameBatch.from_messages(can.LogReader("drive.asc")))
    for frame in result.frames():
        print(frame["message"], frame["signals"])
"""

from keilog.decode.candump import CandumpParser, read_candump
from keilog.decode.dbc import load_database, load_databases
from keilog.decode.decoder import Decoder
from keilog.decode.frames import FrameBatch
from keilog.decode.logs import CanLog, Progress, open_log
from keilog.decode.result import DecodedMessage, DecodeResult, DecodeStats
from keilog.decode.stream import LogDecoding, decode_logs, decode_stream

__all__ = [
    "CanLog",
    "CandumpParser",
    "DecodeResult",
    "DecodeStats",
    "DecodedMessage",
    "Decoder",
    "FrameBatch",
    "LogDecoding",
    "Progress",
    "decode_logs",
    "decode_stream",
    "load_database",
    "load_databases",
    "open_log",
    "read_candump",
]
