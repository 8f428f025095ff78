"""`analytics.cli.main()` called by a program whose root logger writes to the console (after
`logging.basicConfig()`) says each warning of the command once, in the program's format.

The CLI added its own stderr handler to the `analytics` logger whenever that logger had none,
and the warning also propagated to the program's root handler: every line came out twice.
`python -m analytics` (no root handlers) keeps the CLI's `analytics: WARNING: …` line, and a
root handler that writes elsewhere (a log file, pytest's capture) leaves it on stderr too."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.cli import main
from tests.support import ROOT

SAID = "--salt-dir {!r} does not exist: no expired salts are deleted"


def _argv(tmp_path: Path) -> list[str]:
    """A rollup of an empty spool with a --salt-dir that does not exist: one warning, exit 0."""
    (tmp_path / "spool").mkdir(exist_ok=True)
    return [
        "rollup",
        "--spool",
        str(tmp_path / "spool"),
        "--db",
        str(tmp_path / "w.duckdb"),
        "--salt-dir",
        str(tmp_path / "salt"),
    ]


@pytest.fixture
def root_handler() -> Iterator[list[logging.Handler]]:
    """Root handlers the test adds, taken off (and the root's level put back) after it."""
    root = logging.getLogger()
    level, added = root.level, list[logging.Handler]()
    yield added
    for handler in added:
        root.removeHandler(handler)
    root.setLevel(level)


def test_a_program_after_basicconfig_gets_each_warning_once_in_its_format(
    tmp_path: Path,
) -> None:
    program = (
        "import logging, sys\n"
        "from analytics.cli import main\n"
        "logging.basicConfig(format='program: %(levelname)s %(message)s')\n"
        "code = main(sys.argv[1:])\n"
        "logging.getLogger('analytics.warehouse').warning('after main')\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", program, *_argv(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    said = SAID.format(str(tmp_path / "salt"))
    lines = [line for line in run.stderr.splitlines() if "salt-dir" in line]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"program: WARNING {said}")
    assert "analytics: WARNING" not in run.stderr
    assert run.stderr.count("after main") == 1


def test_the_command_itself_keeps_the_cli_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "analytics", *_argv(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "salt-dir" in line]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"analytics: WARNING: {SAID.format(str(tmp_path / 'salt'))}")


@pytest.mark.parametrize("root_level", [logging.WARNING, logging.ERROR])
def test_a_root_console_handler_in_process_says_it_once(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    root_handler: list[logging.Handler],
    root_level: int,
) -> None:
    console = logging.StreamHandler(sys.stderr)  # capsys's stderr, as basicConfig() binds it
    console.setFormatter(logging.Formatter("program: %(message)s"))
    logging.getLogger().addHandler(console)
    root_handler.append(console)
    logging.getLogger().setLevel(root_level)  # a root at ERROR loses none of the command's
    log = logging.getLogger("analytics")
    handlers, level = log.handlers[:], log.level
    assert main(_argv(tmp_path)) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "salt-dir" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"program: {SAID.format(str(tmp_path / 'salt'))}")
    assert (log.handlers, log.level) == (handlers, level)


def test_a_root_handler_writing_elsewhere_leaves_the_cli_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], root_handler: list[logging.Handler]
) -> None:
    logfile = logging.FileHandler(tmp_path / "program.log")
    logging.getLogger().addHandler(logfile)
    root_handler.append(logfile)
    assert main(_argv(tmp_path)) == 0
    logfile.close()
    said = SAID.format(str(tmp_path / "salt"))
    err = capsys.readouterr().err
    assert err.startswith(f"analytics: WARNING: {said}")
    assert err.count("salt-dir") == 1
    assert (tmp_path / "program.log").read_text().count(said) == 1
