"""The CLI's scale-out paths: `rollup --spool s3://…` against a real S3-compatible server on
127.0.0.1 (moto's server mode), exactly once, and the one-line errors of `--engine spark`."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.cli import main
from analytics.event import Event, to_table
from analytics.objectstore import SegmentUploader
from analytics.spool import write_segment
from tests.objectstore_support import MOTO_MISSING, S3Server, client_with_bucket, new_bucket_name

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")

DAY = date(2026, 11, 20)


@pytest.fixture
def bucket(aws_env: None, server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    name = new_bucket_name()
    client_with_bucket(server, name)
    # The CLI finds the endpoint the standard way, as boto3 does.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    return name


def _events(n: int, day: date) -> list[Event]:
    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return [
        Event(
            start + timedelta(seconds=i),
            "example.com",
            f"/p{i % 3}",
            "GET",
            200,
            "news.ycombinator.com",
            "ycombinator.com",
            "social",
            "Hacker News",
            None,
            None,
            None,
            i % 7,
            "desktop",
            False,
            "undecided",
        )
        for i in range(n)
    ]


def _ship(tmp_path: Path, server: S3Server, url: str, counts: list[int], day: date) -> None:
    spool = tmp_path / f"local-{uuid.uuid4().hex[:6]}"
    for count in counts:
        write_segment(spool, day, to_table(_events(count, day)))
    uploader = SegmentUploader(spool, url, endpoint_url=server.url)
    assert uploader.upload_pending() == len(counts)


def _pageviews(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT day, pageviews FROM daily_totals ORDER BY day").fetchall()
    finally:
        con.close()


def test_rollup_from_object_storage_ingests_each_segment_exactly_once(
    tmp_path: Path, server: S3Server, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"s3://{bucket}/site/spool"
    db = tmp_path / "analytics.duckdb"
    _ship(tmp_path, server, url, [10, 15], DAY)

    assert main(["rollup", "--spool", url, "--db", str(db)]) == 0
    assert _pageviews(db) == [(DAY, 25)]
    assert main(["rollup", "--spool", url, "--db", str(db)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert _pageviews(db) == [(DAY, 25)]

    # A late segment for the same day and one for the next day: merged, nothing twice.
    _ship(tmp_path, server, url, [5], DAY)
    _ship(tmp_path, server, url, [4], DAY + timedelta(days=1))
    assert main(["rollup", "--spool", url, "--db", str(db)]) == 0
    assert _pageviews(db) == [(DAY, 30), (DAY + timedelta(days=1), 4)]


def test_a_missing_bucket_is_one_line_and_a_nonzero_exit(
    tmp_path: Path, server: S3Server, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["rollup", "--spool", f"s3://no-such-{bucket}/x", "--db", str(tmp_path / "a.duckdb")]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rollup", "--spool", "var/spool"], "--db"),
        (["rollup", "--spool", "var/spool", "--engine", "spark"], "--output"),
    ],
)
def test_rollup_usage_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_recorder_with_spool_url_ships_its_segments_and_the_rollup_finds_them(
    tmp_path: Path, server: S3Server, bucket: str
) -> None:
    from analytics.recorder import Recorder
    from analytics.spool import list_segments

    url = f"s3://{bucket}/recorded"
    spool = tmp_path / "spool"
    recorder = Recorder(spool, "example.com", spool_url=url, flush_interval=60)
    for event in _events(12, DAY):
        recorder.add(event)
    recorder.close()  # flushes, then ships what is sealed before it returns
    assert list_segments(spool) == [], "shipped segments are deleted locally once confirmed"

    db = tmp_path / "analytics.duckdb"
    assert main(["rollup", "--spool", url, "--db", str(db)]) == 0
    assert _pageviews(db) == [(DAY, 12)]
