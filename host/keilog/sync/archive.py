"""The local archive of synced segments: content-addressed, never overwritten.

Layout of the archive folder::

    <sha256>.KLG             a segment's bytes, named by their SHA-256, read-only
    index.jsonl              one JSON line per segment archived: sha256, device_id,
                             name, size, archived_at
    .partial/<device>/<name> bytes of a transfer in progress; every byte in it arrived
                             in a frame whose CRC-32 checked, so a transfer resumes
                             at its length

A finished segment is written to a temporary file, flushed to disk, then hard-linked
to its final name: that fails if the name exists, so nothing is ever overwritten and
a crash leaves either no file or the whole one. ``keilog import DIR`` reads the
archive folder as it is (it takes ``*.KLG``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

from keilog.sync.errors import SyncError

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def _part(part: str, what: str) -> str:
    # A device id or segment name as one path component: the client already refused
    # anything else (keilog.sync.client), this is the archive's own line of defence.
    if not _PART.match(part):
        raise SyncError(
            f"{what} {part!r} cannot name a file in the archive (letters, digits, '.', '_' "
            "and '-' only, not starting with '.'): refused, nothing was written"
        )
    return part


class Archive:
    """The archive folder at ``root`` (created if missing)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SyncError(f"{self.root}: cannot create the archive folder: {exc}") from exc

    def _inside(self, path: Path, folder: Path) -> Path:
        """path, refused unless it resolves (symbolic links followed) inside folder."""
        real = path.resolve()
        if not real.is_relative_to(folder.resolve()):
            raise SyncError(
                f"{path}: resolves to {real}, outside the archive folder {folder}: refused, "
                "nothing was written; remove the link that leads there"
            )
        return path

    def object_path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise SyncError(f"{sha256!r} is not a SHA-256: refused, nothing was written")
        return self._inside(self.root / f"{sha256}.KLG", self.root)

    def has(self, sha256: str) -> bool:
        """True when the archive holds these bytes (checked, not just the name)."""
        path = self.object_path(sha256)
        if not path.is_file():
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256

    def read(self, sha256: str) -> bytes:
        return self.object_path(sha256).read_bytes()

    # -- transfers in progress ---------------------------------------------------------
    def partial_path(self, device_id: str, name: str) -> Path:
        folder = self.root / ".partial"
        path = folder / _part(device_id, "device id") / _part(name, "segment name")
        return self._inside(path, folder)

    def partial_size(self, device_id: str, name: str) -> int:
        path = self.partial_path(device_id, name)
        return path.stat().st_size if path.is_file() else 0

    def open_partial(self, device_id: str, name: str, offset: int) -> BinaryIO:
        """The partial file opened to append at offset (cut back to it if longer)."""
        path = self.partial_path(device_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 (the caller closes)
        f.truncate(offset)
        f.seek(offset)
        return f

    def read_partial(self, device_id: str, name: str) -> bytes:
        path = self.partial_path(device_id, name)
        return path.read_bytes() if path.is_file() else b""

    def discard_partial(self, device_id: str, name: str) -> None:
        path = self.partial_path(device_id, name)
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):  # .partial/<device>/, .partial/
            if folder.is_dir() and folder != self.root and not any(folder.iterdir()):
                folder.rmdir()

    # -- finished segments --------------------------------------------------------------
    def store(self, data: bytes, sha256: str, device_id: str, name: str) -> Path:
        """Put a verified segment in the archive (a no-op if it is there already)."""
        dest = self.object_path(sha256)
        if dest.exists():
            return dest
        tmp = self.root / f".{sha256}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, dest)
        except FileExistsError:
            pass  # stored meanwhile by another sync: same name, same bytes
        except OSError:
            # no hard links here (some USB sticks): rename, still never over a file
            if not dest.exists():
                os.rename(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        dest.chmod(0o444)
        _fsync_dir(self.root)
        line = {
            "sha256": sha256,
            "device_id": device_id,
            "name": name,
            "size": len(data),
            "archived_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with open(self.root / "index.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        return dest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported (Windows): the file itself was fsynced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
