"""A terminal table in a UTF-8 terminal lines up whatever script its keys are in: East Asian
wide characters (CJK, Hangul, most emoji) take two columns, and marks drawn on the character
before them take none, including those Unicode gives no combining class (Thai vowel and tone
marks above a consonant, variation selectors, enclosing circles, Hangul medial and final
jamo). The columns are checked against the C library's wcwidth, which tmux and xterm draw
by (tmux 3.3a put the cursor where these counts say), in a separate real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.event import Event
from analytics.render.table import screen_width
from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = datetime(2026, 11, 2, 12, tzinfo=UTC)
RANGE = ["--from", "2026-11-02", "--to", "2026-11-02"]

# (what, text, terminal columns as tmux 3.3a and glibc's wcwidth count them)
WIDTHS = [
    ("ASCII", "/about", 6),
    ("CJK", "/日本語", 7),
    ("full-width Latin", "/ＡＢＣ", 7),
    ("Hangul syllables", "/한국어", 7),
    ("Hangul in jamo (NFD)", "/\u1112\u1161\u11ab", 3),
    ("emoji", "/😀-launch", 10),
    ("emoji, text style (VS15)", "/\u2764\ufe0e", 2),
    ("emoji, emoji style (VS16)", "/\u2764\ufe0f", 2),
    ("accent, precomposed", "/café", 5),
    ("accent, combining", "/cafe\u0301", 5),
    ("enclosing circle", "/a\u20dd", 2),
    ("Thai marks above", "/ที่นี่", 3),
    ("Devanagari", "/हिन्दी", 6),
    ("Hebrew with points", "/שָׁלוֹם", 5),
    ("Arabic", "/مثال", 5),
]


@pytest.mark.parametrize(("text", "columns"), [w[1:] for w in WIDTHS], ids=[w[0] for w in WIDTHS])
def test_screen_width_counts_what_a_terminal_draws(text: str, columns: int) -> None:
    assert screen_width(text) == columns


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wide-table")
    events: list[Event] = []
    for i, (_what, path, _columns) in enumerate(WIDTHS):
        for _ in range(i + 1):  # a known row order: the most pageviews first
            events.append(
                DIRECT_VISIT._replace(
                    ts=DAY + timedelta(minutes=len(events)), path=path, visitor_id=len(events)
                )
            )
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(DAY + timedelta(days=3))).run(root / "spool")
    return db


# Each line's width by the C library's wcswidth in the C.UTF-8 locale (set in that process
# only: a locale is process-wide).
GLIBC_WIDTHS = """
import ctypes, json, locale, sys
locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
libc = ctypes.CDLL(None)
libc.wcswidth.argtypes = [ctypes.c_wchar_p, ctypes.c_size_t]
print(json.dumps([libc.wcswidth(line, len(line)) for line in json.load(sys.stdin)]))
"""


def _drawn_widths(lines: list[str]) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", GLIBC_WIDTHS],
        input=json.dumps(lines),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 and "unsupported locale" in done.stderr:
        pytest.skip("no C.UTF-8 locale here")
    assert done.returncode == 0, done.stderr
    widths: list[int] = json.loads(done.stdout)
    return widths


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's wcswidth")
def test_columns_line_up_in_a_utf8_terminal(warehouse: Path) -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        cli("report", "pages", "--db", str(warehouse), *RANGE, "--top", str(len(WIDTHS))),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    _title, _blank, header, rule, *rest = done.stdout.decode("utf-8").split("\n")
    rows = rest[: rest.index("")]
    assert [row.split("  ")[0] for row in rows] == [w[1] for w in reversed(WIDTHS)]
    # Numbers are right-aligned: every row ends in the column where the header ends.
    drawn = _drawn_widths([header, rule, *rows])
    assert drawn == [len(rule)] * (len(rows) + 2), list(zip(rows, drawn[2:], strict=True))
