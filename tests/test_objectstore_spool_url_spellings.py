"""One object-store spool, spelled several ways: the keys the uploader writes under one
spelling are the keys the rollup lists under any other spelling of the same prefix (a trailing
`/`, a doubled leading `/`). A spelling whose keys would differ — an empty segment inside the
prefix (`x//site`), or a `.` or `..` segment, which object stores take literally — is refused
at start in one line, by the uploader, by listing and staging, and by `analytics rollup`.

Before, `s3://bucket/x//site` was accepted: the app shipped to `x//site/day=…` and a rollup
given `s3://bucket/x/site` listed `x/site/` and found nothing, with no error. Against moto's S3
on 127.0.0.1 (tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from analytics.objectstore import (
    SegmentUploader,
    list_remote_segments,
    parse_spool_url,
    stage_for_warehouse,
)
from tests.cli_support import cli
from tests.objectstore_support import MOTO_MISSING, remote_objects, seal_segments

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")

# (what the app is given, what the rollup is given, the prefix both mean); "B" is the bucket.
SAME_PREFIX = [
    ("s3://B/x/site", "s3://B/x/site/", "x/site"),
    ("s3://B/x/site/", "s3://B/x/site", "x/site"),
    ("s3://B//x/site", "s3://B/x/site", "x/site"),
    ("s3://B/x/site", "s3://B//x/site//", "x/site"),
    ("s3://B/", "s3://B", ""),
    ("s3://B", "s3://B//", ""),
]

# Spellings whose keys would not be the plain prefix's.
REFUSED = ["s3://B/x//site", "s3://B/x//site/", "s3://B/x///site", "s3://B/x/./site", "s3://B/.."]


@pytest.mark.parametrize(("written", "read", "prefix"), SAME_PREFIX)
def test_segments_shipped_under_one_spelling_are_found_under_the_other(
    tmp_path: Path, client: Any, bucket: str, written: str, read: str, prefix: str
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 3)
    SegmentUploader(spool, written.replace("B", bucket, 1), client=client).upload_pending()
    assert remote_objects(client, bucket, prefix) == sealed  # the plain prefix's keys
    found = list_remote_segments(read.replace("B", bucket, 1), client=client)
    assert sorted(s.name for s in found) == sorted(sealed)


# (URL, the plain spelling the error suggests, or None: '.' and '..' are not guessed at)
REFUSED_HINTS = [
    ("s3://B/x//site", "s3://B/x/site"),
    ("s3://B/x//site/", "s3://B/x/site"),
    ("s3://B/x///site", "s3://B/x/site"),
    ("s3://B/x/./site", None),
    ("s3://B/x/../site", None),
    ("s3://B/.", None),
    ("s3://B/x/..", None),
]


@pytest.mark.parametrize(("url", "plain"), REFUSED_HINTS)
def test_a_prefix_with_an_empty_or_dot_segment_is_refused_by_name(
    url: str, plain: str | None
) -> None:
    with pytest.raises(ValueError, match="segment in its prefix") as raised:
        parse_spool_url(url)
    assert str(raised.value) == (
        f"spool_url {url!r} has an empty, '.' or '..' segment in its prefix, and object "
        "stores take keys literally; spell the prefix plainly" + (f": {plain}" if plain else "")
    )


@pytest.mark.parametrize("url", REFUSED)
def test_the_uploader_listing_and_staging_refuse_it_before_touching_the_store(
    tmp_path: Path, client: Any, bucket: str, url: str
) -> None:
    spool = tmp_path / "spool"
    sealed = seal_segments(spool, 1)
    url = url.replace("B", bucket, 1)
    with pytest.raises(ValueError, match="segment in its prefix"):
        SegmentUploader(spool, url, client=client)
    with pytest.raises(ValueError, match="segment in its prefix"):
        list_remote_segments(url, client=client)
    with pytest.raises(ValueError, match="segment in its prefix"):
        stage_for_warehouse(url, tmp_path / "w.duckdb", client=client)
    assert remote_objects(client, bucket, "") == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spool"]  # nothing staged, no db
    assert len(list(spool.rglob("*.parquet"))) == len(sealed)  # nothing shipped or deleted


def test_rollup_refuses_it_in_one_line(tmp_path: Path, client: Any, bucket: str) -> None:
    url = f"s3://{bucket}/x//site"
    done = subprocess.run(
        cli("rollup", "--spool", url, "--db", "w.duckdb"),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"analytics: error: spool_url {url!r} has an empty, '.' or '..' segment in its prefix,"
        f" and object stores take keys literally; spell the prefix plainly: s3://{bucket}/x/site\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["s3://bucket/x//site", "s3://user:secret@bucket/p"])
def test_a_recorder_refusing_its_spool_url_leaves_no_spool_folder_behind(
    tmp_path: Path, url: str
) -> None:
    from analytics import Recorder

    with pytest.raises(ValueError, match="spool_url"):
        Recorder(tmp_path / "var" / "spool", site="example.com", spool_url=url)
    assert list(tmp_path.iterdir()) == []
