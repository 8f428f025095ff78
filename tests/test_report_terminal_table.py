"""Reports on a terminal and on stdout: table columns line up with wide and combining characters,
long cells are cut to the same screen width and kept apart, what the terminal's encoding
cannot show is escaped, and stdout carries the same UTF-8 as an output file.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.render import render
from analytics.render.table import MAX_CELL
from analytics.reports import ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.cli_support import FIRST, build_four_week_warehouse, cli, pages_report
from tests.support import ROOT
from tests.warehouse_support import events_for_days, fixed_clock, write_events

NOW = datetime(2026, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_four_week_warehouse(tmp_path_factory.mktemp("four-weeks"))


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
    after a space (numbers are right-aligned under their header; a key holds digits only in
    the Punycode shown beside an emoji domain, `😀.ws (xn--e28h.ws)`)."""
    found = re.search("pageviews", line) or re.search(r"(?<= )\d[\d,]*", line)
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
    long_paths = ["/" + "長" * 80, "/" + "a" * 80]
    report = pages_report(tmp_path, long_paths, seed=25, per_day=4)
    header, _rule, *rows = render(report, "table").split("\n\n")[1].splitlines()
    assert len(rows) == 2
    assert {_pageviews_end(row) for row in rows} == {_pageviews_end(header)}
    assert all(_columns_on_screen(row.split("  ")[0]) <= MAX_CELL for row in rows)


def _report_under(encoding: str, db: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    # PYTHONIOENCODING stands in for a Latin-1 locale or a Windows console (cp1252).
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        cli("report", "referrers", "--db", str(db), "--from", "2026-10-01", "--to", "2026-10-01")
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


def test_the_terminal_table_keeps_two_long_paths_apart(tmp_path: Path) -> None:
    # Before: a long cell kept its first 59 columns, so two pages that differ only in their
    # last segment (the usual case: a slug) showed as two identical rows.
    prefix = "/docs/guides/" + "configuring-the-consent-banner-for-a-multilingual-site/" * 2
    paths = [prefix + "german", prefix + "french"]
    report = pages_report(tmp_path, paths, seed=35, per_day=6)
    _header, _rule, *rows = render(report, "table").split("\n\n")[1].splitlines()
    keys = [row.split("  ")[0] for row in rows]
    assert len(set(keys)) == 2
    for key in keys:
        assert _columns_on_screen(key) <= MAX_CELL
        assert key.startswith("/docs/guides/configuring")
        assert key.endswith(("/german", "/french"))
        assert "…" in key
