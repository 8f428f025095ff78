"""`/api/referrer-pages` says "the rest is pruned" only when raw events were pruned.

Its pages come from raw events, so it reports the part of the range they cover. A range that
starts before the site's first event, or ends after its last one, is not covered either, but
nothing was pruned there: the warehouse never held events for those days. Telling an analyst
they were pruned sends them looking for lost data (found walking the README's dashboard
example on `make demo`'s warehouse: three weeks of traffic, nothing pruned, and the note for
the 28-day default range said "the rest is pruned")."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, get, sql
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 4, 10)
LAST = date(2026, 4, 20)


@pytest.fixture(scope="module")
def young_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse whose site went live on FIRST: 11 days of events, none of them pruned."""
    folder = tmp_path_factory.mktemp("young-site")
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    write_events(folder / "spool", events_for_days(random.Random(3), days, 40))
    db = folder / "analytics.duckdb"
    clock = fixed_clock(datetime(2026, 4, 21, 6, tzinfo=UTC))
    Warehouse(db, clock=clock, raw_retention_days=90).run(folder / "spool")
    return db


def test_the_young_site_has_its_raw_events_and_rollups_for_the_same_days(young_site: Path) -> None:
    raw = sql(young_site, "SELECT min(day), max(day) FROM events")[0]
    rolled = sql(young_site, "SELECT min(day), max(day) FROM daily_totals")[0]
    assert raw == rolled == (FIRST, LAST)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-04-01", "2026-04-20"),  # starts before the site's first event
        ("2026-04-10", "2026-04-25"),  # ends after its last event
        ("2026-03-25", "2026-04-28"),  # both
    ],
)
def test_a_range_beyond_the_sites_events_is_not_called_pruned(
    young_site: Path, start: str, end: str
) -> None:
    answer = get(
        app_for(young_site),
        "/api/referrer-pages",
        {"from": start, "to": end, "referrer": "google.com"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["covered"] == {"from": max(start, str(FIRST)), "to": min(end, str(LAST))}
    assert body["rows"], "google.com sent visitors on these days"
    assert not [note for note in body["notes"] if "pruned" in note]
    assert body["notes"][1] == (
        f"The range asked for is {start} … {end}; the warehouse holds no events for the rest of it."
    )


def test_a_range_reaching_back_past_the_raw_retention_is_called_pruned(
    tmp_path: Path,
) -> None:
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    write_events(tmp_path / "spool", events_for_days(random.Random(3), days, 40))
    db = tmp_path / "analytics.duckdb"
    clock = fixed_clock(datetime(2026, 4, 21, 6, tzinfo=UTC))
    Warehouse(db, clock=clock, raw_retention_days=5).run(tmp_path / "spool")
    kept_from = sql(db, "SELECT min(day) FROM events")[0][0]
    assert FIRST < kept_from <= LAST
    answer = get(
        app_for(db),
        "/api/referrer-pages",
        {"from": "2026-04-01", "to": str(LAST), "referrer": "google.com"},
    )
    assert answer.json()["notes"][1] == (
        f"The range asked for is 2026-04-01 … {LAST}; "
        f"raw events before {kept_from} are pruned (the raw retention)."
    )
