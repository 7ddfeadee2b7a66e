"""One sync: every unacknowledged segment off the device, into the archive and the
database, exactly once.

For each segment the device lists, oldest first:

1. fetch it into ``.partial/`` in the archive, resuming after the bytes already there
   (a segment still being written is fetched up to its last flushed block and left
   there for the next sync);
2. check its SHA-256 against the device's own;
3. store it in the archive under that hash;
4. import it into the database (one transaction, idempotent by hash);
5. only after that transaction committed, acknowledge it: the device may then delete
   it when it needs the space.

A crash or a pulled cable at any point leaves a state the next sync finishes: bytes
kept in ``.partial/`` are not fetched again, an archived segment is not fetched again,
an imported one is not imported again (it is only acknowledged).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cantools.database
import sqlite_utils

from keilog import store
from keilog.errors import StoreError
from keilog.outputs import check_parent, undo_on_failure
from keilog.sync.archive import Archive
from keilog.sync.client import ClockSet, DeviceClient, DeviceInfo, Entry, LinkStats
from keilog.sync.errors import VerifyError
from keilog.sync.ports import open_port, resolve


@dataclass
class Progress:
    """Where a sync stands: bytes fetched so far of the bytes it expects to fetch."""

    name: str
    done: int
    total: int


ProgressFn = Callable[[Progress], None]


@dataclass
class SegmentResult:
    """What happened to one segment."""

    name: str
    size: int
    sha256: str | None
    status: str  # "imported", "already imported" or "in progress"
    fetched: int = 0
    frames: int = 0
    acknowledged: bool = False
    damage: list[str] = field(default_factory=list)
    # As keilog.store.SegmentImport: raw frames per DBC message and per unknown identifier.
    message_frames: dict[str, int] = field(default_factory=dict)
    unknown_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class SyncResult:
    """The whole sync, for the CLI and for scripts (``asdict`` makes it JSON)."""

    port: str
    device: DeviceInfo
    clock: ClockSet | None
    sealed: str | None
    segments: list[SegmentResult]
    bytes_fetched: int
    seconds: float
    link: LinkStats

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in_db(db: sqlite_utils.Database, sha256: str) -> bool:
    return bool(db.table("segments").count_where("sha256 = ?", [sha256]))


class _Run:
    def __init__(
        self,
        client: DeviceClient,
        archive: Archive,
        db: sqlite_utils.Database,
        can_db: cantools.database.Database | None,
        progress: ProgressFn | None,
        hash_timeout: float,
    ) -> None:
        self.client = client
        self.archive = archive
        self.db = db
        self.can_db = can_db
        self.progress = progress
        self.hash_timeout = hash_timeout
        self.done = 0
        self.total = 0
        self.device = ""

    def fetch(self, entry: Entry, start: int) -> int:
        """Fetch [start, entry.size) into the partial file; returns bytes fetched."""
        name = entry.name

        def moved(n: int) -> None:
            self.done += n
            if self.progress is not None:
                self.progress(Progress(name, self.done, self.total))

        with self.archive.open_partial(self.device, name, start) as f:

            def sink(_offset: int, data: bytes) -> None:
                f.write(data)

            try:
                end = self.client.read(name, start, entry.size, sink, moved)
            finally:
                f.flush()
        return end - start

    def verified(self, entry: Entry) -> tuple[bytes, str, int]:
        """The segment's bytes, checked against the device's SHA-256 (one re-fetch
        from the start if they differ)."""
        fetched = 0
        device_sha = entry.sha256
        for attempt in range(2):
            have = self.archive.partial_size(self.device, entry.name)
            if have > entry.size:
                self.archive.discard_partial(self.device, entry.name)
                have = 0
            if have < entry.size:
                self.total += entry.size - have if attempt else 0
                fetched += self.fetch(entry, have)
            data = self.archive.read_partial(self.device, entry.name)
            sha = hashlib.sha256(data).hexdigest()
            if device_sha is None:
                device_sha = self.client.wait_hashed(entry.name, self.hash_timeout).sha256
            if len(data) == entry.size and sha == device_sha:
                return data, sha, fetched
            self.archive.discard_partial(self.device, entry.name)
        raise VerifyError(
            f"{self.client.name}: {entry.name}: the bytes received twice differ from the "
            "device's (sha256); the link may be damaging data that its CRC misses: try "
            "another cable or port"
        )

    def segment(self, entry: Entry) -> SegmentResult:
        client = self.client
        archive = self.archive
        result = SegmentResult(entry.name, entry.size, entry.sha256, "imported")
        if not entry.sealed:
            start = archive.partial_size(self.device, entry.name)
            if start > entry.size:
                archive.discard_partial(self.device, entry.name)
                start = 0
            result.fetched = self.fetch(entry, start) if start < entry.size else 0
            result.status = "in progress"
            return result
        if entry.sha256 is not None and _in_db(self.db, entry.sha256):
            data, sha = b"", entry.sha256
        elif entry.sha256 is not None and archive.has(entry.sha256):
            data, sha = archive.read(entry.sha256), entry.sha256
        else:
            data, sha, result.fetched = self.verified(entry)
            archive.store(data, sha, self.device, entry.name)
            archive.discard_partial(self.device, entry.name)
        result.sha256 = sha
        if data:
            try:
                imp = store.import_segment(self.db, data, entry.name, self.can_db)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{entry.name}: import failed and nothing of it was stored ({exc}); it "
                    f"is safe in {archive.object_path(sha)} and still on the device: fix "
                    "the cause and sync again"
                ) from exc
            result.status = imp.status
            result.frames = imp.frames
            result.damage = imp.damage
            result.message_frames, result.unknown_ids = imp.message_frames, imp.unknown_ids
        else:
            result.status = "already imported"
        archive.discard_partial(self.device, entry.name)
        # The import's transaction has committed: now the device may let the segment go.
        client.ack(entry.name, entry.size, sha)
        result.acknowledged = True
        return result


def sync(
    client: DeviceClient,
    archive: Archive,
    db: sqlite_utils.Database,
    *,
    can_db: cantools.database.Database | None = None,
    seal: bool = True,
    set_clock: bool = True,
    progress: ProgressFn | None = None,
    hash_timeout: float = 120.0,
    port_name: str = "",
) -> SyncResult:
    """Sync every unacknowledged segment of the device behind ``client``.

    seal: first ask the device to seal the segment it is writing, so that everything
    logged until now comes along (otherwise that segment is fetched as far as it is
    flushed, kept in the archive's .partial/, and finished by a later sync).
    set_clock: offer the host's UTC to the device, which records it as a clock anchor.
    """
    started = time.monotonic()
    info = client.hello()
    p = client.p
    clock = client.set_clock() if set_clock and info.caps & p.CAP_CLOCK else None
    sealed = client.rotate() if seal and info.caps & p.CAP_ROTATE else None
    entries = client.list_segments()
    run = _Run(client, archive, db, can_db, progress, hash_timeout)
    run.device = info.device_id
    for e in entries:
        if not (e.sealed and e.sha256 is not None and _in_db(db, e.sha256)):
            run.total += max(e.size - archive.partial_size(run.device, e.name), 0)
    results = [run.segment(e) for e in entries]
    client.bye()
    return SyncResult(
        port=port_name or client.name,
        device=info,
        clock=clock,
        sealed=sealed,
        segments=results,
        bytes_fetched=run.done,
        seconds=time.monotonic() - started,
        link=client.stats,
    )


def sync_port(
    port: str,
    into: str | Path,
    db_path: str | Path,
    *,
    can_db: cantools.database.Database | None = None,
    seal: bool = True,
    set_clock: bool = True,
    progress: ProgressFn | None = None,
    timeout: float = 1.0,
    retries: int = 4,
) -> SyncResult:
    """Open ``port`` ("auto": the one MicroPython board plugged in) and sync it into the
    archive folder ``into`` and the database ``db_path``."""
    path = resolve(port)
    check_parent(db_path, "--db")
    check_parent(into, "--into")
    ser = open_port(path)  # a missing or busy port fails here, before anything is made

    def fetched_something() -> bool:
        return Path(into).is_dir() and any(p.is_file() for p in Path(into).rglob("*"))

    try:
        with undo_on_failure(into, db_path, keep_if=fetched_something):
            archive = Archive(into)
            db = store.open_db(db_path)
            try:
                client = DeviceClient(ser, path, timeout=timeout, retries=retries)
                return sync(
                    client,
                    archive,
                    db,
                    can_db=can_db,
                    seal=seal,
                    set_clock=set_clock,
                    progress=progress,
                    port_name=path,
                )
            finally:
                db.close()
    finally:
        ser.close()
