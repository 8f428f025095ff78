"""The daily salt on a filesystem without hard links (vfat, some SMB and FUSE mounts).

The salt is created by link()ing a finished temporary file to its final name, so that no
reader sees half a salt and two processes never make two. Where link() is not supported, every
salt creation failed and every visitor_id was null for good. The fallback creates the final
name with O_EXCL (still one winner) and readers wait out a creator mid-write.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import stat
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.visitors import SALT_BYTES, SaltStore

DAY = date(2026, 11, 28)


def _no_link(code: int) -> Any:
    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code))

    return link


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS])
def test_a_salt_is_made_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    monkeypatch.setattr(os, "link", _no_link(code))
    store = SaltStore(tmp_path / "salts")
    salt = store.salt(DAY)
    assert salt is not None
    assert len(salt) == SALT_BYTES
    assert store.salt(DAY) == salt  # read back, not made again
    assert stat.S_IMODE(store.path(DAY).stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "salts").iterdir()] == [store.path(DAY).name]


def _salt_in_child(folder: str) -> str:
    salt = SaltStore(folder).salt(DAY)
    assert salt is not None
    return salt.hex()


def test_racing_processes_agree_on_one_salt_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _no_link(errno.EPERM))  # inherited by forked children
    with multiprocessing.get_context("fork").Pool(6) as pool:
        salts = pool.map(_salt_in_child, [str(tmp_path / "salts")] * 24)
    assert len(set(salts)) == 1


def test_a_reader_waits_for_a_creator_mid_write(tmp_path: Path) -> None:
    store = SaltStore(tmp_path)
    path = store.path(DAY)
    path.write_bytes(b"")  # created, not yet written: what O_EXCL creation shows a reader
    salt = os.urandom(SALT_BYTES)
    writer = threading.Timer(0.05, path.write_bytes, args=(salt,))
    writer.start()
    try:
        assert store.salt(DAY) == salt
    finally:
        writer.join()


def test_a_salt_that_stays_short_is_damaged(tmp_path: Path) -> None:
    store = SaltStore(tmp_path)
    store.path(DAY).write_bytes(b"short")
    started = time.monotonic()
    with pytest.raises(OSError, match="damaged"):
        store.salt(DAY)
    assert time.monotonic() - started < 2  # waits briefly, then says so


def test_other_link_errors_are_not_taken_for_a_missing_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", _no_link(errno.EIO))
    with pytest.raises(OSError, match="Input/output"):
        SaltStore(tmp_path).salt(DAY)
    assert not SaltStore(tmp_path).path(DAY).exists()
