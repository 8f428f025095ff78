"""Visitor text cannot drive the analyst's terminal, in any output format.

Paths and campaign tags come from visitors: `/%1B]0;pwned%07` retitles a terminal, `\\x1b[2J`
clears it, U+202E reverses what follows. Like `ls`, the CLI escapes control and format
characters when its output is a terminal (each format in its own syntax: JSON stays JSON),
and writes the exact text to a file or a pipe. Each command runs in a real subprocess with
stdout on a pseudo-terminal, a pipe, or `--output FILE`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics.render import FORMATS, render
from analytics.render.terminal import safe_text
from analytics.reports import Report, ReportQuery, run_report
from analytics.warehouse import Warehouse
from tests.cli_support import cli, read_terminal
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = date(2026, 3, 2)
# Each is a path ("/" + text) and a campaign tag, two visitors each.
HOSTILE = {
    "osc-title": "\x1b]0;pwned\x07",
    "clear-screen": "\x1b[2J\x1b[H",
    "osc8-link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "c1-csi": "\x9b31mred",
    "c1-osc": "\x9d0;title\x9c",
    "del-and-backspace": "ab\x7f\x08\x08cd",
    "carriage-return": "real\rfake",
    "newline": "a\nb,9999",
    "bidi-override": "\u202egpj.exe",
    "bidi-isolates": "\u2066x\u2069\u2067y\u2068z\u2069\u200e\u200f",
    "zero-width": "x\u200by\u200c\u200d\u2060\ufeffz",
    "separators": "a\u2028b\u2029c",
    "tag-characters": "\U000e0041\U000e007f",
    "not-in-every-encoding": "caf\u00e9/\u4f8b\u3048",  # printable, but not in ASCII
}
KINDS = ("pages", "campaigns")


def _hidden(text: str) -> set[str]:
    """The characters of `text` a terminal may act on or draw as nothing (newlines aside)."""
    return {
        char
        for char in text
        if char != "\n" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    events = []
    for index, text in enumerate(HOSTILE.values()):
        for visitor in range(2):
            when = datetime(2026, 3, 2, 12, index, visitor, tzinfo=UTC)
            events.append(
                DIRECT_VISIT._replace(
                    ts=when, visitor_id=visitor, path="/" + text, utm_campaign=text
                )
            )
    write_events(root / "spool", events)
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 3, 10, tzinfo=UTC))).run(root / "spool")
    return path


def _report_argv(db: Path, kind: str, fmt: str) -> list[str]:
    day = DAY.isoformat()
    return cli("report", kind, "--db", str(db), "--from", day, "--to", day, "--top", "50",
               "--format", fmt)  # fmt: skip


def _report(db: Path, kind: str) -> Report:
    return run_report(db, ReportQuery(kind=kind, start=DAY, end=DAY, top=50))


def _env(encoding: str = "utf-8") -> dict[str, str]:
    return {**os.environ, "TERM": "xterm-256color", "PYTHONIOENCODING": encoding}


def _on_a_terminal(
    argv: list[str], *, encoding: str = "utf-8", as_output: bool = False
) -> tuple[int, str, str]:
    """Run `argv` with stdout on a pseudo-terminal (or, `as_output`, with the terminal's
    device as `--output` and stdout a pipe); return its exit code, what the terminal
    received (its CR LF line ends back to LF) and stderr."""
    master, slave = pty.openpty()
    if as_output:
        argv = [*argv, "--output", os.ttyname(slave)]
    stdout = subprocess.DEVNULL if as_output else slave
    env = _env(encoding)
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    if not as_output:
        os.close(slave)  # else kept open: a terminal nobody holds open drops its output
    try:
        received = read_terminal(master, proc)
        assert proc.stderr is not None
        with proc.stderr:
            err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        if as_output:
            os.close(slave)
    return code, received.decode(encoding).replace("\r\n", "\n"), err


def _through_a_pipe(argv: list[str]) -> tuple[int, bytes, str]:
    done = subprocess.run(argv, capture_output=True, cwd=ROOT, env=_env(), timeout=60)
    return done.returncode, done.stdout, done.stderr.decode()


def _cells(report: Report) -> list[str]:
    return [value for row in report.rows for value in row.values() if isinstance(value, str)]


def test_the_warehouse_keeps_every_hostile_text(db: Path) -> None:
    # Otherwise the tests below would pass on text that never reached a report.
    for kind in KINDS:
        cells = set(_cells(_report(db, kind)))
        for text in HOSTILE.values():
            assert ("/" + text if kind == "pages" else text) in cells


def _same_on_screen(fmt: str, shown: str, raw: str) -> None:
    """Assert that `shown` (on a terminal) is the report `raw` (in a file) in its format,
    with the hostile characters escaped in that format's own syntax."""
    if fmt == "json":  # escapes inside its strings: `| jq` and a terminal read the same
        assert json.loads(shown) == json.loads(raw)
    elif fmt == "csv":  # a newline in a path is `\n` in its cell, not a line that looks a row
        expected = list(csv.reader(io.StringIO(raw)))
        rows = list(csv.reader(io.StringIO(shown)))
        assert len(shown.splitlines()) == len(rows) == len(expected)
        assert rows == [[safe_text(cell) for cell in row] for row in expected]
    else:  # html and table: escaped wherever they are written
        assert shown == raw


# Both kinds for the formats that keep raw text in a file; one for those that never do.
CASES = [(kind, fmt) for kind in KINDS for fmt in ("csv", "json")] + [
    ("pages", fmt) for fmt in FORMATS if fmt not in ("csv", "json")
]


@pytest.mark.parametrize(("kind", "fmt"), CASES)
def test_on_a_terminal_no_control_or_format_character_is_printed_raw(
    db: Path, kind: str, fmt: str
) -> None:
    code, shown, err = _on_a_terminal(_report_argv(db, kind, fmt))
    assert (code, err) == (0, "")
    assert _hidden(shown) == set()
    _same_on_screen(fmt, shown, render(_report(db, kind), fmt))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_terminal_named_by_output_is_a_terminal(db: Path, fmt: str) -> None:
    # `--output /dev/tty` (here the pseudo-terminal's /dev/pts/N) is as stdout on one.
    code, shown, err = _on_a_terminal(_report_argv(db, "pages", fmt), as_output=True)
    assert (code, err) == (0, "")
    assert _hidden(shown) == set()
    _same_on_screen(fmt, shown, render(_report(db, "pages"), fmt))


@pytest.mark.parametrize("fmt", ["csv", "json", "html"])
def test_an_ascii_terminal_gets_escapes_for_what_it_lacks(db: Path, fmt: str) -> None:
    # UTF-8 bytes on an 8-bit terminal are other characters, some of them C1 controls.
    code, shown, err = _on_a_terminal(_report_argv(db, "pages", fmt), encoding="ascii")
    assert (code, err) == (0, "")
    assert shown.isascii()
    assert _hidden(shown) == set()
    if fmt == "json":
        assert json.loads(shown) == json.loads(render(_report(db, "pages"), "json"))
    else:
        assert (
            "caf\\xe9/\\u4f8b\\u3048" if fmt == "csv" else "caf&#233;/&#20363;&#12360;"
        ) in shown


def test_export_csv_to_a_terminal_named_by_output_is_escaped(db: Path) -> None:
    argv = cli("export", "--db", str(db), "--table", "daily_pages", "--format", "csv")
    code, shown, err = _on_a_terminal(argv, as_output=True)
    assert code == 0, err
    assert _hidden(shown) == set()
    assert "\\x1b]0;pwned\\x07" in shown


@pytest.mark.parametrize(("kind", "fmt"), CASES)
def test_a_pipe_and_a_file_get_the_exact_text(
    db: Path, tmp_path: Path, kind: str, fmt: str
) -> None:
    expected = render(_report(db, kind), fmt).encode("utf-8")
    code, piped, _ = _through_a_pipe(_report_argv(db, kind, fmt))
    assert (code, piped) == (0, expected)
    out = tmp_path / f"report.{fmt}"
    code, _, _ = _through_a_pipe([*_report_argv(db, kind, fmt), "--output", str(out)])
    assert (code, out.read_bytes()) == (0, expected)
    if fmt in ("csv", "json"):  # the raw text, as programs need it
        assert _hidden(expected.decode())


def test_export_csv_on_a_terminal_escapes_the_cells_and_a_pipe_gets_the_bytes(
    db: Path, tmp_path: Path
) -> None:
    argv = cli("export", "--db", str(db), "--table", "daily_pages", "--format", "csv")
    code, piped, _ = _through_a_pipe([*argv, "--output", "-"])
    assert code == 0
    out = tmp_path / "pages.csv"
    assert _through_a_pipe([*argv, "--output", str(out)])[0] == 0
    assert piped == out.read_bytes()
    assert _hidden(piped.decode())

    code, shown, err = _on_a_terminal([*argv, "--output", "-"])
    assert code == 0, err
    assert _hidden(shown) == set()
    expected = list(csv.reader(io.StringIO(piped.decode())))
    assert list(csv.reader(io.StringIO(shown))) == [
        [safe_text(cell) for cell in row] for row in expected
    ]


def test_export_parquet_is_not_written_to_a_terminal(db: Path) -> None:
    argv = cli("export", "--db", str(db), "--table", "daily_pages", "--format", "parquet")
    code, shown, err = _on_a_terminal([*argv, "--output", "-"])
    assert code == 2
    assert shown == ""
    assert err.startswith("analytics: error: parquet is binary and not written to a terminal")
    assert err.count("\n") == 1


def test_a_spool_file_name_in_a_warning_is_escaped(tmp_path: Path) -> None:
    # A garbage "segment" is quarantined with a warning naming it.
    day = tmp_path / "spool" / f"day={DAY.isoformat()}"
    day.mkdir(parents=True)
    (day / "\x1b]0;pwned\x07\u202e.parquet").write_bytes(b"not parquet")
    argv = cli("rollup", "--spool", str(tmp_path / "spool"), "--db", str(tmp_path / "w.duckdb"))
    code, _, err = _through_a_pipe(argv)
    assert code == 0
    assert "\\x1b]0;pwned\\x07\\u202e.parquet" in err
    assert _hidden(err) == set()


def test_an_error_line_quoting_the_command_line_is_escaped(db: Path) -> None:
    argv = cli("report", "pages", "--db", str(db), "\x1b]0;pwned\x07")
    code, _, err = _through_a_pipe(argv)
    assert code == 2
    assert "\\x1b]0;pwned\\x07" in err
    assert _hidden(err) == set()


@pytest.mark.parametrize("fmt", ["csv", "json", "html"])
def test_a_lone_surrogate_in_a_report_is_escaped_for_a_terminal(db: Path, fmt: str) -> None:
    # UTF-8 has no lone surrogates, so none is ever stored; a report built in Python may.
    report = _report(db, "pages")
    row: dict[str, Any] = dict(report.rows[0])
    row["path"] = "/\udcff"
    report = replace(report, rows=[row])
    shown = render(report, fmt, terminal=True)
    assert _hidden(shown) == set()
    assert "\\udcff" in shown
    if fmt == "json":
        assert json.loads(shown)[0]["path"] == "/\udcff"
