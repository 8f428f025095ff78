"""The CLI under the locales and stream encodings cron and analysts really run it with
(`LANG=C`, `LC_ALL=POSIX`, `PYTHONIOENCODING=ascii`, a Latin-1 terminal): visitor text (IDN
referrers, emoji, right-to-left paths) and non-ASCII file names. What is written to a file is
UTF-8 whatever the locale, and work that is done is never reported as a failure because its
summary line holds a character the terminal cannot show. Real subprocesses, real DuckDB files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.warehouse import Warehouse
from tests.cli_support import cli
from tests.support import ROOT
from tests.warehouse_support import DIRECT_VISIT, fixed_clock, write_events

DAY = datetime(2026, 11, 2, 12, tzinfo=UTC)
RANGE = ["--from", "2026-11-02", "--to", "2026-11-02"]
# Visitor text no single-byte encoding holds all of: accents, CJK, Cyrillic IDN, emoji, a
# right-to-left path and a right-to-left override.
PATHS = ("/café", "/日本語", "/😀-launch", "/עברית/שלום", "/\u202egpj.exe")
REFERRERS = ("bücher.de", "例え.jp", "пример.рф")

# Each locale as cron or a terminal sets it; `env -i` style, nothing inherited but PATH.
LOCALES: dict[str, dict[str, str]] = {
    "C.UTF-8": {"LANG": "C.UTF-8"},
    "LANG=C": {"LANG": "C"},
    "LC_ALL=POSIX": {"LC_ALL": "POSIX"},
    "no locale at all": {},
    "PYTHONIOENCODING=ascii": {"LANG": "C.UTF-8", "PYTHONIOENCODING": "ascii"},
    "PYTHONIOENCODING=latin-1": {"LANG": "C.UTF-8", "PYTHONIOENCODING": "latin-1"},
    "LANG=en_US.ISO-8859-1": {"LANG": "en_US.ISO-8859-1"},
    "PYTHONUTF8=0": {"LANG": "C.UTF-8", "PYTHONUTF8": "0"},
}


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[bytes]:
    bare = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(cli(*argv), capture_output=True, cwd=ROOT, env=bare, timeout=60)


def _run_each(env: dict[str, str], commands: list[list[str]]) -> subprocess.CompletedProcess[bytes]:
    """`commands` one after the other in one process under `env` (one interpreter start, not
    one each, on a shared 2-core machine); it exits with the first non-zero code."""
    code = (
        "import sys\n"
        "from analytics.cli import main\n"
        f"for argv in {commands!r}:\n"
        "    if code := main(argv):\n"
        "        sys.exit(code)\n"
    )
    bare = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=ROOT, env=bare, timeout=60
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("words")
    events = [
        DIRECT_VISIT._replace(
            ts=DAY + timedelta(minutes=i),
            path=PATHS[i % len(PATHS)],
            referrer_host=REFERRERS[i % len(REFERRERS)],
            referrer_domain=REFERRERS[i % len(REFERRERS)],
            referrer_medium="referral",
            utm_campaign="🎉 launch",
            visitor_id=i,
        )
        for i in range(30)
    ]
    write_events(root / "spool", events)
    db = root / "w.duckdb"
    Warehouse(db, clock=fixed_clock(DAY + timedelta(days=3))).run(root / "spool")
    return db


def _files_written(db: Path, folder: Path, env: dict[str, str]) -> dict[str, bytes]:
    """A table, CSV and HTML report and a CSV export, written with --output under `env`."""
    folder.mkdir()
    commands = {
        "pages.txt": ["report", "pages", "--db", str(db), *RANGE],
        "referrers.csv": ["report", "referrers", "--db", str(db), *RANGE, "--format", "csv"],
        "campaigns.html": ["report", "campaigns", "--db", str(db), *RANGE, "--format", "html"],
        "export.csv": ["export", "--db", str(db), "--table", "daily_pages", "--format", "csv"],
    }
    result = _run_each(env, [[*argv, "--output", str(folder / n)] for n, argv in commands.items()])
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    return {name: (folder / name).read_bytes() for name in commands}


def test_files_written_with_output_are_the_same_utf8_bytes_in_every_locale(
    warehouse: Path, tmp_path: Path
) -> None:
    expected = _files_written(warehouse, tmp_path / "reference", LOCALES["C.UTF-8"])
    assert "пример.рф".encode() in expected["referrers.csv"]
    assert "/😀-launch".encode() in expected["pages.txt"]
    assert "/日本語".encode() in expected["export.csv"]
    for name, env in LOCALES.items():
        folder = tmp_path / name.replace("=", "-").replace(" ", "-")
        assert _files_written(warehouse, folder, env) == expected, name


@pytest.mark.parametrize("locale", LOCALES)
def test_csv_on_stdout_is_utf8_and_a_table_never_crashes(warehouse: Path, locale: str) -> None:
    csv = ["report", "pages", "--db", str(warehouse), *RANGE, "--format", "csv"]
    table = ["report", "pages", "--db", str(warehouse), *RANGE]
    result = _run_each(LOCALES[locale], [csv, table])
    assert (result.returncode, result.stderr) == (0, b"")
    csv_part, table_part = result.stdout.split(b"Pages", 1)  # the table's title
    assert "/😀-launch".encode() in csv_part
    # Shown, or escaped where the terminal's encoding has no such character; never dropped.
    assert b"/\\U0001f600-launch" in table_part or "/😀-launch".encode() in table_part


@pytest.mark.parametrize("locale", ["PYTHONIOENCODING=ascii", "PYTHONIOENCODING=latin-1"], ids=str)
def test_an_export_whose_summary_the_terminal_cannot_show_still_succeeds(
    warehouse: Path, tmp_path: Path, locale: str
) -> None:
    # Before: the file was written, then printing `exported … to …/résumé 😀/…` raised
    # UnicodeEncodeError, which came out as `analytics: error: 'ascii' codec can't encode…`
    # with exit 2: cron reported a failure for an export that was in place.
    folder = tmp_path / "résumé 😀"
    folder.mkdir()
    out = folder / "pages.csv"
    argv = ["export", "--db", str(warehouse), "--table", "daily_pages", "--format", "csv"]
    result = _run(LOCALES[locale], *argv, "--output", str(out))
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    assert out.read_bytes().startswith(b"day,site,path,pageviews,visitors")
    encoding = LOCALES[locale]["PYTHONIOENCODING"]
    shown = str(out).encode(encoding, "backslashreplace").decode(encoding)
    # What the terminal cannot show is escaped (the emoji in both; é in ASCII), not lost.
    expected = f"exported {len(PATHS)} rows of daily_pages to {shown}\n"
    assert result.stdout.decode(encoding) == expected
    assert not any(name.startswith(".tmp-") for name in os.listdir(folder))
