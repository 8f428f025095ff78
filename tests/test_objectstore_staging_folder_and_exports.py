"""The remote spool's staging folder has one definition (`default_staging_folder`, which the
CLI's refusal of an --archive there can share with `stage_for_warehouse`), and a warehouse
export that reached the bucket is quarantined in staging once: never counted, never
downloaded again. Object storage is moto's S3 server on 127.0.0.1.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.event import to_table
from analytics.export import export_table
from analytics.objectstore import SegmentUploader, default_staging_folder, stage_for_warehouse
from analytics.spool import write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.objectstore_support import MOTO_MISSING
from tests.warehouse_support import events_for_days

pytest.importorskip("moto.server", reason=MOTO_MISSING)
pytestmark = pytest.mark.usefixtures("aws_env")

DAY = date(2026, 11, 28)
CLOCK = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_default_staging_folder_sits_beside_the_database() -> None:
    assert default_staging_folder("var/analytics.duckdb") == Path("var/analytics.duckdb.staging")
    assert default_staging_folder(Path("/srv/w.db")) == Path("/srv/w.db.staging")


def test_stage_for_warehouse_stages_into_it(
    tmp_path: Path, client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{bucket}/site"
    write_segment(tmp_path / "spool", DAY, to_table(events_for_days(random.Random(1), [DAY], 5)))
    SegmentUploader(tmp_path / "spool", url, client=client).upload_pending()
    monkeypatch.chdir(tmp_path)

    staged = stage_for_warehouse(url, "w.duckdb", client=client)

    assert staged == default_staging_folder("w.duckdb")
    assert len(list(staged.glob("day=*/*.parquet"))) == 1


def test_an_export_in_the_bucket_is_quarantined_in_staging_once(
    tmp_path: Path, client: Any, bucket: str
) -> None:
    url = f"s3://{bucket}/site"
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    write_segment(spool, DAY, to_table(events_for_days(random.Random(2), [DAY], 8)))
    SegmentUploader(spool, url, client=client).upload_pending()
    warehouse = Warehouse(db, clock=lambda: CLOCK)
    first = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
    assert (first.segments, first.events) == (1, 8)
    # Someone saves an export of the events "next to the segments", in the bucket.
    export = tmp_path / "events.parquet"
    export_table(db, "events", "parquet", export)
    name = f"day={DAY}/export.parquet"
    client.put_object(Bucket=bucket, Key=f"site/{name}", Body=export.read_bytes())
    gets: Counter[str] = Counter()
    client.meta.events.register(
        "before-parameter-build.s3.GetObject",
        lambda params, **_: gets.update([params["Key"]]),
    )

    for _ in range(3):
        again = warehouse.run(stage_for_warehouse(url, db, client=client)).ingest
        assert again.events == 0

    assert gets == Counter({f"site/{name}": 1})  # downloaded once, then known as quarantined
    quarantined = default_staging_folder(db) / QUARANTINE_FOLDER / name
    assert quarantined.read_bytes() == export.read_bytes()
