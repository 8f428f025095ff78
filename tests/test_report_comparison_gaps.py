"""A comparison is only as honest as its two periods. A site 40 days old compared over 28 days
had a previous period of 12 recorded days, and `trends` called every referrer "rising"
(+126 %) without a word; days on which the recorder was down, and a range running into today,
skewed the change the same silent way. Now `trends` and `--compare` say so: in the notes of a
table or HTML report and the dashboard, on stderr only for CSV and JSON, which have no notes
(facts about the data, not errors: a daily cron job's table must not mail them every day)."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from pathlib import Path

import pytest

from analytics.reports import ReportQuery, run_report
from analytics.timezones import local_date
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.dashboard_support import app_for, dashboards_at, get
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

TODAY = date(2026, 11, 29)
FIRST = TODAY - timedelta(days=80)  # the first day anything was recorded
# The recorder was down: no segment at all for these days.
DOWN = [TODAY - timedelta(days=40), TODAY - timedelta(days=39), TODAY - timedelta(days=38)]
# Sites younger than the outage, so that all sites together still have it: one 30 days old,
# one whose days -10 … -8 have bot requests only, one recorded every third day.
YOUNG, BOTS, SPARSE = "young.example", "bots.example", "sparse.example"
BOT_ONLY = [TODAY - timedelta(days=10), TODAY - timedelta(days=9), TODAY - timedelta(days=8)]
# A site recorded on one day only: asked on that day, it is a site whose first rollup was today.
FRESH, FRESH_DAY = "fresh.example", TODAY - timedelta(days=3)
COMPARED = [
    {"kind": "trends"},
    {"kind": "referrers", "compare": True},
    {"kind": "summary", "compare": True, "grain": "week"},
]


def _day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gaps")
    days = [FIRST + timedelta(days=i) for i in range(80) if FIRST + timedelta(days=i) not in DOWN]
    rng = random.Random(11)
    events = [
        *events_for_days(rng, days, 25, site="example.com"),
        *events_for_days(rng, [_day(-i) for i in range(1, 31)], 5, site=YOUNG),
        *events_for_days(
            rng, [_day(-i) for i in range(1, 37) if _day(-i) not in BOT_ONLY], 5, site=BOTS
        ),
        *(event._replace(is_bot=True) for event in events_for_days(rng, BOT_ONLY, 3, site=BOTS)),
        *events_for_days(rng, [_day(-i) for i in range(3, 37, 3)], 5, site=SPARSE),
        *events_for_days(rng, [FRESH_DAY], 5, site=FRESH),
    ]
    write_events(root / "spool", events)
    path = root / "wh.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 11, 29, 12, tzinfo=UTC))).run(root / "spool")
    return path


def _caveats(db: Path, options: dict[str, object], start: date, end: date) -> tuple[str, ...]:
    """The comparison's notes (`Report.caveats`): in the notes, where a table or HTML reader
    sees them, and not among the warnings, which the CLI prints on stderr for every format."""
    report = run_report(db, ReportQuery(today=TODAY, start=start, end=end, **options))  # type: ignore[arg-type]
    assert set(report.caveats) <= set(report.notes)
    assert not set(report.caveats) & set(report.warnings)
    return report.caveats


@pytest.mark.parametrize(
    ("start", "end", "missing"),
    [
        # 10 days compared with the 10 before, of which the first 5 precede the first record.
        (_day(-75), _day(-66), "5 of its 10 days hold"),
        (_day(-79), _day(-78), "1 of its 2 days holds"),
    ],
)
@pytest.mark.parametrize("options", COMPARED)
def test_a_previous_period_partly_before_the_first_recorded_day_is_named(
    db: Path, options: dict[str, object], start: date, end: date, missing: str
) -> None:
    before = start - (end - start) - timedelta(days=1)
    assert _caveats(db, options, start, end) == (
        f"The previous period {before} … {start - timedelta(days=1)} starts before {FIRST}, the "
        f"first day anything was recorded: {missing} no data, so it is not a whole period "
        "and rises against it are overstated.",
    )


@pytest.mark.parametrize("options", COMPARED)
def test_a_previous_period_wholly_before_the_first_recorded_day_is_named(
    db: Path, options: dict[str, object]
) -> None:
    assert _caveats(db, options, _day(-80), _day(-71)) == (
        f"Nothing was recorded before {FIRST}: the previous period {_day(-90)} … {_day(-81)} "
        "holds no data, so every change is measured from 0.",
    )


@pytest.mark.parametrize("options", COMPARED)
def test_days_without_any_recorded_request_are_named_in_their_period(
    db: Path, options: dict[str, object]
) -> None:
    # The default 28 days: the previous period holds the outage.
    assert _caveats(db, options, _day(-28), _day(-1)) == (
        f"Nothing at all was recorded, not even a bot's request, on 3 days ({DOWN[0]} … "
        f"{DOWN[-1]}) of the previous period: the recorder or the rollup may not have run "
        "(or the site had no requests), so its totals may be short.",
    )
    # Ten days later the outage is in the range.
    (moved,) = _caveats(db, options, _day(-45), _day(-31))
    assert f"on 3 days ({DOWN[0]} … {DOWN[-1]}) of the range:" in moved


@pytest.mark.parametrize(
    ("end", "after"),
    [
        (TODAY, ""),
        (_day(1), " and the 1 day after it has not begun"),
        (_day(2), " and the 2 days after it have not begun"),
    ],
)
@pytest.mark.parametrize("options", COMPARED)
def test_a_range_into_today_is_named(
    db: Path, options: dict[str, object], end: date, after: str
) -> None:
    assert _caveats(db, options, _day(-10), end)[-1] == (
        f"The range ends {end}, but today ({TODAY}) is not over{after}: the range's totals "
        "are short of a whole period, so falls against the previous period are overstated."
    )


@pytest.mark.parametrize(
    ("start", "end", "previous"),
    [
        (
            _day(1),
            _day(3),
            f"The previous period {_day(-2)} … {TODAY} holds today ({TODAY}), "
            "which is not over: it is not a whole period either.",
        ),
        (
            _day(2),
            _day(6),
            f"The previous period {_day(-3)} … {_day(1)} holds today ({TODAY}), "
            "which is not over, and the 1 day after it has not begun: it is not a whole "
            "period either.",
        ),
        (
            _day(3),
            _day(6),
            f"The previous period {_day(-1)} … {_day(2)} holds today ({TODAY}), "
            "which is not over, and the 2 days after it have not begun: it is not a whole "
            "period either.",
        ),
        (
            _day(3),
            _day(4),
            f"The previous period {_day(1)} … {_day(2)} lies after today too: "
            "it holds no data either.",
        ),
    ],
    ids=[
        "previous-period-ends-today",
        "previous-period-holds-today-and-a-day-after",
        "previous-period-holds-today-and-days-after",
        "both-after-today",
    ],
)
def test_a_range_wholly_after_today_is_said_to_have_not_begun(
    db: Path, start: date, end: date, previous: str
) -> None:
    assert _caveats(db, {"kind": "trends"}, start, end) == (
        f"The range {start} … {end} lies after today ({TODAY}): it has not begun, so it holds "
        "no data and its changes against the previous period say nothing yet.",
        previous,
    )


def test_a_range_wholly_before_the_first_recorded_day_says_why_it_is_empty(db: Path) -> None:
    assert _caveats(db, {"kind": "summary", "compare": True}, _day(-100), _day(-91)) == (
        f"Nothing was recorded before {FIRST}: neither the range {_day(-100)} … {_day(-91)} nor "
        f"the previous period {_day(-110)} … {_day(-101)} holds data, so there is nothing to "
        "compare.",
    )


def test_a_site_first_recorded_today_is_told_once_why_its_range_is_empty(db: Path) -> None:
    # The default range ends yesterday: `only_after_range` says why it is empty, and which
    # --to includes the data; "nothing to compare" would say the same fact again.
    query = ReportQuery(kind="trends", site=FRESH, today=FRESH_DAY)
    report = run_report(db, query)
    (warning,) = report.warnings
    assert f"--to {FRESH_DAY} includes them" in warning
    assert report.caveats == ()
    # With the end given, nothing else says why the range is empty: the caveat does.
    (caveat,) = run_report(db, replace(query, end=FRESH_DAY - timedelta(days=1))).caveats
    assert caveat.startswith(f"Nothing was recorded before {FRESH_DAY}: neither the range")


@pytest.mark.parametrize("options", COMPARED)
def test_site_is_judged_by_its_own_first_day_and_gaps(db: Path, options: dict[str, object]) -> None:
    start, end = _day(-18), _day(-1)  # whole periods for all sites together (below)
    assert _caveats(db, {**options, "site": YOUNG}, start, end) == (
        f"The previous period {_day(-36)} … {_day(-19)} starts before {_day(-30)}, the first "
        "day anything was recorded: 6 of its 18 days hold no data, so it is not a whole "
        "period and rises against it are overstated.",
    )
    # Days with bot requests only are recorded days: the recorder and the rollup ran.
    assert _caveats(db, {**options, "site": BOTS}, start, end) == ()
    # Gaps of 2 days every 3 days: 6 runs of 2, of which 5 are named and 2 days counted.
    runs = ", ".join(f"{_day(-offset)} … {_day(-offset + 1)}" for offset in (17, 14, 11, 8, 5))
    assert _caveats(db, {**options, "site": SPARSE}, start, end)[0] == (
        f"Nothing at all was recorded, not even a bot's request, on 12 days ({runs} and 2 more "
        "days) of the range: the recorder or the rollup may not have run (or the site had no "
        "requests), so its totals may be short."
    )


@pytest.fixture(scope="module", params=["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def zoned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A warehouse 14 h ahead of UTC or 11 h behind it, recorded until yesterday: at any
    hour, one of the two has another date than UTC."""
    root = tmp_path_factory.mktemp("zoned")
    utc_today = datetime.now(UTC).date()
    days = [utc_today - timedelta(days=i) for i in range(1, 15)]
    write_events(root / "spool", events_for_days(random.Random(5), days, 20, site="example.com"))
    path = root / "wh.duckdb"
    Warehouse(path, timezone=request.param).run(root / "spool")
    return path, str(request.param)


def test_a_reports_today_is_the_warehouse_zones(zoned: tuple[Path, str]) -> None:
    path, zone = zoned
    today = local_date(datetime.now(UTC), zone)
    for end, whole in ((today, False), (today - timedelta(days=1), True)):
        query = ReportQuery(kind="trends", start=end - timedelta(days=3), end=end)
        said = [
            note
            for note in run_report(path, query).caveats
            if "not begun" in note or "is not over" in note
        ]
        assert said == ([] if whole else [_not_over(end, today)])


def _not_over(end: date, today: date) -> str:
    return (
        f"The range ends {end}, but today ({today}) is not over: the range's totals are short "
        "of a whole period, so falls against the previous period are overstated."
    )


@pytest.mark.parametrize(
    "options", [*COMPARED, {"kind": "referrers"}, {"kind": "summary", "grain": "week"}]
)
def test_whole_periods_and_plain_reports_say_nothing_more(
    db: Path, options: dict[str, object]
) -> None:
    assert _caveats(db, options, _day(-18), _day(-1)) == ()  # both periods recorded in full
    if not options.get("compare") and options["kind"] != "trends":
        assert _caveats(db, options, _day(-85), _day(-36)) == ()  # no comparison, no note


@pytest.mark.parametrize("fmt", ["table", "html", "csv", "json"])
def test_the_cli_says_it_in_the_report_or_else_once_on_stderr(db: Path, fmt: str) -> None:
    argv = ["report", "trends", "--db", str(db), "--from", str(_day(-75))]
    done = subprocess.run(
        cli(*argv, "--to", str(_day(-66)), "--format", fmt),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    said = "5 of its 10 days hold no data"
    if fmt in ("table", "html"):  # a note of the report; a daily cron job mails nothing
        assert said in done.stdout
        assert done.stderr == ""
        return
    (line,) = done.stderr.splitlines()
    assert line.startswith("analytics: note: The previous period")
    assert said in line
    assert said not in done.stdout
    if fmt == "json":
        # The fourth referrer, friend.org at 18 -> 25, is within the noise (2√43 = 13.1).
        assert [row["trend"] for row in json.loads(done.stdout)] == ["rising"] * 3


DASHBOARD_PATHS = [
    ("/", {}),
    ("/referrer", {"referrer": "google.com"}),
    ("/api/timeseries", {}),
    ("/api/referrers", {}),
]


def _dashboard_notes(app: object, path: str, asked: dict[str, str]) -> str:
    """The notes of a dashboard API answer, or the text of a page (where they are notices)."""
    answer = get(app, path, asked)
    assert answer.status_code == 200, answer.text
    if path.startswith("/api/"):
        return " ".join(answer.json()["notes"])
    return unescape(answer.text)


@pytest.mark.parametrize(
    ("site", "start", "end", "said"),
    [
        ({}, _day(-75), _day(-66), "5 of its 10 days hold no data"),
        # Whole periods for all sites together: the site's own first day is what is named.
        ({"site": YOUNG}, _day(-18), _day(-1), "6 of its 18 days hold no data"),
    ],
    ids=["all-sites", "young-site"],
)
@pytest.mark.parametrize(("path", "extra"), DASHBOARD_PATHS)
def test_the_dashboards_comparison_says_so_too(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    extra: dict[str, str],
    site: dict[str, str],
    start: date,
    end: date,
    said: str,
) -> None:
    dashboards_at(monkeypatch, datetime(2026, 11, 29, 12, tzinfo=UTC))
    app = app_for(db)
    asked = {"from": str(start), "to": str(end), **extra, **site}
    # The pages compare by default, the API when asked.
    assert said in _dashboard_notes(app, path, {**asked, "compare": "1"})
    assert said not in _dashboard_notes(app, path, {**asked, "compare": "0"})


@pytest.mark.parametrize(("path", "extra"), DASHBOARD_PATHS)
def test_the_dashboard_tells_a_site_first_recorded_today_once_why_it_is_empty(
    db: Path, monkeypatch: pytest.MonkeyPatch, path: str, extra: dict[str, str]
) -> None:
    # The default range, ending yesterday: the notice that the data lies after it says why
    # the range is empty, with the range that shows it; "nothing to compare" repeated it.
    dashboards_at(monkeypatch, datetime.combine(FRESH_DAY, time(12), UTC))
    shown = _dashboard_notes(app_for(db), path, {"site": FRESH, "compare": "1", **extra})
    assert (
        f"No pageviews from {FRESH_DAY - timedelta(days=28)} to {FRESH_DAY - timedelta(days=1)}"
        in shown
    )
    assert "nothing to compare" not in shown


@pytest.mark.parametrize("path", ["/", "/referrer"])
def test_the_dashboards_notice_is_escaped_html(
    db: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    dashboards_at(monkeypatch, datetime(2026, 11, 29, 12, tzinfo=UTC))
    asked = {"from": str(_day(-28)), "to": str(_day(-1)), "referrer": "google.com"}
    answer = get(app_for(db), path, asked)
    assert answer.status_code == 200, answer.text
    # The outage note's "bot's" is where an unescaped note would show: `'` is `&#x27;`.
    assert (
        '<p class="notice" role="status">Nothing at all was recorded, not even a bot&#x27;s '
        f"request, on 3 days ({DOWN[0]} … {DOWN[-1]}) of the previous period: the recorder or "
        "the rollup may not have run (or the site had no requests), so its totals may be "
        "short.</p>"
    ) in answer.text


@pytest.mark.parametrize(
    ("zone", "now", "said", "not_said"),
    [
        # 22:00 on 11-29 in Los Angeles, but the UTC warehouse's 11-29 is over (and empty).
        (
            "America/Los_Angeles",
            datetime(2026, 11, 30, 6, tzinfo=UTC),
            f"on 1 day ({TODAY})",
            "is not over",
        ),
        # 09:00 on 11-30 in Auckland, but the UTC warehouse's 11-29 is still under way.
        (
            "Pacific/Auckland",
            datetime(2026, 11, 29, 20, tzinfo=UTC),
            _not_over(TODAY, TODAY),
            f"on 1 day ({TODAY})",
        ),
    ],
)
def test_the_dashboard_judges_today_in_the_warehouses_zone_not_its_own(
    db: Path, monkeypatch: pytest.MonkeyPatch, zone: str, now: datetime, said: str, not_said: str
) -> None:
    dashboards_at(monkeypatch, now)
    app = app_for(db, timezone=zone)  # the zone whose today ends the default range
    answer = get(app, "/api/timeseries", {"from": str(_day(-6)), "to": str(TODAY), "compare": "1"})
    assert answer.status_code == 200, answer.text
    notes = " ".join(answer.json()["notes"])
    assert said in notes
    assert not_said not in notes
