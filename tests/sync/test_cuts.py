"""The cable pulled at hundreds of random points, and damaged bytes, in-process.

The device is the firmware's own sync service (logger/syncdev.py) on a real segment
store under CPython, serving segments the real firmware wrote; the host is keilog's
sync library; between them the in-memory cable of memlink.py, which pulls itself out
after a random number of bytes (seeded). After every pull the cable is plugged back
in and `sync` runs again, while the device goes on writing its open segment, until a
sync completes. Then the database must hold exactly the frames the firmware was sent.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from keilog import store
from keilog.sync import Archive, DeviceClient, LinkLostError, VersionMismatchError, sync

from tests.sync.conftest import LoggedRun, copy_segments, device_service
from tests.sync.helpers import db_frames, db_segment_names
from tests.sync.memlink import Wire

ROUNDS = 12
CUTS_PER_ROUND = (25, 40)


class Device:
    """A device whose last segment is still being written, block by block."""

    def __init__(self, fw: Any, run: LoggedRun, folder: Path) -> None:
        copy_segments(run, folder, run.names[:-1])
        self.service = device_service(fw, folder)
        self.store = self.service.store
        last = run.names[-1]
        data = (run.folder / last).read_bytes()
        self.blocks = [data[i : i + 512] for i in range(0, len(data), 512)]
        self.store.open(int(last[:4], 16), int(last[4:8], 16))
        assert self.store.name == last
        self.written = 0

    def log_some(self, rng: random.Random) -> None:
        for _ in range(rng.randint(0, 1)):
            if self.written < len(self.blocks):
                self.store.write(self.blocks[self.written])
                self.written += 1
        if self.store.file is not None:
            self.store.file.flush()
            if self.written == len(self.blocks):
                self.store.close()  # sealed: the next rotation came

    def all_synced(self) -> bool:
        return self.store.file is None and all(
            self.store.is_synced(n) for n in self.store.segments()
        )


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new keilog database, made once: each round starts from a copy."""
    path = tmp_path_factory.mktemp("db") / "empty.db"
    store.open_db(path).close()
    return path


def fresh_db(template: Path, path: Path) -> Any:
    shutil.copyfile(template, path)
    return store.open_db(path)


def sync_once(device: Any, archive: Archive, db: Any, wire: Wire) -> Any:
    client = DeviceClient(wire, "mem", timeout=0.5, clock=wire.clock, sleep=wire.sleep)
    return sync(client, archive, db, set_clock=False, seal=False)


def test_random_cable_pulls_then_resume_lose_and_duplicate_nothing(
    fw: Any, logged: LoggedRun, tmp_path: Path, empty_db: Path
) -> None:
    rng = random.Random(20261125)
    cuts = 0
    statuses: Counter[str] = Counter()
    for r in range(ROUNDS):
        device = Device(fw, logged, tmp_path / f"device{r}")
        archive = Archive(tmp_path / f"archive{r}")
        db = fresh_db(empty_db, tmp_path / f"k{r}.db")
        pulls = rng.randint(*CUTS_PER_ROUND)
        pulled = 0
        attempts = 0
        while True:
            device.log_some(rng)
            attempts += 1
            pull = pulled < pulls and rng.random() < 0.85  # some syncs go through
            cut = 1 + int(rng.expovariate(1 / 1500)) if pull else None
            wire = Wire(device.service, seed=rng.randrange(1 << 30), cut_after=cut)
            try:
                result = sync_once(device, archive, db, wire)
            except LinkLostError:
                pulled += 1
                continue
            statuses.update(s.status for s in result.segments)
            if device.all_synced() and pulled >= pulls:
                break
            assert attempts < 2000, "no progress"
        cuts += pulled
        assert db_frames(db) == logged.frames, f"round {r}"
        assert not list((archive.root / ".partial").rglob("*.KLG"))
        assert sorted(p.stem for p in archive.root.glob("*.KLG")) == sorted(
            r[0] for r in db.execute("select sha256 from segments").fetchall()
        )
    assert cuts >= 300, cuts  # ROUNDS * CUTS_PER_ROUND[0]
    assert statuses["in progress"] > 0  # syncs ran while the last segment was growing


@pytest.mark.parametrize(
    ("flip_rate", "drop_rate"),
    [(1e-3, 0.0), (0.0, 1e-3), (2e-3, 5e-4)],
    ids=["flipped bits", "lost bytes", "both"],
)
def test_damaged_bytes_are_retried_until_every_frame_is_in(
    fw: Any, logged: LoggedRun, tmp_path: Path, flip_rate: float, drop_rate: float
) -> None:
    folder = copy_segments(logged, tmp_path / "device")
    service = device_service(fw, folder)
    wire = Wire(service, seed=99, flip_rate=flip_rate, drop_rate=drop_rate)
    client = DeviceClient(wire, "mem", timeout=0.5, retries=10, clock=wire.clock, sleep=wire.sleep)
    db = store.open_db(tmp_path / "k.db")
    result = sync(client, Archive(tmp_path / "archive"), db, set_clock=False, seal=False)
    assert db_frames(db) == logged.frames
    assert all(s.acknowledged for s in result.segments)
    reader = service.reader
    damage_seen = (
        client.decoder.crc_errors
        + client.decoder.header_errors
        + reader.crc_errors
        + reader.header_errors
        + result.link.timeouts
    )
    assert damage_seen > 0


def test_pulled_between_commit_and_acknowledgement_is_acknowledged_next_time(
    fw: Any, logged: LoggedRun, tmp_path: Path
) -> None:
    folder = copy_segments(logged, tmp_path / "device")
    service = device_service(fw, folder)
    archive = Archive(tmp_path / "archive")
    db = store.open_db(tmp_path / "k.db")
    wire = Wire(service, cut_before=0x05)  # the first ACK never leaves the host
    with pytest.raises(LinkLostError):
        sync_once(service, archive, db, wire)
    first = logged.names[0]
    assert db_segment_names(db) == [first]  # imported and committed ...
    assert not service.store.is_synced(first)  # ... but not acknowledged
    result = sync_once(service, archive, db, Wire(service))
    assert [(s.name, s.status) for s in result.segments] == [
        (first, "already imported"),
        *((n, "imported") for n in logged.names[1:]),
    ]
    assert all(service.store.is_synced(n) for n in logged.names)
    assert db_frames(db) == logged.frames


def test_a_newer_device_tells_the_host_to_update_keilog(
    fw: Any, logged: LoggedRun, tmp_path: Path
) -> None:
    service = device_service(fw, tmp_path, version=fw.syncproto.PROTOCOL_VERSION + 1)
    wire = Wire(service)
    client = DeviceClient(wire, "mem", clock=wire.clock, sleep=wire.sleep)
    with pytest.raises(VersionMismatchError) as info:
        client.hello()
    assert str(info.value) == (
        "mem: the device speaks sync protocol 2 and this host speaks 1: update keilog on "
        "this computer (pip install --upgrade keilog)"
    )
    assert service.refused == 1
