"""Two names under which a segment of a newer event schema is quarantined, not left waiting
for a newer rollup, because no rollup of any version would read it under that name:

* a file name that is not UTF-8: DuckDB opens UTF-8 paths only, in this release and in the
  next; left in the spool it would wait forever, said on every run with exit 4 and "upgrade
  to ingest them", which upgrading would not do. Quarantined with "rename it", it is read (or
  left for a newer rollup) once renamed and put back.
* a name the ledger holds with other content (a segment rewritten in place, by hand or by a
  tool converting old segments to the new schema): the ledger decides by name before the
  schema is looked at, in every release, so an upgraded rollup quarantines it just the same;
  waiting would only hide it for as long as the upgrade takes.
"""

from __future__ import annotations

import os
import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics.cli import main
from analytics.event import SCHEMA_VERSION_KEY, to_table
from analytics.spool import write_segment
from analytics.warehouse import QUARANTINE_FOLDER, Warehouse
from tests.cli_support import event_count
from tests.warehouse_support import events_for_days, fixed_clock

DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 3, tzinfo=UTC)
PER_SEGMENT = 20


def _segment(folder: Path, seed: int, version: bytes) -> Path:
    """A real segment of PER_SEGMENT events of DAY written under `folder`, rewritten with
    `cookiewall.schema_version` = `version` (its columns this schema's, so that the
    "upgraded" rollup of these tests, this one with SCHEMA_VERSION patched, could read it)."""
    events = events_for_days(random.Random(seed), [DAY], per_day=PER_SEGMENT)
    path = write_segment(folder, DAY, to_table(events))
    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), SCHEMA_VERSION_KEY: version}
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="zstd")
    return path


@pytest.mark.parametrize("version", [b"2", b"9"])
def test_a_newer_segment_whose_name_is_not_utf8_is_quarantined(
    tmp_path: Path, version: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    _segment(spool, 1, b"1")
    folder = next(spool.glob("day=*"))
    odd = os.fsencode(folder) + b"/caf\xe9.parquet"
    shutil.copy(os.fsencode(_segment(tmp_path / "web", 2, version)), odd)

    assert main(["rollup", "--spool", str(spool), "--db", str(db)]) == 0  # nothing waits
    out, err = capsys.readouterr()
    assert "newer event schema" not in out + err
    assert "not UTF-8" in err
    assert not os.path.exists(odd)
    kept = os.fsencode(spool / QUARANTINE_FOLDER / folder.name) + b"/caf\xe9.parquet"
    assert os.path.exists(kept)

    # Renamed and put back by the operator: now it is a newer segment like any other.
    os.rename(kept, folder / "cafe.parquet")
    again = Warehouse(db, clock=fixed_clock(NOW)).run(spool).ingest
    assert again.newer_schema == (f"{folder.name}/cafe.parquet",)
    assert (again.segments, again.quarantined) == (0, ())


@pytest.mark.parametrize("reader", ["1", "2"], ids=["this-rollup", "upgraded-rollup"])
@pytest.mark.parametrize("archive", [None, "delete"])
def test_a_newer_segment_under_an_ingested_name_is_quarantined_by_every_rollup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str, archive: str | None
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    original = _segment(spool, 1, b"1")
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)  # ingested, left in the spool
    # Rewritten in place: the same name, schema 2, other events.
    shutil.copy(_segment(tmp_path / "web", 2, b"2"), original)
    rewritten = original.read_bytes()

    monkeypatch.setattr("analytics.footers.SCHEMA_VERSION", reader)
    result = Warehouse(db, clock=fixed_clock(NOW), archive=archive).run(spool).ingest
    name = f"{original.parent.name}/{original.name}"
    assert (result.quarantined, result.reused_names, result.newer_schema) == (
        (name,),
        (name,),
        (),
    )
    assert not original.exists()  # neither archived nor deleted as the ingested segment
    assert (spool / QUARANTINE_FOLDER / name).read_bytes() == rewritten
    assert event_count(db) == PER_SEGMENT  # its events are not counted under that name
