"""`analytics compact` writes the new file in the old one's storage version, read from the
`storage_version` tag DuckDB gives the database: an empty tag under DuckDB 1.1, the releases
that wrote the format under 1.2 ('v1.0.0 - v1.1.3'), the first one and a plus from later on
('v1.0.0+'). ATTACH's STORAGE_VERSION takes one release: given 1.2's range, every
compaction, and so every prune that pruned rows, failed with `Invalid Input Error: The
version string 'v1.0.0 - v1.1.3' is not a known DuckDB version` (found by running the floor
tests with duckdb 1.2.0, `make test-floors`)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.compact import compact, storage_version_option
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, write_events


@pytest.mark.parametrize(
    ("tag", "option"),
    [
        ([], None),  # DuckDB 1.1: no tags at all, and no STORAGE_VERSION option to give
        (None, None),
        ("v1.0.0 - v1.1.3", "v1.0.0"),  # DuckDB 1.2
        ("v1.2.0 - v1.3.2", "v1.2.0"),
        ("v1.0.0+", "v1.0.0"),  # DuckDB 1.5 and later
        ("v1.5.0", "v1.5.0"),
        ("v1.0.0' ; DROP TABLE events; --", "v1.0.0"),  # never pasted into the SQL as it is
        ("unknown", "v1.0.0"),
    ],
)
def test_the_option_is_the_first_release_the_tag_names(tag: object, option: str | None) -> None:
    assert storage_version_option(tag) == option


def test_this_duckdbs_own_tag_compacts(tmp_path: Path) -> None:
    """Whatever form the installed DuckDB tags its databases with, compaction takes it."""
    write_events(tmp_path / "spool", events_for_days(random.Random(3), [date(2026, 11, 20)], 50))
    db = tmp_path / "w.duckdb"
    Warehouse(db).run(tmp_path / "spool")
    compact(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(50,)]
