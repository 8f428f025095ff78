"""`trends` lists a referrer as rising or falling only when its change is more than chance
gives between two periods of equal length: |now - before| > 2√(now + before) pageviews
(README "Trends"). It called 10 000 -> 10 001 pageviews "rising" (+0.0 %) and 1 000 -> 1 006
"rising +0.6 %", which two periods of the same traffic give as often as not.

The warehouse is real: events through the spool writer, rolled up by `Warehouse.run`."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.render import render
from analytics.reports import ReportError, ReportQuery, beyond_noise, run_report
from analytics.warehouse import Warehouse
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

TODAY = date(2026, 11, 29)
RANGE = (date(2026, 11, 15), date(2026, 11, 21))  # previous period: 2026-11-08 … 11-14
NOW, BEFORE, LONG_AGO = date(2026, 11, 18), date(2026, 11, 10), date(2026, 10, 1)
# Pageviews per referring domain: (in the range, in the previous period, long before).
TRAFFIC = {
    "steady.example": (1006, 1000, 0),  # +6, 2√2006 = 89.6: chance
    "grows.example": (1200, 1000, 0),  # +200, 2√2200 = 93.8: rising
    "small.example": (40, 10, 0),  # +30, 2√50 = 14.1: rising
    "gone.example": (0, 400, 0),  # -400, 2√400 = 40: falling
    "faded.example": (0, 3, 0),  # -3, 2√3 = 3.5: chance
    "back.example": (3, 0, 5),  # +3 after a gap: chance, not new
    "fresh.example": (3, 0, 0),  # never seen before: new at any size
}


def _visits(domain: str, day: date, count: int, first_visitor: int) -> list[Any]:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        DIRECT_VISIT._replace(
            ts=noon + timedelta(seconds=n),
            referrer_host=domain,
            referrer_domain=domain,
            referrer_medium="referral",
            referrer_source=domain,
            visitor_id=first_visitor + n,  # one visitor a pageview: no row is a small count
        )
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("noise")
    events: list[Any] = []
    for domain, counts in TRAFFIC.items():
        for day, count in zip((NOW, BEFORE, LONG_AGO), counts, strict=True):
            events += _visits(domain, day, count, len(events))
    write_events(root / "spool", events, per_segment=1000)
    path = root / "wh.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 11, 29, 12, tzinfo=UTC))).run(root / "spool")
    return path


def trends(db: Path, **options: Any) -> Any:
    query = ReportQuery(kind="trends", start=RANGE[0], end=RANGE[1], today=TODAY, **options)
    return run_report(db, query)


def listed(report: Any) -> list[tuple[str, str, int, int]]:
    return [
        (row["trend"], row["referrer_domain"], row["pageviews"], row["pageviews_previous"])
        for row in report.rows
    ]


def test_only_changes_beyond_chance_are_rising_or_falling(db: Path) -> None:
    report = trends(db)
    assert listed(report) == [
        ("rising", "grows.example", 1200, 1000),
        ("rising", "small.example", 40, 10),
        ("falling", "gone.example", 0, 400),
        ("new", "fresh.example", 3, 0),
    ]
    # The default minimum volume is 5 (0.1 % of 2 252 pageviews is less): of the referrers
    # that reach it, steady.example alone moved within the noise.
    assert (
        "1 referrer with at least 5 pageviews in a period changed by no more than chance gives "
        "between two periods of equal length (±2√(now + before) pageviews) and is not listed."
    ) in report.notes
    assert (
        "rising/falling: at least 5 pageviews in one of the two periods and a change of more "
        "than 2√(now + before) pageviews, ranked by the change in pageviews; new: never seen "
        "before this range."
    ) in report.notes


def test_a_small_minimum_volume_lets_no_noise_in(db: Path) -> None:
    # 3 -> 0 and 0 -> 3 (after a gap) reach a minimum volume of 1 but not the gate.
    report = trends(db, min_volume=1)
    assert [row[1] for row in listed(report)] == [
        "grows.example",
        "small.example",
        "gone.example",
        "fresh.example",
    ]
    assert any(
        note.startswith("3 referrers with at least 1 pageview in a period") for note in report.notes
    )


def test_the_gate_off_lists_every_change_as_before(db: Path) -> None:
    report = trends(db, min_volume=1, noise_z=0)
    assert listed(report) == [
        ("rising", "grows.example", 1200, 1000),
        ("rising", "small.example", 40, 10),
        ("rising", "steady.example", 1006, 1000),
        ("rising", "back.example", 3, 0),
        ("falling", "gone.example", 0, 400),
        ("falling", "faded.example", 0, 3),
        ("new", "fresh.example", 3, 0),
    ]
    assert not any("chance" in note for note in report.notes)
    assert (
        "rising/falling: at least 1 pageview in one of the two periods, ranked by the change "
        "in pageviews; new: never seen before this range."
    ) in report.notes


@pytest.mark.parametrize("options", [{}, {"min_volume": 1}, {"top": 1}, {"noise_z": 1.0}])
def test_the_rows_that_pass_keep_their_order_and_numbers(db: Path, options: dict[str, Any]) -> None:
    """The gate only leaves rows out: those it keeps are the ungated report's, in its order."""
    gated = trends(db, **options)
    ungated = trends(db, **{**options, "noise_z": 0})
    z = options.get("noise_z", 2.0)
    kept = [
        row
        for row in ungated.rows
        if row["trend"] == "new" or beyond_noise(row["pageviews"], row["pageviews_previous"], z)
    ]
    if "top" in options:  # top applies to each trend after the gate: the first of each
        firsts: dict[Any, dict[str, Any]] = {}
        for row in kept:
            firsts.setdefault(row["trend"], row)
        kept = list(firsts.values())
    assert gated.rows == kept
    assert gated.sparklines == [ungated.sparklines[ungated.rows.index(row)] for row in gated.rows]


def test_the_note_is_in_the_table_and_html_and_csv_json_carry_rows_only(db: Path) -> None:
    report = trends(db)
    for fmt in ("table", "html"):
        assert "changed by no more than chance" in render(report, fmt)
    for fmt in ("csv", "json"):
        text = render(report, fmt)
        assert "steady.example" not in text
        assert "grows.example" in text


@pytest.mark.parametrize(
    ("now", "before", "beyond"),
    [
        (1006, 1000, False),
        (10001, 10000, False),
        (1200, 1000, True),
        (1000, 1200, True),
        (0, 400, True),
        (0, 3, False),
        (5, 0, True),  # 5 > 2√5 = 4.47
        (4, 0, False),  # 4 = 2√4: not more than chance
        (12, 4, False),  # 8 = 2√16
        (13, 4, True),
        (7, 7, False),
    ],
)
def test_beyond_noise(now: int, before: int, beyond: bool) -> None:
    assert beyond_noise(now, before, 2.0) is beyond
    assert beyond_noise(now, before, 0.0) is (now != before)


@pytest.mark.parametrize(
    ("noise_z", "message"),
    [
        (-1.0, "noise_z must be 0 or more"),
        (math.nan, "noise_z must be 0 or more"),
        (math.inf, "noise_z must be 0 or more"),
        ("2", "noise_z must be a number"),
        (True, "noise_z must be a number"),
        (None, "noise_z must be a number"),
    ],
)
def test_a_bad_noise_z_is_a_clear_error(db: Path, noise_z: Any, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        trends(db, noise_z=noise_z)


def test_a_whole_number_noise_z_is_taken(db: Path) -> None:
    assert listed(trends(db, noise_z=3)) == listed(trends(db, noise_z=3.0))
