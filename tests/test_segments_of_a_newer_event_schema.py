"""What ingest makes of a segment's `cookiewall.schema_version`: a segment of a newer event
schema (a rolling deploy's upgraded web workers, cron not yet upgraded) is left in the spool
untouched, said once per run, and the rollup exits 4; one without the key is schema 1; one
whose value is no version number is quarantined as damaged.

Every segment is written by the real writer, then rewritten with pyarrow with its metadata
(and, for a newer schema, its columns) changed.
"""

from __future__ import annotations

import hashlib
import logging
import random
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spool import list_segments, write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.cli_support import cli, event_count
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 3, tzinfo=UTC)
PER_SEGMENT = 20


def _segment(spool: Path, seed: int, version: bytes | None, columns: str = "same") -> Path:
    """A segment of PER_SEGMENT events of DAY, written by the real writer, then rewritten
    with `cookiewall.schema_version` = `version` (absent for None) and `columns` changed:
    "same", "renamed" (`path` called `page`), "extra" (one more), "fewer" (no `consent`)."""
    events = events_for_days(random.Random(seed), [DAY], per_day=PER_SEGMENT)
    path = write_segment(spool, DAY, to_table(events))
    table = pq.read_table(path)
    if columns == "renamed":
        table = table.rename_columns(["page" if n == "path" else n for n in table.column_names])
    elif columns == "extra":
        table = table.append_column("country", pa.array(["DE"] * table.num_rows))
    elif columns == "fewer":
        table = table.drop_columns(["consent"])
    metadata = dict(table.schema.metadata or {})
    metadata.pop(SCHEMA_VERSION_KEY, None)
    if version is not None:
        metadata[SCHEMA_VERSION_KEY] = version
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _spool_with_newer(root: Path, versions: list[bytes], columns: str) -> tuple[Path, list[Path]]:
    """`root/spool`: two schema 1 segments and one segment of each of `versions`."""
    spool = root / "spool"
    _segment(spool, 1, b"1")
    _segment(spool, 2, b"1")
    newer = [_segment(spool, 10 + i, v, columns) for i, v in enumerate(versions)]
    return spool, newer


@pytest.mark.parametrize("columns", ["same", "renamed", "extra", "fewer"])
@pytest.mark.parametrize("archive", [None, "delete", "archive"])
@pytest.mark.parametrize("versions", [[b"2"], [b"2", b"2", b"3"], [b"10"], [b"123456789"]])
def test_a_newer_segment_is_left_untouched_and_named_once(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    columns: str,
    archive: str | None,
    versions: list[bytes],
) -> None:
    spool, newer = _spool_with_newer(tmp_path, versions, columns)
    before = {path: _fingerprint(path) for path in newer}
    disposal = tmp_path / "archive" if archive == "archive" else archive
    db = tmp_path / "w.duckdb"
    with caplog.at_level(logging.INFO, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW), archive=disposal).run(spool)
    assert result.ingest.segments == 2
    assert result.ingest.events == 2 * PER_SEGMENT
    assert event_count(db) == 2 * PER_SEGMENT
    assert result.ingest.quarantined == ()
    assert not (spool / QUARANTINE_FOLDER).exists()
    names = tuple(sorted(f"day={DAY.isoformat()}/{p.name}" for p in newer))
    assert result.ingest.newer_schema == names
    # Untouched: same bytes, same mtime, same place; still listed; never archived.
    assert {path: _fingerprint(path) for path in newer} == before
    listed = {seg.name for seg in list_segments(spool)}
    assert listed >= set(names)
    if archive is not None:
        assert listed == set(names)  # the ingested ones went, these stayed
    if archive == "archive":
        assert len(list((tmp_path / "archive").rglob("*.parquet"))) == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    shown = ", ".join(str(v) for v in sorted({int(v) for v in versions}))
    left = f"{len(newer)} segment" if len(newer) == 1 else f"{len(newer)} segments"
    assert warnings == [
        f"left {left} of event schema {shown} in the spool, untouched: written "
        "by a newer cookiewall than this one (schema 1); upgrade it to ingest them"
    ]
    assert result.summary().endswith(
        f"; left {left} of a newer event schema in the spool (upgrade cookiewall to ingest them)"
    )


def test_every_run_until_the_upgrade_says_so_and_ingests_nothing_twice(tmp_path: Path) -> None:
    spool, _ = _spool_with_newer(tmp_path, [b"2"], "same")
    db = tmp_path / "w.duckdb"
    warehouse = Warehouse(db, clock=fixed_clock(NOW))
    warehouse.run(spool)
    again = warehouse.run(spool)
    assert again.ingest.segments == 0
    assert len(again.ingest.newer_schema) == 1
    assert event_count(db) == 2 * PER_SEGMENT


def test_an_upgraded_rollup_ingests_what_was_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left means left as if never seen: not in the ledger, so the newer release (here: this
    # one told that it reads schema 2) ingests it as any new segment.
    spool, _ = _spool_with_newer(tmp_path, [b"2"], "same")
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", "2")
    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.segments == 1
    assert result.ingest.newer_schema == ()
    assert event_count(db) == 3 * PER_SEGMENT


@pytest.mark.parametrize(
    ("archive", "expected"),
    [((), 4), (("--delete-ingested",), 4), (("--archive", "{archive}"), 4)],
)
def test_the_rollup_exits_4_with_one_warning_line(
    tmp_path: Path, archive: tuple[str, ...], expected: int
) -> None:
    spool, newer = _spool_with_newer(tmp_path, [b"2", b"3"], "renamed")
    db = tmp_path / "w.duckdb"
    options = [a.format(archive=tmp_path / "archive") for a in archive]
    argv = cli("rollup", "--spool", str(spool), "--db", str(db), *options)
    for run in range(2):  # the second run: nothing new, still said, still 4
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == expected, proc.stderr
        assert proc.stderr.splitlines() == [
            "analytics: WARNING: left 2 segments of event schema 2, 3 in the spool, "
            "untouched: written by a newer cookiewall than this one (schema 1); upgrade it "
            "to ingest them"
        ]
        ingested = 2 if run == 0 else 0
        assert proc.stdout.startswith(f"ingested {ingested} segments")
        assert proc.stdout.rstrip().endswith(
            "; left 2 segments of a newer event schema in the spool "
            "(upgrade cookiewall to ingest them)"
        )
    assert all(path.exists() for path in newer)


def test_segments_not_disposed_of_win_over_newer_ones(tmp_path: Path) -> None:
    spool, _ = _spool_with_newer(tmp_path, [b"2"], "same")
    # A file where the day's archive folder should be (an unwritable archive itself is now
    # refused before any work): the run commits and cannot move its segments.
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / f"day={DAY.isoformat()}").write_text("a file, not a folder")
    db = tmp_path / "w.duckdb"
    argv = cli("rollup", "--spool", str(spool), "--db", str(db), "--archive", "archive")
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "could not be archived or deleted" in proc.stdout
    assert "1 segment of a newer event schema" in proc.stdout


@pytest.mark.parametrize(
    ("columns", "ingested"),
    [("same", True), ("extra", True), ("renamed", False), ("fewer", False)],
)
def test_a_segment_without_a_version_is_read_as_schema_1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, columns: str, ingested: bool
) -> None:
    # A hand-made segment, or another engine's: its columns decide, as for any schema 1
    # segment; foreign ones are quarantined with the column named.
    spool = tmp_path / "spool"
    _segment(spool, 1, b"1")
    odd = _segment(spool, 2, None, columns)
    db = tmp_path / "w.duckdb"
    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.newer_schema == ()
    assert result.ingest.events == (2 if ingested else 1) * PER_SEGMENT
    assert odd.exists() is ingested
    if not ingested:
        missing = "path" if columns == "renamed" else "consent"
        assert [r.getMessage() for r in caplog.records] == [
            f"quarantined corrupt segment day={DAY.isoformat()}/{odd.name}: "
            f"missing columns: {missing}"
        ]


@pytest.mark.parametrize("value", [b"", b"abc", b"0", b"01", b"1.5", b"-1", b" 2", b"\xff"])
def test_a_version_that_is_no_number_is_quarantined(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, value: bytes
) -> None:
    spool = tmp_path / "spool"
    _segment(spool, 1, b"1")
    odd = _segment(spool, 2, value)
    db = tmp_path / "w.duckdb"
    with caplog.at_level(logging.WARNING, logger="analytics"):
        result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    assert result.ingest.events == PER_SEGMENT
    assert result.ingest.newer_schema == ()
    assert result.ingest.quarantined == (f"day={DAY.isoformat()}/{odd.name}",)
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"quarantined corrupt segment day={DAY.isoformat()}/{odd.name}: ")
    assert "cookiewall.schema_version" in message
    assert "\n" not in message
