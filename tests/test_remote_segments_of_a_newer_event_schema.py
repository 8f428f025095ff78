"""`rollup --spool s3://…` and a segment of a newer event schema in the bucket: it is staged
once, left in the staging folder unread (not quarantined, not in the ledger), never deleted
or changed in the bucket, said in one warning line a run with exit 4, and ingested once the
rollup is upgraded. Object storage is moto's S3 server on 127.0.0.1.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.objectstore import stage_for_warehouse
from analytics.spool import list_segments, write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.objectstore_support import MOTO_MISSING, S3Server, remote_objects
from tests.warehouse_support import events_for_days

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")

DAY = date(2026, 10, 1)
PREFIX = "site"
WARNING = (
    "analytics: WARNING: left 1 segment of event schema 2 in the spool, untouched: written "
    "by a newer cookiewall than this one (schema 1); upgrade it to ingest them"
)
NOTE = "; left 1 segment of a newer event schema in the spool (upgrade cookiewall to ingest them)"


def _put_segment(client: Any, bucket: str, tmp_path: Path, seed: int, version: bytes) -> str:
    """Upload a real segment of 10 events whose `cookiewall.schema_version` is `version`
    (its columns this schema's, so that the "upgraded" rollup of these tests, this one with
    SCHEMA_VERSION patched, reads it); its spool name."""
    events = events_for_days(random.Random(seed), [DAY], per_day=10)
    path = write_segment(tmp_path / "web", DAY, to_table(events))
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: version}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    name = f"{path.parent.name}/{path.name}"
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{name}", Body=path.read_bytes())
    return name


@pytest.fixture
def gets(client: Any) -> Counter[str]:
    """Every key S3 was asked for (GetObject), counted: what was downloaded."""
    counted: Counter[str] = Counter()

    def count(params: dict[str, Any], **_: Any) -> None:
        counted[params["Key"].removeprefix(f"{PREFIX}/")] += 1

    client.meta.events.register("before-parameter-build.s3.GetObject", count)
    return counted


def test_it_is_staged_once_left_unread_and_ingested_after_the_upgrade(
    tmp_path: Path,
    client: Any,
    bucket: str,
    gets: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, db = f"s3://{bucket}/{PREFIX}", tmp_path / "w.duckdb"
    old = _put_segment(client, bucket, tmp_path, 1, b"1")
    newer = _put_segment(client, bucket, tmp_path, 2, b"2")
    in_bucket = remote_objects(client, bucket, PREFIX)
    gets.clear()  # reading the bucket to compare is no download
    warehouse = Warehouse(db)
    for run in range(3):
        staging = stage_for_warehouse(url, db, client=client)
        # From the second run on, staging holds just the newer one (the ingested one dropped).
        staged = {s.name for s in list_segments(staging)}
        assert staged == ({old, newer} if run == 0 else {newer})
        ingest = warehouse.run(staging).ingest
        assert (ingest.segments, ingest.quarantined, ingest.newer_schema) == (
            1 if run == 0 else 0,
            (),
            (newer,),
        )
        # Downloaded once: the staged copy (right size) is what the next runs look at.
        assert gets == Counter({old: 1, newer: 1})
        assert newer in {s.name for s in list_segments(staging)}
        assert not (staging / QUARANTINE_FOLDER).exists()

    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", "2")  # the upgraded rollup
    ingest = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
    assert (ingest.segments, ingest.events, ingest.newer_schema) == (1, 10, ())
    assert gets == Counter({old: 1, newer: 1})
    # The next run drops the ingested staged copy and downloads nothing.
    assert list_segments(stage_for_warehouse(url, db, client=client)) == []
    assert gets == Counter({old: 1, newer: 1})
    assert remote_objects(client, bucket, PREFIX) == in_bucket  # the bucket is only read


@pytest.mark.parametrize("disposal", [[], ["--delete-ingested"], ["--archive", "{archive}"]])
def test_the_cli_exits_4_and_says_it_once_a_run(
    tmp_path: Path,
    server: S3Server,
    client: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    disposal: list[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.url)
    _put_segment(client, bucket, tmp_path, 1, b"1")
    newer = _put_segment(client, bucket, tmp_path, 2, b"2")
    in_bucket = remote_objects(client, bucket, PREFIX)
    db = tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", f"s3://{bucket}/{PREFIX}", "--db", str(db)]
    argv += [a.format(archive=tmp_path / "archive") for a in disposal]
    for run in range(2):
        assert main(argv) == 4
        out, err = capsys.readouterr()
        assert err.splitlines() == [WARNING]
        assert out.startswith("ingested 1 segment " if run == 0 else "ingested 0 segments")
        assert out.rstrip("\n").endswith(NOTE)
    assert remote_objects(client, bucket, PREFIX) == in_bucket
    staged = Path(f"{db}.staging")
    assert [s.name for s in list_segments(staged)] == [newer]
    if disposal and disposal[0] == "--archive":
        assert newer not in {s.name for s in list_segments(tmp_path / "archive")}
