"""The note of a range that ends before the only pageviews there are agrees with their count:
"1 pageview is after it: … includes it", "2 pageviews are after it: … includes them", in the
CLI's warning and in the dashboard's notice and API note alike (it said "1 pageviews are")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.warehouse import Warehouse
from tests.dashboard_support import app_for, dashboards_at, get, sql
from tests.warehouse_support import fixed_clock, numbered_events, write_events

NOTICE = re.compile(r'<p class="notice" role="status">(.*?)</p>', re.S)
WORDS = {
    1: ("1 pageview is after it", "includes it"),
    2: ("2 pageviews are after it", "includes them"),
}


def _warehouse(folder: Path, day: date, pageviews: int) -> Path:
    """A warehouse whose only pageviews are `pageviews` on `day`."""
    spool = folder / "spool"
    write_events(spool, numbered_events(pageviews, day))
    db = folder / "wh.duckdb"
    Warehouse(db, clock=fixed_clock(datetime(day.year, day.month, day.day, 23, tzinfo=UTC))).run(
        spool
    )
    assert sql(db, "SELECT sum(pageviews) FROM daily_totals")[0][0] == pageviews
    return db


@pytest.mark.parametrize("pageviews", [1, 2])
def test_the_cli_warning_agrees_with_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pageviews: int
) -> None:
    today = datetime.now(UTC).date()
    db = _warehouse(tmp_path, today, pageviews)
    code = main(["report", "pages", "--db", str(db), "--format", "json"])
    if datetime.now(UTC).date() != today:  # midnight passed: the range is another one
        pytest.skip("the UTC day changed during the test")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "[]"
    are, them = WORDS[pageviews]
    assert f"the last complete day) and {are}: --to {today} {them}\n" in err


@pytest.mark.parametrize("pageviews", [1, 2])
def test_the_dashboard_notice_and_api_note_agree_with_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pageviews: int
) -> None:
    now = datetime.now(UTC)
    today = now.date()
    dashboards_at(monkeypatch, now)
    db = _warehouse(tmp_path, today, pageviews)
    app = app_for(db)
    start, end = today - timedelta(days=28), today - timedelta(days=1)
    said = f"No pageviews from {start} to {end}, which ends yesterday (the last complete day); "
    are, them = WORDS[pageviews]

    page = get(app, "/")
    assert page.status_code == 200
    notices = [unescape(re.sub(r"<[^>]+>", "", n)) for n in NOTICE.findall(page.text)]
    assert [n for n in notices if n.startswith(said)] == [
        f"{said}{are}. Show {today - timedelta(days=28)} … {today}"
    ]

    notes = get(app, "/api/pages").json()["notes"]
    assert [note for note in notes if note.startswith(said)] == [f"{said}{are}: to={today} {them}"]
