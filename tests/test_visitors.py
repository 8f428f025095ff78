from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics.visitors import (
    SALT_BYTES,
    SaltStore,
    VisitorHasher,
    client_address,
    parse_proxies,
)

DAY = date(2026, 11, 28)
UA = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


@pytest.fixture
def hasher(tmp_path: Path) -> VisitorHasher:
    return VisitorHasher("example.com", SaltStore(tmp_path / "salts"))


def test_same_client_same_day_same_id(hasher: VisitorHasher) -> None:
    first = hasher.visitor_id(DAY, "203.0.113.7", UA)
    assert hasher.visitor_id(DAY, "203.0.113.7", UA) == first
    assert first is not None
    assert -(2**63) <= first < 2**63


@pytest.mark.parametrize(
    ("day", "address", "ua"),
    [
        (DAY, "203.0.113.8", UA),  # other address
        (DAY, "2001:db8::7", UA),  # other address family
        (DAY, "203.0.113.7", UA + b" extra"),  # other user agent
        (DAY, "203.0.113.7", b""),
        (DAY + timedelta(days=1), "203.0.113.7", UA),  # next day: new salt
    ],
)
def test_anything_else_gives_another_id(
    hasher: VisitorHasher, day: date, address: str, ua: bytes
) -> None:
    assert hasher.visitor_id(day, address, ua) != hasher.visitor_id(DAY, "203.0.113.7", UA)


def test_fields_cannot_be_shifted_into_each_other(hasher: VisitorHasher) -> None:
    # "1.2.3.4" + "5ua" must not collide with "1.2.3.45" + "ua": a separator keeps them apart
    assert hasher.visitor_id(DAY, "1.2.3.4", b"5ua") != hasher.visitor_id(DAY, "1.2.3.45", b"ua")


def test_other_site_other_id(tmp_path: Path) -> None:
    salts = SaltStore(tmp_path)
    a = VisitorHasher("example.com", salts).visitor_id(DAY, "203.0.113.7", UA)
    b = VisitorHasher("example.org", salts).visitor_id(DAY, "203.0.113.7", UA)
    assert a != b


def test_processes_sharing_the_folder_agree(tmp_path: Path) -> None:
    a = VisitorHasher("example.com", SaltStore(tmp_path))
    b = VisitorHasher("example.com", SaltStore(tmp_path))
    assert a.visitor_id(DAY, "203.0.113.7", UA) == b.visitor_id(DAY, "203.0.113.7", UA)


def test_salt_files_are_private_and_random(tmp_path: Path) -> None:
    store = SaltStore(tmp_path / "salts")
    first, second = store.salt(DAY), store.salt(DAY + timedelta(days=1))
    assert first is not None
    assert len(first) == SALT_BYTES
    assert first != second
    assert store.salt(DAY) == first  # read back, not made again
    assert stat.S_IMODE((tmp_path / "salts").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path(DAY).stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "salts").iterdir()) == [
        "2026-11-28.salt",
        "2026-11-29.salt",
    ]


def test_a_damaged_salt_is_an_error_not_a_weak_key(tmp_path: Path) -> None:
    store = SaltStore(tmp_path)
    store.path(DAY).write_bytes(b"short")
    with pytest.raises(OSError, match="damaged"):
        store.salt(DAY)


def test_salts_older_than_yesterday_are_deleted_on_the_first_event_of_a_day(
    hasher: VisitorHasher, tmp_path: Path
) -> None:
    store = SaltStore(tmp_path / "salts")
    for offset in range(4):
        hasher.visitor_id(DAY + timedelta(days=offset), "203.0.113.7", UA)
        # today's and yesterday's salts only: none is ever more than 48 h old
        assert store.days() == [
            DAY + timedelta(days=d) for d in range(max(0, offset - 1), offset + 1)
        ]
    (tmp_path / "salts" / "notes.txt").write_text("operators' file")
    assert store.delete_expired(DAY + timedelta(days=10)) == [
        DAY + timedelta(days=2),
        DAY + timedelta(days=3),
    ]
    assert store.days() == []
    assert (tmp_path / "salts" / "notes.txt").exists()


def test_a_late_event_of_yesterday_keeps_yesterdays_id(hasher: VisitorHasher) -> None:
    before = hasher.visitor_id(DAY, "203.0.113.7", UA)
    hasher.visitor_id(DAY + timedelta(days=1), "203.0.113.7", UA)
    assert hasher.visitor_id(DAY, "203.0.113.7", UA) == before


def test_forget_drops_the_key_from_memory(hasher: VisitorHasher, tmp_path: Path) -> None:
    first = hasher.visitor_id(DAY, "203.0.113.7", UA)
    hasher.forget()
    assert hasher.visitor_id(DAY, "203.0.113.7", UA) == first  # read back from the file
    SaltStore(tmp_path / "salts").delete_expired(DAY + timedelta(days=2))
    hasher.forget()
    assert hasher.visitor_id(DAY, "203.0.113.7", UA) != first  # salt gone: cannot link back


def _race(folder: str, barrier: multiprocessing.synchronize.Barrier) -> bytes | None:
    barrier.wait()
    return SaltStore(folder).salt(DAY)


def test_racing_processes_end_with_one_salt(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = 6
    with ctx.Manager() as manager:
        barrier = manager.Barrier(workers)
        with ctx.Pool(workers) as pool:
            salts = pool.starmap(_race, [(str(tmp_path), barrier)] * workers)
    assert len(set(salts)) == 1
    assert os.listdir(tmp_path) == ["2026-11-28.salt"]  # no temporary files left behind


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.7", None, (), "203.0.113.7"),
        ("203.0.113.7", b"198.51.100.1", (), "203.0.113.7"),  # no trusted proxy: ignored
        ("203.0.113.7", b"198.51.100.1", ("10.0.0.0/8",), "203.0.113.7"),  # peer not trusted
        ("10.0.0.2", b"198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),
        ("10.0.0.2", b"6.6.6.6, 198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),  # spoofed left
        ("10.0.0.2", b"198.51.100.1, 10.0.0.9", ("10.0.0.0/8",), "198.51.100.1"),
        ("10.0.0.2", b"10.0.0.8, 10.0.0.9", ("10.0.0.0/8",), "10.0.0.8"),  # all trusted
        ("::1", b"2001:db8::5", ("::1",), "2001:db8::5"),
        ("10.0.0.2", b"garbage, 198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),
        ("10.0.0.2", b"", ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", b" , ", ("10.0.0.0/8",), "10.0.0.2"),
        (None, b"198.51.100.1", ("10.0.0.0/8",), ""),
    ],
)
def test_client_address(
    peer: str | None, forwarded: bytes | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, forwarded, parse_proxies(trusted)) == expected


@pytest.mark.parametrize("bad", [("not-an-ip",), ("10.0.0.0/33",), ("",)])
def test_bad_trusted_proxies_are_refused(bad: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        parse_proxies(bad)


def test_the_id_is_the_documented_keyed_hash(tmp_path: Path) -> None:
    # Pinned construction: app servers of different releases sharing one salt folder must
    # give a visitor the same id, so the byte layout may never change by accident.
    store = SaltStore(tmp_path)
    salt = store.salt(DAY)
    assert salt is not None
    expected = hashlib.blake2b(
        b"example.com\x00203.0.113.7\x00" + UA, key=salt, digest_size=8
    ).digest()
    got = VisitorHasher("example.com", store).visitor_id(DAY, "203.0.113.7", UA)
    assert got == int.from_bytes(expected, "big", signed=True)


# --- a worker killed while it made a salt must not keep that salt alive -------------------


@pytest.mark.parametrize("linked", [True, False], ids=["after-link", "before-link"])
def test_a_salt_left_by_a_killed_worker_is_deleted_with_its_day(
    tmp_path: Path, linked: bool
) -> None:
    store = SaltStore(tmp_path / "salts")
    salt = store.salt(DAY)
    # What SIGKILL between write and link (or between link and unlink) leaves in the folder:
    # the temporary name, holding the day's salt (the same file, after link).
    debris = store.salt_dir / ".tmp-4242-0123456789abcdef"
    if linked:
        os.link(store.path(DAY), debris)
    else:
        debris.write_bytes(os.urandom(16))  # never became a salt: litter only
    an_hour_ago = time.time() - 3600
    os.utime(debris, (an_hour_ago, an_hour_ago))
    store.delete_expired(DAY + timedelta(days=2))
    assert store.days() == []
    left = [path.read_bytes() for path in store.salt_dir.iterdir()]
    assert salt not in left  # the salt outlived its day through the temporary name
    assert not debris.exists()


def test_a_fresh_temporary_salt_is_left_to_its_writer(tmp_path: Path) -> None:
    store = SaltStore(tmp_path / "salts")
    store.salt(DAY)
    writing = store.salt_dir / ".tmp-4242-fedcba9876543210"  # another worker, mid-create
    writing.write_bytes(b"x" * 16)
    store.delete_expired(DAY + timedelta(days=2))
    assert writing.exists()
