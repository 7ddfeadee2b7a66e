"""Raw frames out as CAN log files other tools read.

* candump ``.log``, Vector ``.asc`` and ``.blf``, PEAK ``.trc`` and python-can ``.csv``
  through python-can's own writers (``can.Logger`` picks one by suffix), so the files
  are exactly what python-can writes and reads back;
* ASAM MDF 4 ``.mf4`` bus logging (``CAN_DataFrame``/``CAN_ErrorFrame``/
  ``CAN_RemoteFrame`` channel groups, as CSS Electronics' CANedge and python-can write
  it) through asammdf directly. python-can's MF4Writer appends one record per frame
  (about 6,600 frames/s measured here: 2.5 minutes per million frames); appending
  whole chunks as numpy records to the same layout is hundreds of times faster, and
  asammdf keeps them in a temporary file, not in memory.

What each format keeps, as python-can writes and reads it (the export refuses frames a
format cannot hold at all rather than drop them):

* every format: id, extended flag, data, DLC of data frames, and the time (to 1 us; .asc
  and .trc to 1 ms; .blf only for absolute times after 1980, .asc only for frames not
  earlier than the first);
* remote frames: all but .trc (refused); candump .log does not keep their DLC;
* error frames: .blf, .csv and .mf4 keep them whole; .log and .asc keep only that there
  was one (no class, no data); .trc refuses them;
* CAN FD: .log, .asc, .blf and .mf4 (flags and up to 64 bytes); .trc and .csv refuse
  them. CAN FD has no remote or error frames, but some logs flag them so: .blf keeps
  such flags on remote frames, .asc too (writing the DLC code as the DLC), .mf4 on
  error frames; the other formats drop them;
* a standard frame with an id over 0x7FF (invalid, but some logs hold one) reads back
  from .log and .trc as extended.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from pathlib import Path

import can
import can.io.mf4 as mf4
import numpy as np

from keilog.export.source import ExportError, FrameChunk

CAN_LOG_SUFFIXES = (".log", ".asc", ".blf", ".trc", ".csv")
MF4_SUFFIX = ".mf4"
# Frames a python-can writer cannot write: refused, never dropped (python-can's TRC
# writer would skip remote and error frames with only a logged warning).
UNWRITABLE = {
    ".trc": (("is_fd", "CAN FD frames"), ("is_remote", "remote frames"),
             ("is_error", "error frames")),
    ".csv": (("is_fd", "CAN FD frames"),),
}  # fmt: skip


def write_can_log(out: Path, chunks: Iterable[FrameChunk], done: Callable[[int], None]) -> int:
    """Write frames with python-can's writer for ``out``'s suffix; frames written."""
    suffix = out.suffix.lower()
    written = 0
    opened = _ZeroPaddedASCWriter(str(out)) if suffix == ".asc" else can.Logger(str(out))
    with opened as writer:
        for chunk in chunks:
            for flag, what in UNWRITABLE.get(suffix, ()):
                bad = getattr(chunk, flag)
                if bad.any():
                    row = written + int(np.argmax(bad)) + 1
                    raise ExportError(
                        f"{out}: python-can's {suffix} writer cannot write {what}, and frame "
                        f"{row} of the export is one; export to .log, .asc, .blf or .mf4"
                    )
            for m in messages(chunk):
                writer.on_message_received(m)
            written += len(chunk)
            done(len(chunk))
    return written


class _ZeroPaddedASCWriter(can.ASCWriter):
    """python-can's ASC writer, with the milliseconds of its header dates zero-padded.

    python-can 4.6 writes 19 ms as ``:05.19`` and its reader (like CANoe) reads that as
    190 ms, shifting every frame of the file; ``:05.019`` reads back right.
    """

    def _format_header_datetime(self, dt: datetime.datetime) -> str:
        msec = dt.microsecond // 1000 % 1000
        return dt.strftime(self.FORMAT_DATE.format(f"{msec:03d}"))


def messages(chunk: FrameChunk) -> Iterable[can.Message]:
    """The frames of a chunk as python-can messages."""
    for t, i, x, r, e, fd, brs, esi, n, data in zip(
        chunk.timestamp.tolist(),
        chunk.arbitration_id.tolist(),
        chunk.is_extended.tolist(),
        chunk.is_remote.tolist(),
        chunk.is_error.tolist(),
        chunk.is_fd.tolist(),
        chunk.bitrate_switch.tolist(),
        chunk.error_state_indicator.tolist(),
        chunk.dlc.tolist(),
        chunk.data,
        strict=True,
    ):
        yield can.Message(
            timestamp=t,
            arbitration_id=i,
            is_extended_id=x,
            is_remote_frame=r,
            is_error_frame=e,
            is_fd=fd,
            bitrate_switch=brs,
            error_state_indicator=esi,
            dlc=n,
            data=data,
            check=False,
        )


def write_mf4(out: Path, chunks: Iterable[FrameChunk], done: Callable[[int], None]) -> int:
    """Write frames as MDF 4.10 CAN bus logging with asammdf; frames written."""
    from asammdf import MDF, Signal
    from asammdf.blocks.v4_blocks import SourceInformation
    from asammdf.blocks.v4_constants import BUS_TYPE_CAN, SOURCE_BUS

    mdf = MDF(version="4.10")
    source = SourceInformation(source_type=SOURCE_BUS, bus_type=BUS_TYPE_CAN)
    groups = (("CAN_DataFrame", mf4.STD_DTYPE), ("CAN_ErrorFrame", mf4.ERR_DTYPE),
              ("CAN_RemoteFrame", mf4.RTR_DTYPE))  # fmt: skip
    for name, dtype in groups:
        mdf.append(
            Signal(
                name=name,
                samples=np.array([], dtype=dtype),
                timestamps=np.array([], dtype="<f8"),
                source=source,
            )
        )
    start: float | None = None
    written = 0
    try:
        for chunk in chunks:
            if start is None and len(chunk):
                start = float(chunk.timestamp.min())
                mdf.header.start_time = datetime.datetime.fromtimestamp(start, datetime.UTC)
            rel = chunk.timestamp - (start or 0.0)
            kinds = (~chunk.is_remote & ~chunk.is_error, chunk.is_error, chunk.is_remote)
            for index, ((name, dtype), rows) in enumerate(zip(groups, kinds, strict=True)):
                if rows.any():
                    records = _records(chunk, np.flatnonzero(rows), name, dtype)
                    mdf.extend(index, [(rel[rows], None), (records, None)])
            written += len(chunk)
            done(len(chunk))
        mdf.save(out, overwrite=True)
    finally:
        mdf.close()
    return written


def _records(chunk: FrameChunk, rows: np.ndarray, name: str, dtype: np.dtype) -> np.ndarray:
    """python-can's MF4 record layout for the given rows of a chunk."""
    rec = np.zeros(len(rows), dtype=dtype)
    rec[f"{name}.BusChannel"] = 1
    rec[f"{name}.ID"] = chunk.arbitration_id[rows]
    rec[f"{name}.IDE"] = chunk.is_extended[rows]
    rec[f"{name}.Dir"] = 0  # received
    dlc = chunk.dlc[rows]
    if name == "CAN_RemoteFrame":
        rec[f"{name}.DLC"] = dlc
        return rec
    fd = chunk.is_fd[rows]
    rec[f"{name}.DLC"] = np.where(fd, [can.util.len2dlc(int(n)) for n in dlc], dlc)
    rec[f"{name}.DataLength"] = dlc
    rec[f"{name}.EDL"] = fd
    rec[f"{name}.BRS"] = chunk.bitrate_switch[rows] & fd
    rec[f"{name}.ESI"] = chunk.error_state_indicator[rows] & fd
    lengths = np.array([len(chunk.data[r]) for r in rows.tolist()], np.int64)
    payload = rec[f"{name}.DataBytes"]
    for size in np.unique(lengths).tolist():
        if size:
            same = np.flatnonzero(lengths == size)
            blob = b"".join(chunk.data[r] for r in rows[same].tolist())
            payload[same, :size] = np.frombuffer(blob, np.uint8).reshape(-1, size)
    return rec
