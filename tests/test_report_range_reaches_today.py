"""A report whose range reaches today says so without `--compare` too (h319's analyst audit):
today's numbers are those of the day so far, and days after today have not begun. With
`--compare` and in `trends` the comparison's note said it; a plain `pages --to <today>`
showed a short last day with no word. It is a note of the report (table, HTML) and not a
warning on stderr: nothing is missing, and a cron job that asks for today should not mail it.

The warehouse is real: events through the spool writer, rolled up by `Warehouse.run`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.render import render
from analytics.reports import ReportQuery, run_report
from tests.warehouse_support import DIRECT_VISIT, warehouse_of

TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    days = (TODAY - timedelta(days=2), TODAY)
    events = [
        DIRECT_VISIT._replace(ts=datetime(d.year, d.month, d.day, tzinfo=UTC), visitor_id=n)
        for n, d in enumerate(days)
    ]
    return warehouse_of(tmp_path_factory.mktemp("today"), events, datetime.now(UTC))


def notes(db: Path, start: date, end: date, compare: bool = False) -> tuple[str, ...]:
    query = ReportQuery(kind="pages", start=start, end=end, today=TODAY, compare=compare)
    return run_report(db, query).notes


def test_a_range_that_ends_today_says_today_is_not_over(db: Path) -> None:
    said = (
        f"The range ends {TODAY}, but today ({TODAY}) is not over: today's numbers are those "
        "of the day so far."
    )
    assert said in notes(db, TODAY - timedelta(days=6), TODAY)
    later = TODAY + timedelta(days=2)
    assert (
        f"The range ends {later}, but today ({TODAY}) is not over and the 2 days after it have "
        "not begun: today's numbers are those of the day so far."
    ) in notes(db, TODAY - timedelta(days=6), later)


def test_a_range_after_today_has_not_begun(db: Path) -> None:
    start, end = TODAY + timedelta(days=1), TODAY + timedelta(days=7)
    assert f"The range {start} … {end} lies after today ({TODAY}): it has not begun." in notes(
        db, start, end
    )


def test_a_range_that_ends_yesterday_has_no_such_note(db: Path) -> None:
    yesterday = TODAY - timedelta(days=1)
    assert not any("today" in note for note in notes(db, yesterday - timedelta(days=6), yesterday))


def test_with_compare_the_comparison_says_it_once(db: Path) -> None:
    said = notes(db, TODAY - timedelta(days=6), TODAY, compare=True)
    assert sum("is not over" in note for note in said) == 1
    assert any("falls against the previous period are overstated" in note for note in said)


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_the_cli_puts_it_in_the_report_never_on_stderr(
    db: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start = (TODAY - timedelta(days=6)).isoformat()
    argv = ["report", "pages", "--db", str(db), "--from", start, "--to", TODAY.isoformat()]
    assert main([*argv, "--format", fmt]) == 0
    done = capsys.readouterr()
    assert "is not over" not in done.err
    assert ("is not over" in done.out) is (fmt == "table")


def test_html_carries_the_note(db: Path) -> None:
    query = ReportQuery(kind="pages", start=TODAY - timedelta(days=6), end=TODAY, today=TODAY)
    assert "is not over" in render(run_report(db, query), "html")
