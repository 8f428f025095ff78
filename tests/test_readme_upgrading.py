"""README → *Upgrading*: the one-line command that lists the stored paths the installed
release would redact (paths an earlier release stored under rules that redacted less) runs as
printed and finds exactly those paths."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from analytics.tables import read_sql
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def _upgrading_section() -> str:
    return README.split("\n## Upgrading\n", 1)[1].split("\n## ", 1)[0]


def _listing_command() -> str:
    commands: list[str] = re.findall(r'`(python -c "[^`]*redact_path[^`]*")`', _upgrading_section())
    assert len(commands) == 1, commands
    return commands[0]


def test_the_upgrading_command_lists_the_paths_the_new_rules_would_redact(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    with duckdb.connect(str(tmp_path / "var" / "analytics.duckdb")) as con:
        con.execute(read_sql("schema.sql"))
        # As an earlier release stored them: a card grouped by middle dots (redacted since
        # 0.2.0), beside paths every release keeps and one already redacted.
        for path in ("/blog/4111·1111·1111·1111", "/about", "/orders/:redacted", "/café"):
            con.execute(
                "INSERT INTO daily_pages VALUES (?, 'example.com', ?, 1, 1)",
                [date(2026, 11, 1), path],
            )
    # The README's command as printed, for a POSIX shell (its \n is the shell's two characters).
    done = subprocess.run(
        ["sh", "-c", _listing_command().replace("python", sys.executable, 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["/blog/4111·1111·1111·1111"]
