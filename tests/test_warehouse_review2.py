"""Second review of the warehouse, reports and CLI: each test pins a bug that was found and
fixed (the comment says what happened before), on real DuckDB files and real subprocesses."""

from __future__ import annotations

import fcntl
import os
import pty
import random
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import duckdb
import pytest

from analytics.cli import main
from analytics.errors import WarehouseError
from analytics.render import render
from analytics.render.table import MAX_CELL
from analytics.reports import ReportError, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.support import ROOT, as_nobody
from tests.warehouse_support import (
    events_for_days,
    fixed_clock,
    table_rows,
    tally,
    write_events,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

FIRST = date(2026, 10, 1)
NOW = datetime(2026, 10, 30, tzinfo=UTC)
RANGE = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review2")
    days = [FIRST + timedelta(days=i) for i in range(28)]
    write_events(root / "spool", events_for_days(random.Random(21), days, per_day=40))
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(NOW)).run(root / "spool")
    return path


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "analytics", *argv]


# -- the CLI in a pipeline -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_stops_early_gets_no_traceback(db: Path, fmt: str) -> None:
    # `analytics report pages ... | head -1`: before, the closed pipe raised BrokenPipeError
    # out of the report (a traceback, exit 1) or, for a short report, out of the final
    # flush ("Exception ignored ... BrokenPipeError", exit 120).
    proc = subprocess.Popen(
        _cli("report", "pages", "--db", str(db), *RANGE, "--format", fmt),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the report is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode == 1


# -- a DuckDB file that is not a warehouse ---------------------------------------------------


def _foreign_duckdb(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE TABLE orders (id INTEGER, total DECIMAL(9, 2))")
        con.execute("INSERT INTO orders VALUES (1, 9.99)")
    finally:
        con.close()
    return path


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {row[0] for row in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()


def test_rollup_refuses_a_duckdb_file_that_is_not_a_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A mistyped --db (the app's own DuckDB file): before, rollup planted the warehouse's
    # seven tables and its events in it and said all was well (prune already refused it).
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(22), [FIRST], per_day=20))
    other = _foreign_duckdb(tmp_path / "app.duckdb")
    assert main(["rollup", "--spool", str(spool), "--db", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert "not a cookiewall warehouse" in err
    assert _tables(other) == {"orders"}
    assert len(list(spool.rglob("*.parquet"))) == 1  # nothing ingested, nothing moved
    with pytest.raises(WarehouseError, match="not a cookiewall warehouse"):
        Warehouse(other).rollup()
    assert _tables(other) == {"orders"}


def test_an_empty_duckdb_file_still_becomes_a_warehouse(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(23), [FIRST], per_day=20))
    empty = tmp_path / "new.duckdb"
    duckdb.connect(str(empty)).close()
    assert main(["rollup", "--spool", str(spool), "--db", str(empty)]) == 0
    assert {"events", "daily_totals", "warehouse_meta"} <= _tables(empty)


# -- Unicode in the terminal table -----------------------------------------------------------

WIDE_REFERRERS = ("例え.jp", "😀.ws", "müller.de", "bücher.example", "мир.рф", "مثال.مصر")


def _columns_on_screen(text: str) -> int:
    """How many terminal columns `text` takes (East Asian wide: 2, combining marks: 0)."""
    return sum(
        0
        if unicodedata.combining(char)
        else 2
        if unicodedata.east_asian_width(char) in ("W", "F")
        else 1
        for char in text
    )


def _pageviews_end(line: str) -> int:
    """The screen column where the pageviews cell ends: its header, or the row's first number
    (keys here hold no digits; numbers are right-aligned under their header)."""
    found = re.search("pageviews", line) or re.search(r"\d[\d,]*", line)
    assert found is not None
    return _columns_on_screen(line[: found.end()])


@pytest.fixture(scope="module")
def unicode_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unicode")
    rng = random.Random(24)
    events = []
    for rank, domain in enumerate(WIDE_REFERRERS):
        for event in events_for_days(rng, [FIRST], per_day=len(WIDE_REFERRERS) - rank + 1):
            events.append(
                event._replace(
                    referrer_host=domain,
                    referrer_domain=domain,
                    referrer_medium="referral",
                    referrer_source=domain,
                    is_bot=False,
                    path="/" + domain,
                )
            )
    # "bücher" written with a combining diaeresis (as some keyboards and macOS file names do).
    events = [
        e._replace(path=e.path.replace("ü", "u\u0308")) if "bücher" in e.path else e for e in events
    ]
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(NOW)).run(root / "spool")
    return path


@pytest.mark.parametrize("kind", ["referrers", "pages", "trends"])
def test_table_columns_line_up_with_wide_and_combining_characters(
    unicode_db: Path, kind: str
) -> None:
    # Before: cells were padded by len(), so a CJK or emoji domain (two columns on screen
    # per character) pushed its row's numbers out of line, and a combining mark pulled them in.
    query = ReportQuery(kind=kind, start=FIRST, end=FIRST, today=NOW.date(), compare=True)
    text = render(run_report(unicode_db, query), "table")
    header, _rule, *rows = text.split("\n\n")[1].splitlines()
    assert len(rows) == len(WIDE_REFERRERS)
    assert {_pageviews_end(row) for row in rows} == {_pageviews_end(header)}


def test_a_long_wide_cell_is_cut_to_the_same_screen_width(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    base = events_for_days(random.Random(25), [FIRST], per_day=4)
    long_paths = ["/" + "長" * 80, "/" + "a" * 80]
    write_events(
        spool,
        [e._replace(path=long_paths[i % 2], is_bot=False) for i, e in enumerate(base)],
    )
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    query = ReportQuery(kind="pages", start=FIRST, end=FIRST, today=NOW.date())
    header, _rule, *rows = render(run_report(db, query), "table").split("\n\n")[1].splitlines()
    assert len(rows) == 2
    assert {_pageviews_end(row) for row in rows} == {_pageviews_end(header)}
    assert all(_columns_on_screen(row.split("  ")[0]) <= MAX_CELL for row in rows)


# -- the default range ends yesterday where the warehouse's days begin -----------------------


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_default_range_ends_yesterday_in_the_warehouse_time_zone(
    tmp_path: Path, zone: str
) -> None:
    # UTC+14 and UTC-11: at any hour one of them is on another date than UTC. Before, the
    # default range ended yesterday in UTC, so in Pago Pago (from 11:00 UTC on) it took in
    # the local day still under way, and in Kiritimati it left out a complete day; the
    # dashboard already used the warehouse's zone.
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(26), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone=zone).run(spool)
    before = datetime.now(ZoneInfo(zone)).date() - timedelta(days=1)
    report = run_report(db, ReportQuery(kind="summary"))
    after = datetime.now(ZoneInfo(zone)).date() - timedelta(days=1)
    assert report.end in {before, after}
    assert report.end - report.start == timedelta(days=27)


def test_an_explicit_today_still_wins(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(27), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    Warehouse(db, timezone="Pacific/Kiritimati").run(spool)
    report = run_report(db, ReportQuery(kind="summary", today=date(2026, 10, 29)))
    assert (report.start, report.end) == (FIRST, date(2026, 10, 28))


# -- standard output in a locale that is not UTF-8 -------------------------------------------


def _report_under(encoding: str, db: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    # PYTHONIOENCODING stands in for a Latin-1 locale or a Windows console (cp1252).
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        _cli("report", "referrers", "--db", str(db), "--from", "2026-10-01", "--to", "2026-10-01")
        + list(argv),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "ascii"])
@pytest.mark.parametrize("fmt", ["csv", "json", "html"])
def test_a_report_on_stdout_is_the_same_utf8_as_its_output_file(
    unicode_db: Path, tmp_path: Path, fmt: str, encoding: str
) -> None:
    # Before: `report --format html > r.html` failed with "'latin-1' codec can't encode ..."
    # as soon as a domain was not Latin-1 (the table even on its "…"), and where it did not
    # fail, the bytes contradicted the page's own <meta charset="utf-8">.
    written = tmp_path / f"r.{fmt}"
    to_file = _report_under(encoding, unicode_db, "--format", fmt, "--output", str(written))
    assert to_file.returncode == 0, to_file.stderr
    piped = _report_under(encoding, unicode_db, "--format", fmt)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == written.read_bytes()
    assert "例え.jp" in piped.stdout.decode("utf-8")


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_a_table_on_a_narrow_terminal_escapes_what_it_cannot_show(
    unicode_db: Path, encoding: str
) -> None:
    result = _report_under(encoding, unicode_db)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode(encoding)
    assert "\\u4f8b\\u3048.jp" in text  # 例え.jp, escaped rather than a crash
    assert text.startswith("Referrers")


# -- the HTML report on a narrow screen ------------------------------------------------------


@pytest.mark.browser
def test_a_wide_html_table_scrolls_in_its_box_not_the_whole_page(
    db: Path, tmp_path: Path, browser: Browser
) -> None:
    # Before: the `.scroll` style existed but nothing used it, so on a phone the 11 columns
    # of a --compare table made the whole page (title, chart, notes) scroll sideways
    # (WCAG 1.4.10, reflow at 320 CSS pixels).
    page_file = tmp_path / "r.html"
    argv = ["report", "referrers", "--db", str(db), *RANGE, "--compare", "--format", "html"]
    assert main([*argv, "--output", str(page_file)]) == 0
    context = browser.new_context(java_script_enabled=False, viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 320
        table_box = page.locator("table").evaluate(
            "t => [t.parentElement.clientWidth, t.parentElement.scrollWidth]"
        )
        assert table_box[0] <= 320 < table_box[1]  # the table is wider and scrolls in its box
    finally:
        context.close()


def test_the_html_report_shows_long_paths_whole(tmp_path: Path) -> None:
    # Before: HTML cells went through the terminal table's 60-column cut, so two long paths
    # that differ only at the end both read "/docs/guides/…" and could not be told apart.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + "german", prefix + "french"]
    base = events_for_days(random.Random(28), [FIRST], per_day=6)
    spool = tmp_path / "spool"
    write_events(spool, [e._replace(path=paths[i % 2], is_bot=False) for i, e in enumerate(base)])
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    query = ReportQuery(kind="pages", start=FIRST, end=FIRST, today=NOW.date())
    page = render(run_report(db, query), "html")
    for path in paths:
        assert f'<td class="key">{path}</td>' in page


# -- retention longer than the calendar ------------------------------------------------------


@pytest.mark.parametrize("raw_days", ["1000000", "99999999"])
def test_a_retention_that_reaches_before_year_1_keeps_everything(
    tmp_path: Path, raw_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # "Keep raw events for good": before, any --raw-days past today's distance from year 1
    # died with an OverflowError traceback (exit 1) in rollup and in prune.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(29), [FIRST], per_day=20)
    write_events(spool, events)
    db = tmp_path / "w.duckdb"
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--raw-days", raw_days]) == 0
    assert main(["prune", "--db", str(db), "--raw-days", raw_days]) == 0
    out = capsys.readouterr().out
    assert "pruned 0 raw events" in out
    assert len(table_rows(db, "events")) == len(events)
    assert Warehouse(db, raw_retention_days=int(raw_days)).prune() == 0


def test_a_report_on_a_duckdb_file_that_is_not_a_warehouse_says_so(tmp_path: Path) -> None:
    # Before: "the database has no rollup tables yet; run `analytics rollup` first", advice
    # that planted the warehouse in the app's own file (rollup now refuses it).
    other = _foreign_duckdb(tmp_path / "app.duckdb")
    with pytest.raises(ReportError, match="not a cookiewall warehouse") as caught:
        run_report(other, ReportQuery(kind="referrers", today=NOW.date()))
    assert "analytics rollup" not in str(caught.value)
    assert _tables(other) == {"orders"}


# -- a segment the rollup's user may not read ------------------------------------------------


def test_a_run_that_only_met_unreadable_segments_does_not_say_nothing_to_do() -> None:
    # The web server's user wrote the segment 0600, cron runs as another user. Before: the
    # warning said "left in place" and stdout said "nothing to do: no new segments".
    folder = Path(tempfile.mkdtemp(prefix="cw-review2-"))
    try:
        folder.chmod(0o777)
        spool = folder / "spool"
        write_events(spool, events_for_days(random.Random(30), [FIRST], per_day=10))
        for path in spool.rglob("*"):
            path.chmod(0o777 if path.is_dir() else 0o600)
        argv = _cli("rollup", "--spool", str(spool), "--db", str(folder / "w.duckdb"))
        command, env = as_nobody(argv)  # file permissions apply to it (root reads all)
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "left in place" in result.stderr
        assert "nothing to do" not in result.stdout
        assert "1 unreadable segments left in place" in result.stdout
    finally:
        shutil.rmtree(folder)


# -- the progress bar covers the long part ---------------------------------------------------


def _stderr_on_a_terminal(argv: list[str]) -> tuple[int, str, bytes]:
    """Run `argv` with stderr on a pseudo-terminal (120 columns); return code, stdout and
    everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    received = b""
    try:
        while True:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal's other end is closed: all is read
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        with proc.stdout:
            out = proc.stdout.read().decode()
        return proc.wait(timeout=60), out, received
    finally:
        os.close(master)


def test_on_a_terminal_the_progress_bar_counts_the_events_being_ingested(tmp_path: Path) -> None:
    # Before: the only bar was "checking segments", over the Parquet footers (a blink), and
    # it was gone before the long part, reading the rows, began: a big backlog sat silent.
    spool = tmp_path / "spool"
    events = events_for_days(random.Random(31), [FIRST, FIRST + timedelta(days=1)], per_day=3000)
    write_events(spool, events, per_segment=100)
    db = tmp_path / "w.duckdb"
    code, out, terminal = _stderr_on_a_terminal(
        _cli("rollup", "--spool", str(spool), "--db", str(db))
    )
    assert code == 0
    assert out.startswith("ingested 60 segments (6000 events")
    assert b"ingesting" in terminal
    assert b"/6000 " in terminal  # counted in events, against the footers' total
    assert table_rows(db, "daily_totals") == tally(events)["daily_totals"]


def test_without_a_terminal_there_is_no_bar(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(32), [FIRST], per_day=500), per_segment=50)
    argv = _cli("rollup", "--spool", str(spool), "--db", str(tmp_path / "w.duckdb"))
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_the_batched_read_on_a_terminal_counts_exactly_what_the_single_read_does(
    tmp_path: Path, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that these 2000 events are read in many statements.
    monkeypatch.setattr("analytics.warehouse.PROGRESS_MIN_ROWS", 50)
    rng = random.Random(33)
    days = [FIRST + timedelta(days=i) for i in range(5)]
    events = events_for_days(rng, days, per_day=400)
    per_segment = rng.randrange(7, 60)
    totals = {}
    for progress in (False, True):
        spool = tmp_path / f"spool-{progress}"
        write_events(spool, events, per_segment=per_segment)
        victim = sorted(spool.rglob("*.parquet"))[3]
        data = bytearray(victim.read_bytes())  # damaged pages behind a good footer
        for i in range(200, 900):
            data[i] = (data[i] * 7 + 13) % 256
        victim.write_bytes(bytes(data))
        db = tmp_path / f"w-{progress}.duckdb"
        result = Warehouse(db, timezone=zone, clock=fixed_clock(NOW)).run(spool, progress=progress)
        assert len(result.ingest.quarantined) == 1
        totals[progress] = {table: table_rows(db, table) for table in ("events", "daily_pages")}
    assert totals[True] == totals[False]


# -- an empty archive setting ----------------------------------------------------------------


def test_an_empty_archive_folder_is_refused_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--archive "$ARCHIVE_DIR"` with the variable unset: before, Path("") is ".", so every
    # ingested segment was moved out of the spool into whatever folder cron ran in.
    monkeypatch.chdir(tmp_path)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(34), [FIRST], per_day=10))
    segments = sorted(spool.rglob("*.parquet"))
    db = tmp_path / "w.duckdb"
    assert main(["rollup", "--spool", str(spool), "--db", str(db), "--archive", ""]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: argument --archive")
    assert err.count("\n") == 1
    assert sorted(spool.rglob("*.parquet")) == segments
    assert not list(tmp_path.glob("day=*"))
    # The same unset variable as --spool: before, the current folder was read as the spool
    # and every run said "nothing to do" while the real spool filled up.
    assert main(["rollup", "--spool", "", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: argument --spool")
    assert err.count("\n") == 1
    for empty in ("", "  "):
        with pytest.raises(ValueError, match="archive"):
            Warehouse(db, archive=empty)


def test_the_terminal_table_keeps_two_long_paths_apart(tmp_path: Path) -> None:
    # Before: a long cell kept its first 59 columns, so two pages that differ only in their
    # last segment (the usual case: a slug) showed as two identical rows.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + "german", prefix + "french"]
    base = events_for_days(random.Random(35), [FIRST], per_day=6)
    spool = tmp_path / "spool"
    write_events(spool, [e._replace(path=paths[i % 2], is_bot=False) for i, e in enumerate(base)])
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    query = ReportQuery(kind="pages", start=FIRST, end=FIRST, today=NOW.date())
    _header, _rule, *rows = render(run_report(db, query), "table").split("\n\n")[1].splitlines()
    keys = [row.split("  ")[0] for row in rows]
    assert len(set(keys)) == 2
    for key in keys:
        assert _columns_on_screen(key) <= MAX_CELL
        assert key.startswith("/docs/guides/configuring")
        assert key.endswith(("/german", "/french"))
        assert "…" in key


@pytest.mark.browser
def test_long_legend_labels_stay_in_their_own_half_of_the_chart(
    tmp_path: Path, browser: Browser
) -> None:
    # Before: a legend entry was the whole path, so a long one ran over its neighbour in
    # the other half of the row and out of the chart.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + lang for lang in ("german", "french", "dutch", "polish")]
    base = events_for_days(random.Random(36), [FIRST], per_day=40)
    spool = tmp_path / "spool"
    write_events(spool, [e._replace(path=paths[i % 4], is_bot=False) for i, e in enumerate(base)])
    db = tmp_path / "w.duckdb"
    Warehouse(db, clock=fixed_clock(NOW)).run(spool)
    page_file = tmp_path / "r.html"
    query = ReportQuery(kind="pages", start=FIRST, end=FIRST, today=NOW.date())
    page_file.write_text(render(run_report(db, query), "html"), encoding="utf-8")
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1100, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        chart = page.locator("svg.cw-chart")
        boxes = chart.locator("rect + text").evaluate_all(
            "texts => texts.map(t => { const b = t.getBBox(); return [b.x, b.x + b.width]; })"
        )
        width = float(chart.get_attribute("width") or 0)
        assert len(boxes) == 4
        for left, right in boxes:
            half_end = width / 2 if left < width / 2 else width
            assert right <= half_end, (left, right, half_end)
        titles = chart.locator("rect + text title").all_text_contents()
        assert sorted(titles) == sorted(paths)  # the whole name is still there, as a tooltip
        shown = chart.locator("rect + text").all_text_contents()
        assert (
            len({text.removeprefix(title) for text, title in zip(shown, titles, strict=True)}) == 4
        )
    finally:
        context.close()


def test_from_the_warehouse_yesterday_alone_is_a_one_day_range(tmp_path: Path) -> None:
    # `--from` = yesterday in Kiritimati (UTC+14), no `--to`: one day. Before, the range was
    # first checked against yesterday in UTC, a day earlier from 10:00 UTC on, and refused as
    # "start … is after end …" before the warehouse's zone was known. (From 00:00 to 10:00
    # UTC both zones share a date and this passed either way.)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(37), [FIRST], per_day=5))
    db = tmp_path / "w.duckdb"
    zone = ZoneInfo("Pacific/Kiritimati")
    Warehouse(db, timezone="Pacific/Kiritimati").run(spool)
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    report = run_report(db, ReportQuery(kind="summary", start=yesterday))
    if datetime.now(zone).date() - timedelta(days=1) == yesterday:  # not across midnight
        assert (report.start, report.end) == (yesterday, yesterday)


@pytest.mark.parametrize("archive", ["delete", "folder"])
def test_a_run_opens_the_database_once_even_when_it_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, archive: str
) -> None:
    # After COMMIT the run used to reopen the file only to ask the ledger which segments to
    # archive: another process taking the lock in between (a report, the dashboard) made a
    # run that had committed exit 1 "in use", with its segments left in the spool.
    import analytics.warehouse as warehouse_module

    opened: list[object] = []
    real_connect = warehouse_module.connect

    def counting_connect(*args: object, **kwargs: object) -> duckdb.DuckDBPyConnection:
        opened.append(args[0])
        return real_connect(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(warehouse_module, "connect", counting_connect)
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(11), [date(2026, 11, 20)], per_day=50))
    target = "delete" if archive == "delete" else tmp_path / "archive"
    result = Warehouse(tmp_path / "w.duckdb", archive=target).run(spool)
    assert result.ingest.events == 50
    assert len(opened) == 1
    assert not list(spool.rglob("*.parquet"))  # archived or deleted all the same
    if archive == "folder":
        assert len(list((tmp_path / "archive").rglob("*.parquet"))) == result.ingest.segments
