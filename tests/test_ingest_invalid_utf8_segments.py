"""A segment whose text columns hold bytes that are not UTF-8 (written by a tool that does not
check, or a flipped bit in an uncompressed page) is damaged: quarantined with one line, and the
rest of the spool is ingested. Its footer is fine and pyarrow reads it without complaint, but
DuckDB refuses the bulk read; before, the rollup could not tell which segment was at fault and
every run failed with "reading the new segments failed twice", so nothing more was ingested."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.event import to_table
from analytics.spool import write_segment
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, table_rows

DAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 29, tzinfo=UTC)
ODD = f"day={DAY.isoformat()}/odd.parquet"


def _not_utf8(raw: bytes) -> pa.Array:
    # `view` keeps the bytes as they are: a cast to string would check them.
    return pa.array([raw], pa.binary()).view(pa.string())


@pytest.mark.parametrize(
    ("column", "raw"),
    [
        ("path", b"/caf\xe9"),  # Latin-1
        ("site", b"\xc3"),  # a UTF-8 sequence cut short
        ("referrer_domain", b"\xff\xfe.example"),
        ("utm_campaign", b"spring\xed\xa0\x80"),  # a lone surrogate, as UTF-8 bytes
    ],
)
@pytest.mark.parametrize("dictionary", [False, True], ids=["plain", "dictionary"])
def test_a_segment_with_text_that_is_not_utf8_is_quarantined(
    tmp_path: Path, column: str, raw: bytes, dictionary: bool
) -> None:
    spool = tmp_path / "spool"
    write_segment(spool, DAY, to_table([DIRECT_VISIT]))
    odd = to_table([DIRECT_VISIT._replace(path="/odd")])
    values = _not_utf8(raw)
    index = odd.schema.get_field_index(column)
    odd = odd.set_column(index, odd.schema.field(column), values)
    pq.write_table(odd, spool / ODD, use_dictionary=dictionary)
    db = tmp_path / "w.duckdb"

    result = Warehouse(db, clock=fixed_clock(NOW)).run(spool)

    assert result.ingest.quarantined == (ODD,)
    assert (spool / "quarantine" / ODD).is_file()
    assert {row[1:] for row in table_rows(db, "daily_pages")} == {("example.com", "/", 1, 1)}
    write_segment(spool, DAY, to_table([DIRECT_VISIT._replace(path="/later")]))
    assert Warehouse(db, clock=fixed_clock(NOW)).run(spool).ingest.events == 1
