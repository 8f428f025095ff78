"""A terminal table on a terminal whose encoding lacks some characters (`PYTHONIOENCODING=
ascii`, Latin-1, cp1252) lines up: its columns are measured on what is printed, escapes
included (`/caf\\xe9` is 8 columns, `/café` 5). A long key is cut between escapes, never
inside one, around an ellipsis the terminal can show. Real subprocesses, a real warehouse.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.event import Event
from analytics.idn_display import shown_host
from analytics.render.table import MAX_CELL
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = datetime(2026, 11, 2, 12, tzinfo=UTC)
RANGE = ["--from", "2026-11-02", "--to", "2026-11-02"]
# Keys no single-byte encoding holds all of: Latin accents (composed and combining), CJK,
# emoji, right-to-left text and a right-to-left override, IDN domains; the last one is cut.
LONG_PATH = "/" + "長い" * 40 + "/end"
PATHS = (
    "/café",
    "/e\u0301te\u0301",
    "/日本語",
    "/😀-launch",
    "/עברית/שלום",
    "/\u202egpj.exe",
    "/naïve/€",
    LONG_PATH,
)
DOMAINS = ("bücher.de", "例え.jp", "пример.рф", "😀.ws", "مثال.مصر")
ENCODINGS = ("ascii", "latin-1", "cp1252")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("escaped-table")
    events: list[Event] = []
    # Key i is seen i + 1 times: the rows come in a known order (the paths past the
    # domains are direct visits).
    for i, path in enumerate(PATHS):
        domain = DOMAINS[i] if i < len(DOMAINS) else None
        for _ in range(i + 1):
            events.append(
                DIRECT_VISIT._replace(
                    ts=DAY + timedelta(minutes=len(events)),
                    path=path,
                    referrer_host=domain,
                    referrer_domain=domain,
                    referrer_medium="referral" if domain else "direct",
                    visitor_id=len(events),
                )
            )
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(DAY + timedelta(days=3))).run(root / "spool")
    return db


def _table(db: Path, kind: str, encoding: str) -> list[str]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    done = subprocess.run(
        cli("report", kind, "--db", str(db), *RANGE),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    return done.stdout.decode(encoding).split("\n")


def _escaped(text: str, encoding: str) -> str:
    """What Python prints for `text` on a stream in `encoding` (errors=backslashreplace)."""
    shown = text.replace("\u202e", "\\u202e")  # a control: escaped in every encoding
    return shown.encode(encoding, "backslashreplace").decode(encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("kind", "keys"),
    [("pages", PATHS), ("referrers", DOMAINS)],
    ids=["pages", "referrers"],
)
def test_columns_line_up_as_printed(
    warehouse: Path, kind: str, keys: tuple[str, ...], encoding: str
) -> None:
    title, blank, header, rule, *rest = _table(warehouse, kind, encoding)
    rows = rest[: rest.index("")]
    assert title.startswith(kind.capitalize())
    assert blank == ""
    assert set(rule) == {"-", " "}
    # Every printed character of these encodings takes one column: the row's length is
    # where its last (right-aligned) number ends, as the header's does.
    assert [len(row) for row in rows] == [len(header)] * len(keys)
    key_width = rule.index("  ")
    shown_keys = [row[:key_width].rstrip() for row in rows]
    for row in rows:
        assert row[key_width : key_width + 2] == "  "  # the key never runs into the numbers
    # An emoji domain is shown with its Punycode beside it (analytics.idn_display).
    shown = [shown_host(key) if kind == "referrers" else key for key in reversed(keys)]
    expected = [_escaped(key, encoding) for key in shown]
    if kind == "pages":  # the long path comes first (the most pageviews) and is cut
        cut, *whole = shown_keys
        assert whole == expected[1:]
        assert len(cut) <= MAX_CELL
        ellipsis = "…" if encoding == "cp1252" else "..."
        head, tail = cut.split(ellipsis)
        # Whole escapes on both sides of the ellipsis, none halved.
        assert re.fullmatch(r"/(\\u9577\\u3044)+(\\u9577)?", head), cut
        assert re.fullmatch(r"(\\u9577|\\u3044)*/end", tail), cut
    else:
        assert shown_keys == expected
    assert "\\" not in header


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_table_written_to_a_file_is_utf8_whatever_the_terminal(
    warehouse: Path, tmp_path: Path, encoding: str
) -> None:
    out = tmp_path / "pages.txt"
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    argv = cli("report", "pages", "--db", str(warehouse), *RANGE, "--output", str(out))
    done = subprocess.run(argv, capture_output=True, cwd=ROOT, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")
    text = out.read_text(encoding="utf-8")
    assert "/café" in text
    assert "/😀-launch" in text
    assert "\\x" not in text
