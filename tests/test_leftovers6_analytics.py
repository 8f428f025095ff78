"""Session 6 review leftovers in analytics: host-dependent and leap-second time zones, human
table headers in HTML, integer count ticks, a failed --archive in the exit code."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics.dashboard import dashboard
from analytics.render import render
from analytics.render.svg import line_chart, nice_count_ceiling
from analytics.reports import KINDS, ReportQuery, run_report
from analytics.warehouse import Warehouse, validate_timezone
from tests.dashboard_support import PASSWORD, TOKEN, USER, build_warehouse, client
from tests.support import ROOT, as_nobody
from tests.test_reports import FIXTURE, SITE, TODAY, build_rollup_db
from tests.warehouse_support import events_for_days, python_knows, table_rows, write_events


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- 1. time zones that are files of this host, not civil zones -------------------------------

NOT_CIVIL = [
    # (name, what the one line must say)
    ("localtime", "differs between machines"),
    ("posixrules", "differs between machines"),
    ("right/UTC", "leap seconds, so their days are not civil days; use 'UTC'"),
    ("right/Europe/Berlin", "leap seconds, so their days are not civil days; use 'Europe/Berlin'"),
    ("right/America/New_York", "use 'America/New_York'"),
    ("posix/Europe/Berlin", "copies of the plain IANA names; use 'Europe/Berlin'"),
    ("posix/UTC", "use 'UTC'"),
]


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_validate_timezone_refuses_host_files_with_the_reason(zone: str, why: str) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=f"unknown time zone {zone!r}") as caught:
        validate_timezone(zone)
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Europe/Berlin", "America/New_York", "Zulu"])
def test_plain_iana_names_still_pass(zone: str) -> None:
    assert validate_timezone(zone) == zone


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_cli_rollup_refuses_them_in_one_line_before_any_file(
    tmp_path: Path, zone: str, why: str
) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    spool = tmp_path / "spool"
    spool.mkdir()
    db = tmp_path / "analytics.duckdb"
    done = _cli("rollup", "--spool", str(spool), "--db", str(db), "--timezone", zone)
    assert done.returncode == 2
    assert done.stderr.startswith(f"analytics: error: unknown time zone {zone!r}: ")
    assert why in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not db.exists()


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_dashboard_refuses_them_as_configuration(tmp_path: Path, zone: str, why: str) -> None:
    # The dashboard's zone is configuration (no request parameter takes one): a ValueError at
    # startup, as for an unknown name; before, 'localtime' and 'right/…' served silently.
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=f"unknown time zone {zone!r}") as caught:
        dashboard(tmp_path / "analytics.duckdb", token=TOKEN, timezone=zone)
    assert why in str(caught.value)


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_warehouse_refuses_them_as_configuration(tmp_path: Path, zone: str, why: str) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        Warehouse(tmp_path / "w.duckdb", timezone=zone)
    assert not (tmp_path / "w.duckdb").exists()


# -- 3. a count axis has whole-number ticks ---------------------------------------------------


def _y_ticks(svg: str) -> list[str]:
    # The y labels sit left of the plot (x = 42); the last x label is right-aligned too.
    return re.findall(r'<text x="42" y="[\d.]+" font-size="11" text-anchor="end">([^<]*)<', svg)


@pytest.mark.parametrize(
    ("series", "ticks"),
    [
        ({}, ["0", "1", "2"]),  # an empty range: before, 0 / 0.5 / 1
        ({"pageviews": [0, 0]}, ["0", "1", "2"]),
        ({"pageviews": [1]}, ["0", "1", "2"]),
        ({"pageviews": [0, 1, 1]}, ["0", "1", "2"]),
        ({"pageviews": [2, 3]}, ["0", "2", "4"]),  # before, 0 / 2.5 / 5
        ({"pageviews": [5]}, ["0", "5", "10"]),
        ({"pageviews": [21], "visitors": [3]}, ["0", "20", "40"]),  # before, 0 / 12.5 / 25
        ({"pageviews": [48]}, ["0", "25", "50"]),
        ({"pageviews": [240]}, ["0", "125", "250"]),
        ({"pageviews": [2800]}, ["0", "2000", "4000"]),
    ],
)
def test_count_chart_axis_shows_whole_numbers(
    series: dict[str, list[int]], ticks: list[str]
) -> None:
    labels = ["2026-11-01", "2026-11-02", "2026-11-03"]
    svg = line_chart(series, labels[: max((len(v) for v in series.values()), default=0)])
    assert _y_ticks(svg) == ticks  # from the bottom up


@pytest.mark.parametrize("peak", [*range(0, 130), 999, 1001, 24_999, 25_001, 10**7 + 1])
def test_count_axis_top_is_at_or_above_the_peak_with_an_integer_half(peak: int) -> None:
    top = nice_count_ceiling(peak)
    assert top >= max(peak, 1)
    assert top % 2 == 0
    assert top <= max(4 * peak, 2)  # never a needlessly flat chart


# -- 2. human table headers in the HTML outputs, column names in the machine formats -----------


def _headers(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", page)]


@pytest.fixture(scope="module")
def rollups(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_rollup_db(tmp_path_factory.mktemp("labels") / "rollups.duckdb", FIXTURE)


REPORT_HEADERS = {
    "referrers": ["Referrer domain", "Medium", "Pageviews", "Visitors", "Pageviews per day"],
    "sources": ["Medium", "Pageviews", "Visitors"],
    "pages": ["Page", "Pageviews", "Visitors"],
    "campaigns": ["Source", "Medium", "Campaign", "Pageviews", "Visitors"],
    "summary": ["Period", "Pageviews", "Visitors", "Bot hits"],
    "trends": ["Referrer domain", "Medium", "Trend", "Change", "Change %"],
}


@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_html_report_headers_are_words_not_column_names(
    rollups: Path, kind: str, compare: bool
) -> None:
    query = ReportQuery(kind=kind, site=SITE, today=TODAY, compare=compare or kind == "trends")
    report = run_report(rollups, query)
    headers = _headers(render(report, "html"))
    assert len(headers) >= len(report.columns)
    assert not [h for h in headers if "_" in h or h != h.strip() or not h[:1].isupper()]
    assert set(REPORT_HEADERS[kind]) - {"Pageviews per day"} <= set(headers)
    if compare and kind != "trends":
        assert {"Pageviews, previous period", "Visitors change %"} <= set(headers)


@pytest.mark.parametrize("kind", KINDS)
def test_machine_formats_keep_the_column_names(rollups: Path, kind: str) -> None:
    report = run_report(rollups, ReportQuery(kind=kind, site=SITE, today=TODAY, compare=True))
    assert next(csv.reader(io.StringIO(render(report, "csv")))) == list(report.columns)
    rows = json.loads(render(report, "json"))
    assert not rows or list(rows[0]) == list(report.columns)
    header_line = render(report, "table").splitlines()[2]
    assert header_line.split() == list(report.columns)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("labels-dashboard"), per_day=20)


def _get(db: Path, path: str, params: dict[str, str]) -> Any:
    async def call() -> Any:
        async with client(dashboard(db, basic=(USER, PASSWORD))) as http:
            return await http.get(path, params=params)

    return asyncio.run(call())


APRIL = {"from": "2026-04-01", "to": "2026-04-30"}


def test_dashboard_overview_headers_are_words(warehouse: Path) -> None:
    page = _get(warehouse, "/", APRIL)
    assert page.status_code == 200
    headers = _headers(page.text)
    assert not [h for h in headers if "_" in h], headers
    for label in ("Referrer domain", "Source / medium / campaign", "Medium", "Page", "Change"):
        assert label in headers, (label, headers)
    # The API is for scripts: it keeps the column names.
    api = _get(warehouse, "/api/campaigns", APRIL).json()
    assert api["columns"][:3] == ["utm_source", "utm_medium", "utm_campaign"]


def test_dashboard_referrer_page_headers_are_words(warehouse: Path) -> None:
    referrer = _get(warehouse, "/api/referrers", APRIL).json()["rows"][0]["referrer_domain"]
    page = _get(warehouse, "/referrer", {**APRIL, "referrer": referrer})
    assert page.status_code == 200
    assert _headers(page.text)[:3] == ["Page", "Pageviews", "Visitors"]


# -- 4. an --archive that fails is a distinct exit code, after the commit ----------------------

ARCHIVE_DAYS = [date(2026, 11, 1), date(2026, 11, 2)]


def _spool(tmp_path: Path) -> Path:
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(6), ARCHIVE_DAYS, per_day=40)
    write_events(spool, events, per_segment=20)
    return spool


def _segments(spool: Path) -> list[Path]:
    return sorted(spool.glob("day=*/*.parquet"))


def _blocked_archive(base: Path, how: str) -> Path:
    archive = base / "archive"
    if how == "a file in its place":
        archive.write_text("not a folder")
    else:
        archive.mkdir()
        archive.chmod(0o555)  # for everyone: the CLI runs as user 65534 under root
    return archive


@pytest.fixture
def shared_base(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder user 65534 may write (tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="cw-archive-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        for folder in base.rglob("*"):
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("how", ["a file in its place", "a read-only folder"])
def test_rollup_with_an_archive_it_cannot_write_commits_and_exits_3(
    shared_base: Path, how: str
) -> None:
    # Root writes in a read-only folder: as root, the CLI runs as user 65534 instead.
    as_user = how == "a read-only folder" and os.geteuid() == 0
    spool = _spool(shared_base)
    for entry in spool.rglob("*"):  # that user moves the segments out of the spool
        entry.chmod(0o777 if entry.is_dir() else 0o666)
    spool.chmod(0o777)
    segments = _segments(spool)
    db = shared_base / "analytics.duckdb"
    archive = _blocked_archive(shared_base, how)
    args = ("rollup", "--spool", str(spool), "--db", str(db), "--archive", str(archive))

    def cli() -> subprocess.CompletedProcess[str]:
        if not as_user:
            return _cli(*args)
        command, env = as_nobody([sys.executable, "-m", "analytics", *args])
        return subprocess.run(
            command, cwd=shared_base, env=env, capture_output=True, text=True, timeout=60
        )

    try:
        first = cli()
        # Committed: the rollups hold both days, the summary line says what was done.
        assert first.returncode == 3, first.stderr
        assert {row[0] for row in table_rows(db, "daily_totals")} == set(ARCHIVE_DAYS)
        assert first.stdout.startswith(f"ingested {len(segments)} segments")
        assert f"{len(segments)} ingested segments could not be archived" in first.stdout
        # One warning line for the lot, not one per segment, and no traceback.
        warnings = first.stderr.splitlines()
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith(
            f"analytics: WARNING: could not move {len(segments)} ingested segments to "
            f"{str(archive)!r} (first: day="
        )
        assert _segments(spool) == segments
        # Every later run says so again (cron keeps hearing it) without counting anything twice.
        again = cli()
        assert again.returncode == 3
        assert again.stdout.startswith("ingested 0 segments")
        assert {row[0] for row in table_rows(db, "daily_totals")} == set(ARCHIVE_DAYS)
    finally:
        if archive.is_dir():
            archive.chmod(0o777)
    # Once the archive works, the segments move and the exit code is 0 again.
    if archive.is_file():
        archive.unlink()
    fixed = cli()
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stderr == ""
    assert _segments(spool) == []
    assert len(list(archive.glob("day=*/*.parquet"))) == len(segments)


def test_rollup_whose_archive_works_exits_0(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    db = tmp_path / "analytics.duckdb"
    done = _cli("rollup", "--spool", str(spool), "--db", str(db), "--archive", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert "could not" not in done.stdout + done.stderr
