"""Decoding CAN frames with a DBC: keilog's vectorised decoder vs cantools frame by frame
and vs asammdf's bus-logging extraction.

- decode_frames_per_s: a synthetic 1M-frame log of the simulated kei car (dbc/keicar.dbc):
  the demo drive (every message at its DBC cycle time, encoded with cantools) repeated
  end to end with shifted timestamps. keilog decodes it as one FrameBatch; the reference
  is the loop owners write with cantools: ``db.decode_message(id, data,
  decode_choices=False)`` per frame, on the ids and payloads a python-can reader gives.
- decode_frames_per_s_opendbc: the same comparison on a large real DBC from the peer
  corpus (opendbc's ford_lincoln_base_pt.dbc, 331 messages), with random payloads and
  ids drawn in proportion to each message's cycle time; only when ../shared is present.
  Random payloads hit undefined multiplexer values and the like: the reference loop
  catches cantools' DecodeError per frame, as a real loop must.

Both sides decode the same frames in the same run; keilog's time is the best of a few
runs, the reference's one run (it takes seconds).

Each log is also decoded by asammdf, the other vectorised decoder owners reach for
(``decode_frames_per_s_asammdf``, ``decode_frames_per_s_opendbc_asammdf``): the frames
are written once as an MF4 bus log (``CAN_DataFrame`` records, as CANedge and python-can
write them; not timed), then the timed part is ``MDF(path)`` opening that file (from the
page cache) plus ``extract_bus_logging(database_files={"CAN": [(dbc, 0)]})`` with the DBC
already parsed by canmatrix, as keilog's decoder is built before its clock starts; best
of 3 runs. The entry counts the signal values asammdf extracted beside keilog's
(the same number: both decode every frame). Without asammdf (``pip install asammdf``)
the bench says so on stderr and leaves these entries out.

The floor beside every entry is numpy reading each frame's payload bytes once (the
maximum over the payloads as 64-bit words): no decoder that looks at every frame can be
faster.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cantools.database import Database
from cantools.database.errors import DecodeError
from keilog import paths
from keilog.decode import Decoder, FrameBatch, load_database
from keilog.demo import builtin_messages
from keilog.export.canlogs import write_mf4
from keilog.export.source import FrameChunk

from bench import Entry, best_of, entry

ROOT = Path(__file__).resolve().parents[1]
PEER_DBC = ROOT / ".." / "shared" / "peer" / "opendbc" / "ford_lincoln_base_pt.dbc"
REFERENCE = "cantools decode_message(decode_choices=False) per frame"
ASAMMDF_REFERENCE = "asammdf MDF.extract_bus_logging on an MF4 bus log"
ASAMMDF_TIMED = "MDF(path) + extract_bus_logging; DBC parsed and MF4 written before the clock"
FLOOR = "numpy reading every payload once"


def keicar_log(db: Database, frames: int) -> FrameBatch:
    """``frames`` frames of the simulated kei car: a ~6 minute drive, repeated."""
    base = FrameBatch.from_messages(builtin_messages(db, duration=min(350.0, frames / 171 + 1)))
    reps = -(-frames // len(base))
    span = float(base.timestamp[-1] - base.timestamp[0]) + 0.01
    log = FrameBatch(
        timestamp=np.concatenate([base.timestamp + k * span for k in range(reps)]),
        arbitration_id=np.tile(base.arbitration_id, reps),
        is_extended=np.tile(base.is_extended, reps),
        dlc=np.tile(base.dlc, reps),
        data=np.tile(base.data, (reps, 1)),
    )
    return log.take(slice(0, frames))


def random_log(db: Database, frames: int, seed: int = 6) -> FrameBatch:
    """Random payloads for the messages of ``db``, ids weighted by cycle time."""
    rng = np.random.default_rng(seed)
    messages = [m for m in db.messages if m.length <= 8]
    rates = np.array([1000 / (m.cycle_time or 100) for m in messages])
    pick = rng.choice(len(messages), size=frames, p=rates / rates.sum())
    lengths = np.array([m.length for m in messages], np.uint8)[pick]
    data = rng.integers(0, 256, (frames, 8), dtype=np.uint8)
    data[np.arange(8) >= lengths[:, None]] = 0
    return FrameBatch(
        timestamp=np.cumsum(rng.exponential(1 / rates.sum(), frames)),
        arbitration_id=np.array([m.frame_id for m in messages], np.uint32)[pick],
        is_extended=np.array([m.is_extended_frame for m in messages], np.bool_)[pick],
        dlc=lengths,
        data=data,
    )


def cantools_loop(db: Database, ids: list[int], payloads: list[bytes]) -> int:
    """The per-frame reference; returns how many frames cantools decoded."""
    decode = db.decode_message
    done = 0
    for frame_id, payload in zip(ids, payloads, strict=True):
        try:
            decode(frame_id, payload, decode_choices=False)
        except (DecodeError, KeyError):
            continue
        done += 1
    return done


@dataclass
class KeilogRun:
    """keilog's figures on one log, shared by the entries against each reference."""

    frames: int
    seconds: float
    signal_values: int
    floor_frames_per_s: float

    def entry(self, reference_s: float, reference_name: str, **extra: Any) -> dict[str, Any]:
        return entry(
            self.frames / self.seconds,
            self.frames / reference_s,
            reference_name,
            "frames/s",
            True,
            frames=self.frames,
            signal_values=self.signal_values,
            keilog_seconds=round(self.seconds, 4),
            reference_seconds=round(reference_s, 4),
            floor_frames_per_s=round(self.floor_frames_per_s),
            floor_name=FLOOR,
            **extra,
        )


def run_keilog(db: Database, log: FrameBatch, repeat: int) -> KeilogRun:
    """Decode ``log`` (best of ``repeat``), and time the floor on the same payloads."""
    decoder = Decoder(db)
    seconds, result = best_of(lambda: decoder.decode(log), repeat)
    values = sum(int(sum(m.is_present(s).sum() for s in m.signals)) for m in result.values())
    words = log.data.view("<u8")
    floor_s, _ = best_of(lambda: words.max(), repeat)
    return KeilogRun(len(log), seconds, values, len(log) / floor_s)


def compare_cantools(db: Database, log: FrameBatch, keilog: KeilogRun, **extra: Any) -> Entry:
    ids = log.arbitration_id.tolist()
    payloads = [log.payload(i) for i in range(len(log))]
    t0 = time.perf_counter()
    cantools_decoded = cantools_loop(db, ids, payloads)
    ref_seconds = time.perf_counter() - t0
    return keilog.entry(ref_seconds, REFERENCE, cantools_decoded_frames=cantools_decoded, **extra)


def write_bus_log(log: FrameBatch, path: Path) -> None:
    """``log`` as an MF4 bus log of data frames, through keilog's MF4 export (asammdf)."""
    no = np.zeros(len(log), np.bool_)
    payloads = [log.payload(i) for i in range(len(log))]
    chunk = FrameChunk(
        log.timestamp, log.arbitration_id, log.is_extended, no, no, no, no, no, log.dlc, payloads
    )
    write_mf4(path, [chunk], lambda _: None)


def asammdf_values(extracted: Any) -> int:
    """Signal values in asammdf's extraction: the samples of every non-master channel."""
    total = 0
    for index, group in enumerate(extracted.groups):
        for channel in range(1, len(group.channels)):
            total += len(extracted.get(group=index, index=channel, raw=True).samples)
    return total


def compare_asammdf(
    dbc_file: Path, log: FrameBatch, keilog: KeilogRun, repeat: int, **extra: Any
) -> Entry | None:
    """asammdf's bus extraction on the same frames; None (said on stderr) without it."""
    try:
        from asammdf import MDF
        from asammdf.blocks.utils import load_can_database
    except ImportError:
        print("bench decode: asammdf is not installed (pip install asammdf); "
              "no *_asammdf entries", file=sys.stderr)  # fmt: skip
        return None
    logging.getLogger("asammdf").setLevel(logging.ERROR)
    databases = {"CAN": [(load_can_database(dbc_file), 0)]}
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bus.mf4"
        write_bus_log(log, path)
        for _ in range(repeat):
            t0 = time.perf_counter()
            with MDF(path) as mdf:
                extracted = mdf.extract_bus_logging(database_files=databases)
            best = min(best, time.perf_counter() - t0)
            values = asammdf_values(extracted)
            extracted.close()
        mf4_bytes = path.stat().st_size
    return keilog.entry(
        best,
        ASAMMDF_REFERENCE,
        asammdf_signal_values=values,
        reference_timed=ASAMMDF_TIMED,
        mf4_bytes=mf4_bytes,
        **extra,
    )


def run(quick: bool = False) -> dict[str, Any]:
    logging.getLogger("cantools").setLevel(logging.ERROR)
    frames = 20_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    out: dict[str, Any] = {}
    cases = [("decode_frames_per_s", paths.keicar_dbc(), "dbc/keicar.dbc", keicar_log)]
    if PEER_DBC.is_file():
        name = f"opendbc/{PEER_DBC.name}"
        cases.append(("decode_frames_per_s_opendbc", PEER_DBC, name, random_log))
    for key, dbc, name, make_log in cases:
        db = load_database(dbc)
        log = make_log(db, frames)
        keilog = run_keilog(db, log, repeat)
        out[key] = compare_cantools(db, log, keilog, dbc=name)
        versus_asammdf = compare_asammdf(dbc, log, keilog, 3, dbc=name)
        if versus_asammdf is not None:
            out[f"{key}_asammdf"] = versus_asammdf
    return out
