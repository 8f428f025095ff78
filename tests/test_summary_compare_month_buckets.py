"""`summary --grain month --compare` compares each month's row with its own days moved back
by the range's length, not with the month before (README "--compare"). The README once
said "weeks and months line up exactly"; for months that was false, and an analyst reading
the March row's `pageviews_previous` as February's would be misled.

The warehouse is real: events through the spool writer, rolled up by `Warehouse.run`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.event import Event
from analytics.reports import ReportQuery, run_report
from tests.warehouse_support import DIRECT_VISIT, warehouse_of

# One pageview (one visitor) on each day listed, as many as the day's count.
PAGEVIEWS = {
    date(2025, 12, 2): 1,  # 59 days before 2026-01-31: outside the previous period
    date(2025, 12, 10): 2,  # previous period, moved onto February
    date(2026, 1, 15): 4,  # previous period, moved onto March
    date(2026, 2, 5): 8,
    date(2026, 3, 20): 16,
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events: list[Event] = []
    for day, count in PAGEVIEWS.items():
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        events += [
            DIRECT_VISIT._replace(ts=noon + timedelta(seconds=n), visitor_id=len(events) + n)
            for n in range(count)
        ]
    return warehouse_of(tmp_path_factory.mktemp("months"), events, datetime(2026, 4, 2, tzinfo=UTC))


def summary(db: Path, start: date, end: date, grain: str) -> list[tuple[object, ...]]:
    query = ReportQuery(
        kind="summary", start=start, end=end, grain=grain, compare=True, today=date(2026, 4, 2)
    )
    return [
        (row["period"], row["pageviews"], row["pageviews_previous"])
        for row in run_report(db, query).rows
    ]


def test_months_are_compared_with_their_days_one_range_length_earlier(db: Path) -> None:
    # 2026-02-01 … 03-31 is 59 days: February's days moved back are 2025-12-04 … 12-31,
    # March's 2026-01-01 … 01-31. December 2 lies before the previous period.
    assert summary(db, date(2026, 2, 1), date(2026, 3, 31), "month") == [
        (date(2026, 2, 1), 8, 2),
        (date(2026, 3, 1), 16, 4),
    ]


def test_a_month_as_a_range_of_its_own_is_compared_with_the_days_before_it(db: Path) -> None:
    # What the README suggests for month against month: March (31 days) against 2026-01-29
    # … 02-28, which holds February's pageviews.
    assert summary(db, date(2026, 3, 1), date(2026, 3, 31), "month") == [(date(2026, 3, 1), 16, 8)]


@pytest.mark.parametrize(
    ("start", "end", "grain", "said"),
    [
        # 1 November 2026 is a Sunday: its week's bucket, 26 October, holds that day alone
        (
            date(2026, 11, 1),
            date(2026, 11, 30),
            "week",
            " Part buckets, only their days inside the range: 2026-10-26 holds 1 of its 7 days;"
            " 2026-11-30 holds 1 of its 7 days.",
        ),
        (
            date(2024, 2, 10),
            date(2024, 3, 31),
            "month",
            " Part buckets, only their days inside the range: 2024-02-01 holds 20 of its 29 days.",
        ),
        (date(2026, 11, 2), date(2026, 11, 29), "week", ""),  # whole weeks, Monday to Sunday
        (date(2026, 1, 1), date(2026, 3, 31), "month", ""),
        (date(2026, 1, 3), date(2026, 1, 9), "day", ""),
    ],
)
@pytest.mark.parametrize("kind", ["summary", "pages", "trends"])
def test_the_range_note_names_the_part_buckets(
    db: Path, kind: str, start: date, end: date, grain: str, said: str
) -> None:
    """A short first week read as a slump: the note names each bucket the range holds only
    part of, with its days, in every kind's notes (and so in table and HTML output)."""
    query = ReportQuery(kind=kind, start=start, end=end, grain=grain, today=date(2026, 12, 1))
    notes = run_report(db, query).notes
    days = (end - start).days + 1
    assert notes[0] == f"Range {start} … {end} ({days} days), grain {grain}.{said}"


@pytest.mark.parametrize(
    ("threshold", "hidden", "previous_small"), [(5, 0, 2), (10, 1, 2), (3, 0, 1)]
)
def test_small_previous_periods_are_counted_apart_from_hidden_periods(
    db: Path, threshold: int, hidden: int, previous_small: int
) -> None:
    """`--min-visitors` with `--compare`: a period whose previous days were small keeps its own
    numbers; one "(N hidden)" of both counted it as hidden (h319's analyst audit)."""
    query = ReportQuery(
        kind="summary",
        start=date(2026, 2, 1),
        end=date(2026, 3, 31),
        grain="month",
        compare=True,
        min_visitors=threshold,
        today=date(2026, 4, 2),
    )
    report = run_report(db, query)
    # February: 8 visitors, its previous days 2; March: 16, its previous days 4.
    assert [row["pageviews"] is None for row in report.rows].count(True) == hidden
    assert [row["pageviews_previous"] is None for row in report.rows].count(True) == previous_small
    assert f"Periods with fewer than {threshold} visitors are not shown ({hidden} hidden)." in (
        report.notes
    )
    whose = "period's" if previous_small == 1 else "periods'"
    assert (
        f"{previous_small} {whose} previous days had fewer than {threshold} visitors: those "
        "*_previous and change cells are empty."
    ) in report.notes
