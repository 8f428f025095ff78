"""`analytics --help`, `--version` and a command's `--help` whose stdout cannot be written
(`> /dev/full`, a full log disk) end in the CLI's one error line and exit 2, as a report
written there does. argparse dropped the failed write in silence: exit 0 and nothing written
(or, with a buffered stdout, Python's "Exception ignored" at exit and 120). Real processes,
stdout on the real /dev/full."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import IO

import pytest

from tests.cli_support import cli

FULL = "analytics: error: cannot write to standard output: No space left on device\n"
ASKS = {
    "--help": ["--help"],
    "-h": ["-h"],
    "--version": ["--version"],
    "rollup --help": ["rollup", "--help"],
    "report --help": ["report", "--help"],
    "export --help": ["export", "--help"],
    "prune -h": ["prune", "-h"],
}


def _run(
    argv: list[str], stdout: int | IO[str], *, buffered: bool
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        cli(*argv), stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, timeout=60
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("ask", list(ASKS))
def test_help_or_version_on_a_full_disk_is_one_error_line(ask: str, buffered: bool) -> None:
    with open("/dev/full", "w") as full:
        done = _run(ASKS[ask], full, buffered=buffered)
    assert (done.returncode, done.stderr) == (2, FULL)


@pytest.mark.parametrize("ask", list(ASKS))
def test_help_or_version_that_is_written_exits_0(ask: str) -> None:
    # The control: the same asks with a stdout that takes them.
    done = _run(ASKS[ask], subprocess.PIPE, buffered=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("analytics (cookiewall) " if ask == "--version" else "usage: ")


@pytest.mark.parametrize("ask", list(ASKS))
def test_help_or_version_with_stdout_closed_is_one_error_line(ask: str) -> None:
    # Started with stdout closed (cron, a supervisor: `>&-`), the help went to /dev/null and
    # the command exited 0; a report in the same place says "standard output is closed".
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *cli(*ASKS[ask])],
        stderr=subprocess.PIPE, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (2, "analytics: error: standard output is closed\n")
