"""Storage: image filesystems, boot-time recovery, the synced record, the boot counter.

Segments are written by the real firmware (firmware/main.py under MicroPython), damaged
here the way a power cut damages them, and recovered by the firmware at its next boot.
"""

from __future__ import annotations

import json
import shutil

import pytest
from keilog.logformat.reader import BLOCK_SIZE, read_segment

from tests.conftest import TESTS, run_mp
from tests.firmware.fwrun import events, frame_number, frames, run, segments, write_frames


def store(*args: str) -> dict:
    return json.loads(run_mp(TESTS / "firmware" / "mp_store.py", *args).stdout)


def logged(tmp_path, n=2000, name="log", **extra):
    """A storage directory with one segment of n frames (flushed blocks of 32 frames)."""
    src = write_frames(tmp_path / f"{name}.bin", 0, n)
    cfg = {"can": {"source": str(src)}, "storage": {"path": str(tmp_path / name)}}
    cfg.update(extra)
    run(tmp_path, cfg, name)
    return tmp_path / name


# -- images ------------------------------------------------------------------------


@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_a_blank_image_is_formatted_once_and_mounted_after(tmp_path, fs):
    image = tmp_path / "sd.img"
    for boot, start in ((1, 0), (2, 500)):
        src = write_frames(tmp_path / "f.bin", start, 500)
        cfg = {
            "can": {"source": str(src)},
            "storage": {
                "image": str(image),
                "fs": fs,
                "image_bytes": 1 << 20,
                "min_free_bytes": 65536,
            },
        }
        run(tmp_path, cfg)
        segs = segments(image, fs, tmp_path / f"out{boot}")
        assert [s.header.boot for s in segs] == list(range(1, boot + 1))
        assert [frame_number(f) for f in frames(segs)] == list(range(500 * boot))
        assert all(s.damage == [] for s in segs)


@pytest.mark.parametrize("fs", ["lfs2", "fat"])
def test_a_damaged_filesystem_is_never_formatted_over(tmp_path, fs):
    image = tmp_path / "sd.img"
    image.write_bytes(b"not a filesystem, but somebody's data" * 2000)
    before = image.read_bytes()
    src = write_frames(tmp_path / "f.bin", 0, 10)
    cfg = {"can": {"source": str(src)}, "storage": {"image": str(image), "fs": fs}}
    proc = run(tmp_path, cfg, check=False)
    assert proc.returncode != 0
    assert "OSError" in proc.stdout + proc.stderr
    assert image.read_bytes() == before


# -- recovery ------------------------------------------------------------------------


def damage(seg_path, how):
    data = bytearray(seg_path.read_bytes())
    if how == "torn last block":
        data[-300:-200] = bytes(100)
        return data, 512
    if how == "partial block":
        return data + bytes(range(100)), 100
    if how == "zero blocks":
        return data + bytes(1024), 1024
    if how == "stale block":  # valid CRC, but block 3's copy where block n belongs
        return data + data[3 * BLOCK_SIZE : 4 * BLOCK_SIZE], 512
    if how == "torn then stale":
        bad = data + bytes(512) + data[:BLOCK_SIZE]
        return bad, 1024
    if how == "clean":
        return data, 0
    if how == "no header":
        data[0:4] = b"XXXX"
        return data, len(data)
    raise AssertionError(how)


CASES = [
    "torn last block",
    "partial block",
    "zero blocks",
    "stale block",
    "torn then stale",
    "clean",
    "no header",
]


@pytest.mark.parametrize("how", CASES)
def test_recovery_cuts_the_newest_segment_back_to_its_last_valid_block(tmp_path, how):
    storage = logged(tmp_path)
    [seg_path] = sorted(storage.glob("*.KLG"))
    good = seg_path.read_bytes()
    bad, cut = damage(seg_path, how)
    seg_path.write_bytes(bad)
    out = store("recover", str(storage))
    assert out["cut"] == cut
    if how == "no header":
        assert not seg_path.exists()
        return
    keep = len(bad) - cut
    assert seg_path.read_bytes() == bytes(bad[:keep])
    assert read_segment(seg_path).damage == []
    assert keep == len(good) - (512 if how == "torn last block" else 0)


def test_recovery_runs_at_boot_and_says_so(tmp_path):
    storage = logged(tmp_path)
    [seg_path] = sorted(storage.glob("*.KLG"))
    bad, cut = damage(seg_path, "torn then stale")
    seg_path.write_bytes(bad)
    src = write_frames(tmp_path / "more.bin", 2000, 100)
    run(tmp_path, {"can": {"source": str(src)}, "storage": {"path": str(storage)}}, "again")
    segs = segments(storage)
    assert [s.damage for s in segs] == [[], []]
    assert events(segs, "recovered") == [cut]
    assert [frame_number(f) for f in frames(segs)] == list(range(2100))


def test_an_interrupted_cut_is_finished(tmp_path):
    storage = logged(tmp_path)
    [seg_path] = sorted(storage.glob("*.KLG"))
    good = seg_path.read_bytes()
    tmp = seg_path.with_suffix(".TMP")
    # The copy was complete and the segment removed, the rename never happened.
    seg_path.rename(tmp)
    assert store("recover", str(storage))["files"] == [seg_path.name, "BOOT"]
    assert seg_path.read_bytes() == good
    # The copy was incomplete: it goes, the segment is cut again.
    seg_path.write_bytes(good + bytes(512))
    tmp.write_bytes(good[:1024])
    out = store("recover", str(storage))
    assert (out["cut"], out["files"]) == (512, [seg_path.name, "BOOT"])
    assert seg_path.read_bytes() == good
    # The same bytes under both names (a FAT rename cut half way: one cluster chain):
    # removing either would free the other's clusters, so both stay.
    tmp.write_bytes(good)
    out = store("recover", str(storage))
    assert out["files"] == [seg_path.name, tmp.name, "BOOT"]
    assert seg_path.read_bytes() == good


# -- boot counter --------------------------------------------------------------------


def test_the_boot_counter_never_reuses_a_segment_name(tmp_path):
    storage = logged(tmp_path)  # boot 1 wrote 00010000.KLG
    (storage / "BOOT").unlink()  # lost: a card from another logger, a bad sector
    (storage / "002A0003.KLG").write_bytes(b"")  # a segment of boot 42
    assert store("boot", str(storage))["boots"] == [43, 44]
    (storage / "BOOT").write_text("7\n")
    (storage / "BOOT.TMP").write_text("99\n")  # cut between remove and rename: newer
    assert store("boot", str(storage))["boots"] == [100, 101]


# -- synced acknowledgements ---------------------------------------------------------


def make_names(storage, names):
    storage.mkdir(parents=True, exist_ok=True)
    for n in names:
        (storage / n).write_bytes(b"")


NAMES = ["00010000.KLG", "00010001.KLG", "00020000.KLG", "00030000.KLG", "00030001.KLG"]


def test_mark_synced_is_kept_as_ranges_and_survives_a_reboot(tmp_path):
    storage = tmp_path / "s"
    make_names(storage, NAMES)
    out = store("synced", str(storage), "00030001.KLG", "00010000.KLG", "00020000.KLG")
    assert out["marked"] == [True, True]
    assert out["synced"] == ["00010000.KLG", "00020000.KLG"]
    assert out["file"] == "00010000 00010000\n00020000 00020000\n"
    out = store("synced", str(storage), "00030001.KLG", "00010001.KLG", "00030000.KLG")
    # 0001.0000 .. 0003.0000 are now one run of synced segments: one range.
    assert out["synced"] == NAMES[:4]
    assert out["file"] == "00010000 00030000\n"
    assert out["reloaded"] == NAMES[:4]


def test_the_open_segment_and_unknown_names_cannot_be_marked(tmp_path):
    storage = tmp_path / "s"
    make_names(storage, NAMES)
    out = store("synced", str(storage), "00030001.KLG", "00030001.KLG", "00090000.KLG", "BOOT")
    assert out["marked"] == [False, False, False]
    assert out["synced"] == [] and out["file"] is None


def test_space_policy_deletes_the_oldest_synced_segment_first(tmp_path):
    storage = tmp_path / "s"
    make_names(storage, NAMES)
    store("synced", str(storage), "-", "00020000.KLG", "00030000.KLG")
    out = store("delete", str(storage), "0", "00030001.KLG")
    assert out["victim"] == "00020000.KLG"  # 0001.* are older, but not synced
    # (the range may still cover the deleted name: new segments always sort after it)
    assert out["synced"] == ["00030000.KLG"] and out["file"] == "00020000 00030000\n"
    out = store("delete", str(storage), "0", "00030001.KLG")
    assert out["victim"] == "00030000.KLG" and out["file"] == ""
    assert store("delete", str(storage), "0", "00030001.KLG")["victim"] is None
    # storage.overwrite_unsynced: then the oldest of all, never the open one
    assert store("delete", str(storage), "1", "00010000.KLG")["victim"] == "00010001.KLG"


def test_dir_storage_keeps_working_after_a_copy_elsewhere(tmp_path):
    # Segments are plain files: copying the folder (what sync does) leaves them readable.
    storage = logged(tmp_path, 300)
    copy = tmp_path / "copy"
    shutil.copytree(storage, copy)
    assert [frame_number(f) for f in frames(segments(copy))] == list(range(300))
