"""The analytics archive (``keilog export --to DIR.parquet``): bytes per CAN frame.

- archive_bytes_per_frame: the whole archive (raw frames, one table per decoded message,
  GPS fixes, trips; Parquet footers included) per raw frame, for drives of the simulated
  kei car logged by the real firmware under the MicroPython unix port (``keilog demo``'s
  pipeline: its logger clock and jitter, not the simulator's exact periods), decoded with
  dbc/keicar.dbc. ``--quick``: the demo drive (florida_rural); else every built-in
  scenario with a CAN bus, one database each, summed. The reference: the same tables
  (read back from the archive) written as a competent user would, ``pq.write_table(table,
  compression="zstd")`` one file per table with pyarrow's defaults.

Printed beside: the SQLite database's bytes per frame (``keilog import``), the raw frames
alone in the archive, and the raw frames as packed 21-byte records (int64 us, uint32 id,
uint8 dlc, 8 data bytes) through ``xz -9e``: a general compressor's best on the same
information (no true floor exists for bytes; the frames table beats this one).
``year_at_2000_fps_gb``: one year of a car at 2,000 frames/s (2.6e9 frames, one hour a
day) at the measured figure.
"""

from __future__ import annotations

import lzma
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from keilog import store
from keilog.demo import run_demo
from keilog.export import export
from keilog.export.source import frame_chunks, select
from keilog.sim.scenario import DEMO, builtin, builtin_names

from bench import entry

FRAMES_PER_YEAR = 2_000 * 3_600 * 365  # 2,000 frames/s, one hour a day


def _packed_xz(db_path: Path) -> int:
    db = store.open_db(db_path)
    parts = []
    for c in frame_chunks(db, select(db)):
        rec = np.zeros(len(c), [("t", "<i8"), ("id", "<u4"), ("dlc", "u1"), ("data", "u1", 8)])
        rec["t"] = np.rint(c.timestamp * 1e6)
        rec["id"], rec["dlc"] = c.arbitration_id, c.dlc
        for i, d in enumerate(c.data):
            rec["data"][i, : len(d)] = np.frombuffer(d[:8], np.uint8)
        parts.append(rec.tobytes())
    return len(lzma.compress(b"".join(parts), preset=9 | lzma.PRESET_EXTREME))


def _reference(archive: Path, work: Path) -> int:
    """The archive's tables written with pyarrow's defaults and zstd, one file each."""
    import pyarrow.parquet as pq

    total = 0
    for folder in sorted(p for p in archive.iterdir() if p.is_dir()):
        table = pq.read_table(folder, partitioning=None)
        path = work / f"{folder.name}.parquet"
        pq.write_table(table, path, compression="zstd")
        total += path.stat().st_size
    return total


def run(quick: bool = False) -> dict[str, Any]:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return {}
    names = [DEMO] if quick else [n for n in builtin_names() if builtin(n).vehicle.can]
    frames = archive_bytes = reference = sqlite_bytes = frames_bytes = xz = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            work = Path(tmp) / name
            run_demo(work, scenario=name, sync=False)
            db_path = work / "keilog.db"
            result = export(db_path, work / "archive.parquet")
            frames += result.frames
            archive_bytes += result.bytes
            frames_bytes += sum(
                p.stat().st_size for p in (work / "archive.parquet" / "frames").rglob("*.parquet")
            )
            (work / "ref").mkdir()
            reference += _reference(work / "archive.parquet", work / "ref")
            sqlite_bytes += db_path.stat().st_size
            xz += _packed_xz(db_path)
    per_frame = archive_bytes / frames
    return {
        "archive_bytes_per_frame": entry(
            per_frame,
            reference / frames,
            "the same tables, pq.write_table(compression='zstd') with pyarrow's defaults",
            "bytes/frame",
            False,
            frames=frames,
            drives=names,
            year_at_2000_fps_gb=round(per_frame * FRAMES_PER_YEAR / 1e9, 1),
            goal_bytes_per_frame=round(25e9 / FRAMES_PER_YEAR, 2),
            sqlite_bytes_per_frame=round(sqlite_bytes / frames, 2),
            frames_table_bytes_per_frame=round(frames_bytes / frames, 3),
            xz_packed_frames_bytes_per_frame=round(xz / frames, 3),
        )
    }
