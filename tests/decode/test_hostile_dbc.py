"""DBC, KCD and SYM files are untrusted bytes too (issue 14).

Fuzzed two ways: damaged copies of the project's DBC (as DBC, and as cantools writes it
in KCD and SYM) load or fail with DbcError, and what loads decodes; and KCDs whose
message and signal names are any text go through import with every frame decoded into
the table the naming rule gives (keilog.store.names).
"""

from __future__ import annotations

import struct
from pathlib import Path
from xml.sax.saxutils import quoteattr

import can
import cantools
import pytest
import sqlite_utils
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from keilog import paths, store
from keilog.decode import Decoder, dbc
from keilog.decode.frames import FrameBuilder
from keilog.errors import DbcError
from keilog.store.frames import temp_frames
from keilog.store.names import quote, stored_names

FRAMES = FrameBuilder(None).extend(
    can.Message(timestamp=i, arbitration_id=a, is_extended_id=a > 0x7FF, data=bytes([i % 256] * 8))
    for i, a in enumerate([*range(0, 0x800, 5), 0x18DAF110, 0x1FFFFFFF])
)


@pytest.fixture(scope="module")
def texts() -> dict[str, bytes]:
    keicar = paths.keicar_dbc()
    db = cantools.database.load_file(str(keicar), strict=False)
    return {
        ".dbc": keicar.read_bytes(),
        ".kcd": db.as_kcd_string().encode(),
        ".sym": db.as_sym_string().encode(),
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    suffix=st.sampled_from([".dbc", ".kcd", ".sym"]),
    how=st.sampled_from(["truncate", "overwrite", "insert", "random"]),
    at=st.integers(0, 1 << 16),
    junk=st.one_of(
        st.sampled_from([b"<", b'"', b"999999999999999999", b"-1", b"\x00", b"BO_ ", b"SG_ "]),
        st.binary(min_size=1, max_size=40),
    ),
)
def test_fuzz_a_damaged_database_loads_and_decodes_or_is_a_dbc_error(
    texts, tmp_path_factory, suffix, how, at, junk
) -> None:
    data = texts[suffix]
    i = at % (len(data) + 1)
    mutated = {
        "truncate": data[:i],
        "overwrite": data[:i] + junk + data[i + len(junk) :],
        "insert": data[:i] + junk + data[i:],
        "random": junk,
    }[how]
    path = tmp_path_factory.mktemp("dbc") / f"car{suffix}"
    path.write_bytes(mutated)
    try:
        loaded = dbc.load_database(path)
    except DbcError as exc:
        assert str(exc).startswith(str(path))
        return
    Decoder(loaded).decode(FRAMES.build())


_name = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and all(c >= " " or c == "\t" for c in s))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(_name, min_size=1, max_size=4, unique=True),
    signals=st.lists(
        st.one_of(_name, st.sampled_from(["frame_id", "BOOT", "mono_us", "Timestamp"])),
        min_size=1,
        max_size=4,
        unique=True,
    ),
)
def test_fuzz_any_names_are_stored_by_the_rule(tmp_path_factory, messages, signals) -> None:
    work = tmp_path_factory.mktemp("names")
    body = "".join(
        f'<Message id="0x{0x100 + m:X}" name={quoteattr(name)} length="8">'
        + "".join(
            f'<Signal name={quoteattr(s)} offset="{8 * k}" length="8"/>'
            for k, s in enumerate(signals)
        )
        + "</Message>"
        for m, name in enumerate(messages)
    )
    kcd = work / "names.kcd"
    kcd.write_text(
        '<NetworkDefinition xmlns="http://kayak.2codeornot2code.org/1.0"><Bus name="b">'
        + body
        + "</Bus></NetworkDefinition>",
        encoding="utf-8",
    )
    try:
        can_db = dbc.load_databases([kcd])
    except DbcError:
        event("cantools refused the KCD")
        return  # cantools refuses it (e.g. two signals whose names it takes as one)
    event("imported")
    log = work / "drive.log"
    log.write_text(
        "".join(
            f"({1.0 + i:.6f}) can0 {0x100 + m:03X}#{struct.pack('<Q', i).hex()}\n"
            for i in range(5)
            for m in range(len(messages))
        )
    )
    result = store.import_files(work / "k.db", [log], can_db)[0]
    assert result.decoded == 5 * len(can_db.messages)
    db = sqlite_utils.Database(work / "k.db")
    names = stored_names(can_db.messages)
    for msg in can_db.messages:
        table = names.table(msg.name)
        columns = [c.name for c in db[table].columns][5:]
        assert columns == [names.column(msg.name, s.name) for s in msg.signals]
        rows = db.execute(f"select * from {quote(table)}").fetchall()
        assert len(rows) == 5
        temp_frames(db.conn)
        for row in rows:
            frame = db.execute("select data from frames where id = ?", [row[0]]).fetchone()[0]
            assert list(row[5:]) == list(msg.decode(bytes(frame), decode_choices=False).values())


def test_a_database_that_is_not_text_is_a_dbc_error(tmp_path: Path) -> None:
    path = tmp_path / "car.arxml"
    path.write_bytes(b"<" * 100_000)
    with pytest.raises(DbcError, match=r"car\.arxml"):
        dbc.load_database(path)
