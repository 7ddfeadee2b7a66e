"""Decoding CAN frames with a DBC: keilog's vectorised decoder vs cantools frame by frame.

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
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from cantools.database import Database
from cantools.database.errors import DecodeError
from keilog import paths
from keilog.decode import Decoder, FrameBatch, load_database
from keilog.demo import builtin_messages

from bench import best_of, entry

ROOT = Path(__file__).resolve().parents[1]
PEER_DBC = ROOT / ".." / "shared" / "peer" / "opendbc" / "ford_lincoln_base_pt.dbc"
REFERENCE = "cantools decode_message(decode_choices=False) per frame"


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


def compare(db: Database, log: FrameBatch, repeat: int, **extra: Any) -> dict[str, Any]:
    decoder = Decoder(db)
    seconds, result = best_of(lambda: decoder.decode(log), repeat)
    ids = log.arbitration_id.tolist()
    payloads = [log.payload(i) for i in range(len(log))]
    t0 = time.perf_counter()
    cantools_decoded = cantools_loop(db, ids, payloads)
    ref_seconds = time.perf_counter() - t0
    values = sum(int(sum(m.is_present(s).sum() for s in m.signals)) for m in result.values())
    return entry(
        len(log) / seconds,
        len(log) / ref_seconds,
        REFERENCE,
        "frames/s",
        True,
        frames=len(log),
        signal_values=values,
        cantools_decoded_frames=cantools_decoded,
        keilog_seconds=round(seconds, 4),
        reference_seconds=round(ref_seconds, 3),
        **extra,
    )


def run(quick: bool = False) -> dict[str, Any]:
    logging.getLogger("cantools").setLevel(logging.ERROR)
    frames = 20_000 if quick else 1_000_000
    repeat = 3 if quick else 5
    out: dict[str, Any] = {}
    keicar = load_database(paths.keicar_dbc())
    out["decode_frames_per_s"] = compare(
        keicar, keicar_log(keicar, frames), repeat, dbc="dbc/keicar.dbc"
    )
    if PEER_DBC.is_file():
        peer = load_database(PEER_DBC)
        out["decode_frames_per_s_opendbc"] = compare(
            peer, random_log(peer, frames), repeat, dbc=f"opendbc/{PEER_DBC.name}"
        )
    return out
