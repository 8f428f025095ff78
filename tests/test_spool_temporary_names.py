"""A reader's plain `*.parquet` glob never takes a file that is still being written.

SPEC 4.2: a segment is written to a temporary name and renamed when complete, "a reader
never sees half a segment". The temporary name was `.tmp-<name>.parquet`: DuckDB's glob
matches dot-files, so `read_parquet('spool/*/*.parquet')` on a live spool failed with "No
magic bytes found" while a flush was in progress (or read a complete temporary file as a
second copy). The same held for the archive's copy-then-claim temporary and a download's
staging temporary. Temporary names now end in `.partial`; cleanup takes both forms.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import segment_moves
from analytics.event import Event, to_table
from analytics.spool import (
    STALE_TEMP_SECONDS,
    TEMP_PREFIX,
    TEMP_SUFFIX,
    list_segments,
    remove_stale_temps,
    write_segment,
)
from tests.warehouse_support import DIRECT_VISIT

DAY = date(2026, 11, 29)
ROOT = Path(__file__).resolve().parent.parent


def _event(path: str) -> Event:
    when = datetime(2026, 11, 29, 12, tzinfo=UTC)
    return DIRECT_VISIT._replace(ts=when, path=path, visitor_id=None)


def _events(n: int, path: str = "/a") -> list[Event]:
    return [_event(path)] * n


def _plain_glob_count(pattern: Path) -> int:
    """What an analyst writes: no `[!.]`, no listing of its own."""
    with duckdb.connect() as con:
        ((count,),) = con.execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchall()
    return int(count)


# A real writer process that stops halfway through writing its segment's bytes (as a slow
# disk or a SIGKILL leaves it) and waits for a line on stdin before it writes the rest.
_HALF_WRITER = """
import builtins, sys
import analytics.spool as spool
from analytics.event import to_table
from tests.test_spool_temporary_names import _event

class HalfThenWait:
    def __init__(self, path, mode):
        self._file = builtins.open(path, mode)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self._file.close()
    def write(self, data):
        half = len(data) // 2
        self._file.write(data[:half])
        self._file.flush()
        print("half", flush=True)
        sys.stdin.readline()
        self._file.write(data[half:])
    def flush(self):
        self._file.flush()
    def fileno(self):
        return self._file.fileno()

spool.open = HalfThenWait  # the module's own `open`: the writer is otherwise untouched
events = [_event(f"/w/{i}") for i in range(5000)]
print(spool.write_segment(sys.argv[1], spool.date(2026, 11, 29), to_table(events)), flush=True)
"""


@contextlib.contextmanager
def _half_writer(spool_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A writer process stopped halfway through its segment's bytes; killed if still alive."""
    with subprocess.Popen(
        [sys.executable, "-c", _HALF_WRITER, str(spool_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "half"
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _temporaries(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.rglob(f"{TEMP_PREFIX}*"))


def test_a_plain_glob_on_a_spool_mid_write_reads_only_sealed_segments(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    write_segment(spool_dir, DAY, to_table(_events(39)))
    with _half_writer(spool_dir) as proc:
        (temporary,) = _temporaries(spool_dir)
        assert temporary.stat().st_size > 0
        for _ in range(20):  # the analyst's query, again and again while the write hangs
            assert _plain_glob_count(spool_dir / "*" / "*.parquet") == 39
            assert _plain_glob_count(spool_dir / "day=*" / "*.parquet") == 39
        assert not temporary.name.endswith(".parquet")
        assert proc.stdin is not None
        proc.stdin.write("go on\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
    assert _temporaries(spool_dir) == []
    assert _plain_glob_count(spool_dir / "*" / "*.parquet") == 39 + 5000
    assert len(list_segments(spool_dir)) == 2


def test_what_a_killed_writer_leaves_is_never_read_and_is_cleaned_up(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    write_segment(spool_dir, DAY, to_table(_events(39)))
    with _half_writer(spool_dir) as proc:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (dead,) = _temporaries(spool_dir)
    assert _plain_glob_count(spool_dir / "*" / "*.parquet") == 39
    assert dead.name.endswith(TEMP_SUFFIX)
    assert [s.path.name for s in list_segments(spool_dir)] != [dead.name]

    # Next to it, an older writer's leftover (`.tmp-<name>.parquet`): an upgrade finds one.
    day = dead.parent
    older = day / f"{TEMP_PREFIX}1795867295084-host-1-000000-abcd0123.parquet"
    older.write_bytes(b"PAR1 half a segment")
    fresh_old_form = day / f"{TEMP_PREFIX}1795867295085-host-2-000000-abcd0124.parquet"
    fresh_old_form.write_bytes(b"PAR1 being written")
    fresh_new_form = day / f"{TEMP_PREFIX}1795867295086-host-3-000000-abcd0125.parquet.partial"
    fresh_new_form.write_bytes(b"PAR1 being written")
    hours_ago = time.time() - STALE_TEMP_SECONDS - 60
    for stale in (dead, older):
        os.utime(stale, (hours_ago, hours_ago))

    assert remove_stale_temps(spool_dir) == 2
    assert _temporaries(spool_dir) == sorted([fresh_old_form, fresh_new_form])


def test_an_archive_copy_not_yet_claimed_is_not_read_by_a_glob_of_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Archiving across filesystems (or where hard links are refused) copies the segment
    # under a temporary name beside its free name, then claims that name.
    spool_dir, archive = tmp_path / "spool", tmp_path / "archive"
    earlier = write_segment(spool_dir, DAY, to_table(_events(7)))
    segment_moves.move_without_replacing(earlier, archive / earlier.parent.name / earlier.name)
    moving = write_segment(spool_dir, DAY, to_table(_events(11, "/b")))
    seen: list[tuple[list[str], int]] = []
    real_link = os.link

    def link(source: Any, target: Any) -> None:
        if Path(source) == moving:
            raise OSError(18, "Invalid cross-device link")  # EXDEV: copy instead
        # The copy is complete and unclaimed: what a reader of the archive sees now.
        names = sorted(p.name for p in (archive / moving.parent.name).iterdir())
        seen.append((names, _plain_glob_count(archive / "*" / "*.parquet")))
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)  # the `os` module segment_moves links with
    moved = segment_moves.move_without_replacing(moving, archive / moving.parent.name / moving.name)
    monkeypatch.undo()

    ((names, counted),) = seen
    assert counted == 7  # the earlier segment only, not the copy on its way
    assert any(name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX) for name in names)
    assert moved.path.name == moving.name
    assert _plain_glob_count(archive / "*" / "*.parquet") == 18
    assert [p.name for p in archive.rglob(".*")] == []


def test_a_download_not_yet_renamed_is_not_read_by_a_glob_of_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    request.getfixturevalue("aws_env")
    client, bucket = request.getfixturevalue("client"), request.getfixturevalue("bucket")
    from analytics import objectstore
    from tests.objectstore_support import seal_segments

    spool_dir, staging = tmp_path / "spool", tmp_path / "staging"
    shipped = seal_segments(spool_dir, 3)
    objectstore.SegmentUploader(spool_dir, f"s3://{bucket}/p", client=client).upload_pending()
    _, *rest = sorted(shipped)
    objectstore.stage_remote_spool(f"s3://{bucket}/p", staging, set(rest), client=client)
    seen: list[tuple[str, int, int]] = []
    real_replace = os.replace

    def replace(source: Any, target: Any) -> None:
        # Downloaded and checked, not yet renamed: what a reader of the staging folder sees,
        # with the plain glob and with one that skips dot-files.
        plain = _plain_glob_count(staging / "*" / "*.parquet")
        seen.append((Path(source).name, plain, _plain_glob_count(staging / "*" / "[!.]*.parquet")))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)  # the `os` module objectstore renames with
    objectstore.stage_remote_spool(f"s3://{bucket}/p", staging, set(), client=client)
    monkeypatch.undo()

    assert len(seen) == 2
    for name, plain, sealed_only in seen:
        assert plain == sealed_only  # the complete copy under its temporary name: not read
        assert name.startswith(TEMP_PREFIX)
        assert name.endswith(TEMP_SUFFIX)
    assert sorted(s.name for s in list_segments(staging)) == sorted(shipped)
    assert [p.name for p in staging.rglob(".*")] == []
