"""What the rollup does with segments damaged in place, being copied in, and a full disk.

* A segment whose data page was changed in place (bit rot) is found by its page checksums
  before DuckDB reads it, quarantined, and its good copy restored later is counted, once.
* A segment still being copied into the spool under its final name (cp, scp) is left in place
  for the next run; the same bytes older than a minute are damaged, and quarantined.
* A warehouse on a full disk says so in one line, and never blames (quarantines) a segment.

Segments are written by the real recorder, the warehouse is a real DuckDB file, the full disk
a real 2 MiB tmpfs (root only; skipped otherwise).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.spool import list_segments
from analytics.warehouse import QUARANTINE_FOLDER, UNFINISHED_SECONDS, Warehouse
from tests.disk_support import mounted_tmpfs
from tests.recording_support import sealed_page_views
from tests.segment_damage_support import damage_silently

PER_SEGMENT = 1000


def _spool(spool: Path, segments: int, *, first: int = 0) -> list[Path]:
    """`segments` segments of PER_SEGMENT page views each, every view of its own path
    (/g/<n>, numbered from `first`), sealed by the recorder; their paths in listed order."""
    return sealed_page_views(spool, segments * PER_SEGMENT, first=first, per_segment=PER_SEGMENT)


def _paths_counted(db: Path) -> Counter[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return Counter(
            dict(con.execute("SELECT path, count(*) FROM events GROUP BY path").fetchall())
        )


def _pageviews(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT coalesce(sum(pageviews), 0) FROM daily_totals").fetchone()
    assert row is not None
    return int(row[0])


def _name(spool: Path, path: Path) -> str:
    return path.relative_to(spool).as_posix()


def _age(path: Path, seconds: float) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


# -- damage in place -------------------------------------------------------------------------


def test_a_segment_with_a_flipped_data_page_is_quarantined_and_its_good_copy_counted_once(
    tmp_path: Path,
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    first, victim, last = _spool(spool, 3)
    good = victim.read_bytes()
    damage_silently(victim)  # read without checksums: other paths, no error
    _age(victim, 3600)  # long sealed: bit rot, not a copy under way

    result = Warehouse(db).run(spool).ingest
    assert result.quarantined == (_name(spool, victim),)
    assert (result.segments, result.events) == (2, 2 * PER_SEGMENT)
    assert (spool / QUARANTINE_FOLDER / _name(spool, victim)).read_bytes() != good
    # Before: ingested silently, paths of the damaged page counted twice, others never.
    counted = _paths_counted(db)
    assert set(counted.values()) == {1}
    assert set(counted) == {f"/g/{n}" for n in [*range(1000), *range(2000, 3000)]}

    # The operator restores the good copy under another name: counted (before, it was
    # refused as "the same content as ingested ones": the footer is unchanged by the damage).
    restored = victim.with_name("restored-" + victim.name)
    restored.write_bytes(good)
    again = Warehouse(db).run(spool).ingest
    assert (again.segments, again.events, again.duplicates) == (1, PER_SEGMENT, ())
    counted = _paths_counted(db)
    assert counted == Counter({f"/g/{n}": 1 for n in range(3 * PER_SEGMENT)})
    assert _pageviews(db) == 3 * PER_SEGMENT
    assert Warehouse(db).run(spool).ingest.segments == 0
    assert first.exists()
    assert last.exists()


def test_the_rollup_command_quarantines_a_flipped_segment_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    _, victim = _spool(spool, 2)
    damage_silently(victim)
    _age(victim, 3600)
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    assert "ingested 1 segment (1000 events" in out
    assert "quarantined 1 corrupt segment" in out
    assert f"quarantined corrupt segment {_name(spool, victim)}" in err
    assert "CRC" in err
    assert sum(_paths_counted(db).values()) == PER_SEGMENT


# -- a copy under way ------------------------------------------------------------------------


def _half_copied(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A spool of one sealed segment and a second one half copied in from another host,
    under its final name; returns the spool, the half copy and its whole bytes."""
    spool = tmp_path / "spool"
    _spool(spool, 1)
    (other,) = _spool(tmp_path / "otherhost", 1, first=PER_SEGMENT)
    whole = other.read_bytes()
    target = spool / other.parent.name / other.name
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(whole[: len(whole) // 2])
    return spool, target, whole


def test_a_segment_still_being_copied_in_is_left_for_the_next_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool, target, whole = _half_copied(tmp_path)
    db = tmp_path / "w.duckdb"
    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db).run(spool)
    name = _name(spool, target)
    # Before: quarantined as corrupt, and the copy then finished inside the quarantine.
    assert result.ingest.quarantined == ()
    assert result.ingest.unfinished == (name,)
    assert (result.ingest.segments, result.ingest.events) == (1, PER_SEGMENT)
    assert target.exists()
    assert not (spool / QUARANTINE_FOLDER).exists()
    assert "still being written?" in caplog.text
    assert "left 1 segment that cannot be read yet" in result.summary()

    with target.open("ab") as copy:  # the copy ends
        copy.write(whole[len(whole) // 2 :])
    later = Warehouse(db).run(spool).ingest
    assert (later.segments, later.events, later.quarantined, later.unfinished) == (
        1,
        PER_SEGMENT,
        (),
        (),
    )
    assert _paths_counted(db) == Counter({f"/g/{n}": 1 for n in range(2 * PER_SEGMENT)})


def test_the_same_half_segment_older_than_a_minute_is_quarantined(tmp_path: Path) -> None:
    spool, target, _ = _half_copied(tmp_path)
    _age(target, UNFINISHED_SECONDS + 5)
    db = tmp_path / "w.duckdb"
    result = Warehouse(db).run(spool).ingest
    name = _name(spool, target)
    assert (result.quarantined, result.unfinished) == ((name,), ())
    assert (spool / QUARANTINE_FOLDER / name).exists()
    assert result.events == PER_SEGMENT


@pytest.mark.parametrize("content", [b"garbage, not parquet at all", "whole but wrong"])
def test_a_young_file_that_is_no_copy_under_way_is_quarantined_at_once(
    tmp_path: Path, content: bytes | str
) -> None:
    # Only a Parquet head without its end yet looks like a copy under way: other bytes,
    # or a whole file whose footer is wrong, are damaged however young.
    spool = tmp_path / "spool"
    good, victim = _spool(spool, 2)
    if isinstance(content, bytes):
        victim.write_bytes(content)
    else:
        whole = victim.read_bytes()
        # PAR1 at both ends, the footer length pointing past the start: unreadable for good.
        victim.write_bytes(whole[:4] + whole[-8:-4] + b"PAR1")
    result = Warehouse(tmp_path / "w.duckdb").run(spool).ingest
    assert (result.quarantined, result.unfinished) == ((_name(spool, victim),), ())
    assert good.exists()


# -- the warehouse's disk is full --------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root); unmounted after the test."""
    with mounted_tmpfs(tmp_path / "disk", "2m") as mount_point:
        yield mount_point


def test_a_full_warehouse_disk_is_said_in_one_line_and_blames_no_segment(
    tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = tmp_path / "spool"
    segments = _spool(spool, 60)  # 60 000 events: more than 2 MiB of warehouse
    db = small_disk / "w.duckdb"
    with pytest.raises(WarehouseError) as raised:
        Warehouse(db).run(spool)
    # Before: "reading the new segments failed twice; see the log" (there is no log).
    assert str(raised.value) == (f"cannot write the warehouse {str(db)!r}: No space left on device")
    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 2
    _, err = capsys.readouterr()
    assert err == (
        f"analytics: error: cannot write the warehouse {str(db)!r}: No space left on device\n"
    )
    assert [segment.path for segment in list_segments(spool)] == segments
    assert not (spool / QUARANTINE_FOLDER).exists()

    # Room made: everything counted, once.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    result = Warehouse(db).run(spool).ingest
    assert (result.segments, result.events, result.quarantined) == (60, 60 * PER_SEGMENT, ())
    assert _pageviews(db) == 60 * PER_SEGMENT


def test_a_read_that_fails_twice_says_the_last_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bulk read that fails while every segment reads on its own (here forced: the reader
    # refuses more than one file) used to end in "failed twice; see the log", with no log.
    spool = tmp_path / "spool"
    _spool(spool, 2)
    monkeypatch.setattr(
        "analytics.warehouse._READ_SEGMENTS",
        "read_parquet($files, hive_partitioning = false) "
        "WHERE CASE WHEN len($files) > 1 THEN error('two files at once') ELSE true END",
    )
    with pytest.raises(WarehouseError) as raised:
        Warehouse(tmp_path / "w.duckdb").run(spool)
    assert str(raised.value).startswith("reading the new segments failed twice: ")
    assert "two files at once" in str(raised.value)
    assert len(list_segments(spool)) == 2  # nothing quarantined: each segment reads
