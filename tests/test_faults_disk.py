"""Disk errors during flush, through the real ConsentMiddleware + TrafficMiddleware + Recorder.

Promise (SPEC 4.1 `max_buffer`, 4.2, 5): whatever the disk does, requests keep answering 200;
events are kept in memory up to `max_buffer` and written once the fault clears; events beyond
it are dropped and counted; no event is written twice and no half segment is ever visible.

The faults are real where the machine allows it: a tmpfs remounted read-only, a 1 MiB tmpfs
filled to ENOSPC (root in a sandbox may be refused `mount`; then read-only falls back to
replacing the spool folder with a file, and ENOSPC to an OSError injected at the write call).
tests/test_recorder.py covers the recorder alone; these go through HTTP and the real kernel.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import spool
from analytics.recorder import Recorder
from analytics.spool import list_segments, read_segment
from tests.apps.full_stack_app import create_app
from tests.apps.spool_writer import make_event

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY_FOLDER = "day=2026-11-28"
MAX_BUFFER = 40
DURING_FAULT = 60  # requests while the disk fails: 40 kept, 20 dropped


def _run(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return os.geteuid() == 0 and _run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    )


def _umount(where: Path) -> None:
    if not _run(["umount", str(where)]):
        _run(["umount", "-l", str(where)])


@dataclass
class Fault:
    """A disk fault on `spool_dir`: `start()` breaks it, `clear()` repairs it."""

    start: Callable[[], object]
    clear: Callable[[], object]
    real: bool  # a real kernel error, not one injected in Python


def _day_folder_is_a_file(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fault]:
    spool_dir.mkdir(parents=True)
    blocker = spool_dir / DAY_FOLDER
    yield Fault(lambda: blocker.write_text("not a folder"), blocker.unlink, real=True)


def _read_only(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fault]:
    if _mount_tmpfs(spool_dir, "4m"):
        try:
            yield Fault(
                lambda: _remount(spool_dir, "ro"), lambda: _remount(spool_dir, "rw"), real=True
            )
        finally:
            _umount(spool_dir)
        return
    # No mount here: replace the folder with a file (root ignores chmod 0555).
    moved = spool_dir.with_name("spool.moved")

    def start() -> None:
        spool_dir.rename(moved)
        spool_dir.write_text("the spool folder was replaced")

    def clear() -> None:
        spool_dir.unlink()
        moved.rename(spool_dir)

    yield Fault(start, clear, real=True)


def _remount(where: Path, mode: str) -> None:
    assert _run(["mount", "-o", f"remount,{mode}", str(where)]), f"remount {mode} failed"


def _fill_until_error(path: Path) -> int | None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 65536)
            except OSError as exc:
                return exc.errno
    finally:
        os.close(fd)


def _disk_full(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fault]:
    if _mount_tmpfs(spool_dir, "1m"):
        ballast = spool_dir / "ballast"

        def fill() -> None:
            assert _fill_until_error(ballast) == errno.ENOSPC

        try:
            yield Fault(fill, ballast.unlink, real=True)
        finally:
            _umount(spool_dir)
        return
    spool_dir.mkdir(parents=True)
    real_write = pq.write_table  # the module the spool writes with (`spool.pq`)
    full = False

    def write_table(table: pa.Table, where: Any, **kwargs: Any) -> None:
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(table, where, **kwargs)

    def set_full(value: bool) -> None:
        nonlocal full
        full = value

    monkeypatch.setattr(pq, "write_table", write_table)
    yield Fault(lambda: set_full(True), lambda: set_full(False), real=False)


FAULTS = {
    "day-folder-is-a-file": _day_folder_is_a_file,
    "read-only-filesystem": _read_only,
    "disk-full-ENOSPC": _disk_full,
}


@pytest.fixture(params=sorted(FAULTS))
def fault(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fault]:
    yield from FAULTS[request.param](tmp_path / "var" / "spool", monkeypatch)


async def _get_all(app: Any, paths: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as client:
        responses = await asyncio.gather(*(client.get(p) for p in paths))
    return [r.status_code for r in responses]


def spooled_paths(spool_dir: Path) -> list[str]:
    paths: list[str] = []
    for segment in list_segments(spool_dir):
        paths.extend(read_segment(segment.path).column("path").to_pylist())
    return paths


def debris(spool_dir: Path) -> list[Path]:
    return [p for p in spool_dir.rglob(f"{spool.TEMP_PREFIX}*") if p.parent.name != "salts"]


def test_disk_fault_during_flush_keeps_events_up_to_max_buffer_and_writes_them_once(
    tmp_path: Path, fault: Fault
) -> None:
    """SPEC 4.1/4.2: a failing disk never fails a request; kept events are written once."""
    app = create_app(
        tmp_path / "var", flush_interval=3600, max_buffer=MAX_BUFFER, clock=lambda: NOW
    )
    recorder: Recorder = app.state.recorder
    # This test drives every write itself: a full buffer must not also wake the background
    # flusher, which could otherwise write (a temporary file first) right after the fault
    # clears, racing the checks below. The background path has its own test further down.
    recorder._early_flush = 10 * MAX_BUFFER
    spool_dir = recorder.spool_dir
    fault.start()
    try:
        markers = [f"/fault/{i}" for i in range(DURING_FAULT)]
        assert asyncio.run(_get_all(app, markers)) == [200] * DURING_FAULT
        assert recorder.flush() == 0
        assert recorder.flush() == 0  # retrying while broken changes nothing
        stats = recorder.stats
        assert (stats.recorded, stats.dropped, stats.buffered) == (MAX_BUFFER, 20, MAX_BUFFER)
        assert stats.errors >= 2
    finally:
        fault.clear()
    assert debris(spool_dir) == []  # the failed temporary segments were removed
    assert recorder.flush() == MAX_BUFFER
    assert recorder.flush() == 0
    assert asyncio.run(_get_all(app, ["/after/1", "/after/2"])) == [200, 200]
    recorder.close()
    written = spooled_paths(spool_dir)
    assert len(written) == len(set(written)) == MAX_BUFFER + 2  # nothing written twice
    assert set(written) - {"/after/1", "/after/2"} <= set(markers)
    assert recorder.stats.flushed == MAX_BUFFER + 2
    assert recorder.stats.dropped == DURING_FAULT - MAX_BUFFER


def test_the_background_flusher_recovers_by_itself_without_duplicates(
    tmp_path: Path, fault: Fault
) -> None:
    """SPEC 4.2: flushing runs off the request path and retries until the disk is back."""
    app = create_app(tmp_path / "var", flush_interval=0.05, max_buffer=10_000, clock=lambda: NOW)
    recorder: Recorder = app.state.recorder
    fault.start()
    try:
        markers = [f"/bg/{i}" for i in range(50)]
        assert asyncio.run(_get_all(app, markers)) == [200] * 50
        time.sleep(0.3)  # several failed background flushes
        assert recorder.stats.errors >= 2
        assert recorder.stats.buffered == 50
    finally:
        fault.clear()
    deadline = time.monotonic() + 10
    while recorder.stats.flushed < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # more flusher rounds: they must not write anything again
    recorder.close()
    written = spooled_paths(recorder.spool_dir)
    assert sorted(written) == sorted(markers)
    assert recorder.stats.dropped == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mount needs root")
def test_enospc_mid_segment_leaves_no_half_segment(tmp_path: Path) -> None:
    """SPEC 4.2: a segment that does not fit is never listed; the temporary file is removed."""
    spool_dir = tmp_path / "spool"
    if not _mount_tmpfs(spool_dir, "256k"):
        pytest.skip("mount is not permitted here")
    try:
        recorder = Recorder(spool_dir, "example.com", flush_interval=3600, clock=lambda: NOW)
        # Random hex paths: more than 256 KiB even after compression.
        app_markers = [f"/big/{i}/{secrets.token_hex(100)}" for i in range(4000)]
        for path in app_markers:
            recorder.add(make_event(path, NOW))
        assert recorder.flush() == 0
        assert list_segments(spool_dir) == []
        assert debris(spool_dir) == []
        assert recorder.stats.buffered == len(app_markers)
    finally:
        _umount(spool_dir)
    recorder.close()  # the folder under the mount point has room: written now, once
    assert sorted(spooled_paths(spool_dir)) == sorted(app_markers)
