"""No option may be abbreviated, in any subcommand (walkthrough h240 F10).

argparse takes a unique prefix for the option (`--fro` for `--from`, `--del` for
`--delete-ingested`): a cron line holding one means another option, or fails, the day an
option sharing the prefix is added. Now each is refused before any work, in one line that
names it, the options it may have meant, and that subcommand's --help; exit 2. A stray word
points at that subcommand's --help too (it pointed at 'analytics --help').
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from analytics.cli import UsageError, build_parser, main
from tests.cli_support import build_one_day_warehouse, event_count

# Each command line does work once its abbreviation is read as the option it starts: a
# rollup deleted the spool's ingested segments, a prune its raw events.
ABBREVIATED = {
    "rollup": (["rollup", "--spool", "{spool}", "--db", "{db}", "--del"], "--del",
               "--delete-ingested"),
    "report": (["report", "summary", "--db", "{db}", "--fro", "2026-11-01"], "--fro", "--from"),
    "export": (["export", "--db", "{db}", "--tab", "events", "--format", "csv", "--output",
                "{out}"], "--tab", "--table"),
    "prune": (["prune", "--db", "{db}", "--raw", "1", "--no-compact"], "--raw", "--raw-days"),
    "compact": (["compact", "--db", "{db}", "--wai", "1"], "--wai", "--wait"),
    "rollup, two meant": (["rollup", "--spool", "{spool}", "--d", "{db}"], "--d",
                          "--db or --delete-ingested"),
    "no command": (["--vers"], "--vers", "--version"),
}  # fmt: skip


def _spool_files(spool: Path) -> list[str]:
    return sorted(str(path.relative_to(spool)) for path in spool.rglob("*.parquet"))


@pytest.mark.parametrize("case", sorted(ABBREVIATED))
def test_an_abbreviated_option_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    db = build_one_day_warehouse(tmp_path)
    spool, out = tmp_path / "spool", tmp_path / "events.csv"
    segments, events, stored = _spool_files(spool), event_count(db), os.stat(db)
    template, abbreviation, meant = ABBREVIATED[case]
    argv = [arg.format(spool=spool, db=db, out=out) for arg in template]
    command = "" if case == "no command" else f" {template[0]}"
    assert main(argv) == 2
    assert capsys.readouterr() == (
        "",
        f"analytics: error: unrecognized option {abbreviation!r}: options are never "
        f"abbreviated; did you mean {meant}? (see 'analytics{command} --help')\n",
    )
    assert _spool_files(spool) == segments
    assert event_count(db) == events
    assert os.stat(db).st_ino == stored.st_ino  # not compacted either
    assert not out.exists()


@pytest.mark.parametrize("command", sorted({case[0][0] for case in ABBREVIATED.values()}))
def test_every_parser_refuses_abbreviations_itself(command: str) -> None:
    """`allow_abbrev` is per parser: the subcommands' own, not only the top one's, and for
    a program that calls build_parser().parse_args as the tests do. Accepted, each line
    parsed (or printed the version and exited 0)."""
    template, _, _ = next(case for case in ABBREVIATED.values() if case[0][0] == command)
    argv = [arg.format(spool="spool", db="w.duckdb", out="e.csv") for arg in template]
    with pytest.raises(UsageError):
        build_parser().parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["report", "summary", "summary", "--db", "w.duckdb"], "unrecognized arguments: summary"),
        (["prune", "--db", "w.duckdb", "--raw-days", "3", "--later"],
         "unrecognized option '--later'"),
        # No name before the '=': not every option offered as "did you mean" (review r261 F4).
        (["report", "--=x"], "unrecognized option '--=x'"),
        (["report", "summary", "--db", "w.duckdb", "--="], "unrecognized option '--='"),
    ],
)  # fmt: skip
def test_a_stray_word_points_at_its_commands_help(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert main(argv) == 2
    assert (
        capsys.readouterr().err == f"analytics: error: {said} (see 'analytics {argv[0]} --help')\n"
    )


def test_whole_options_and_their_equals_form_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = build_one_day_warehouse(tmp_path)
    argv = ["report", "summary", f"--db={db}", "--from=2026-11-01", "--to", "2026-11-01"]
    assert main([*argv, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("2026-11-01,")


class _Started(BaseException):
    """Raised where an entry point would start its work: not an Exception, which bench's
    suites catch."""


def _started(*args: object, **kwargs: object) -> NoReturn:
    raise _Started


# Each abbreviation, read as the option it starts, would run the tool: the demo's server
# for good (--serve), bench's suites, a Spark benchmark. What it would start first is
# replaced by _started, so that code that takes the abbreviation fails fast.
ENTRY_POINTS = {
    "examples.demo": (["--var", "{tmp}", "--ser"], "examples.demo", "start_server"),
    "bench": (["--qui", "--only", "spool"], "bench.bench_spool", "run"),
    "bench.bench_spark": (["--eve", "10"], "bench.gen", "write_spool"),
}


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_the_other_entry_points_refuse_abbreviations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """Refused by argparse, exit 2, before anything starts."""
    template, patched, name = ENTRY_POINTS[module]
    monkeypatch.setattr(importlib.import_module(patched), name, _started)
    main_of = importlib.import_module(module if module != "bench" else "bench.__main__").main
    monkeypatch.setattr(sys, "argv", [module, *(arg.format(tmp=tmp_path) for arg in template)])
    with pytest.raises(SystemExit) as exited:
        main_of()
    assert exited.value.code == 2
