"""`analytics rollup` and the CLI's shape: one-line errors, help with an example, exit codes."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from tests.support import ROOT
from tests.warehouse_support import (
    events_for_days,
    seeded_spool,
    table_rows,
    tally,
    write_events,
)

DAY = date(2026, 11, 1)
COMMANDS = ("rollup", "report", "export", "prune")


def test_rollup_ingests_and_prints_a_one_line_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool, db = tmp_path / "spool", tmp_path / "w.duckdb"
    events = events_for_days(random.Random(1), [DAY], per_day=100)
    write_events(spool, events)
    argv = ["rollup", "--spool", str(spool), "--db", str(db), "--raw-days", "36500"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("ingested 2 segments (100 events, 1 day)")
    assert table_rows(db, "daily_totals") == tally(events)["daily_totals"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "nothing to do: no new segments\n"


def test_an_empty_spool_is_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "spool").mkdir()
    argv = ["rollup", "--spool", str(tmp_path / "spool"), "--db", str(tmp_path / "w.duckdb")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "nothing to do: no new segments\n"
    assert captured.err == ""


@pytest.mark.parametrize("option", [["--delete-ingested"], ["--archive", "ARCHIVE"]])
def test_rollup_disposes_of_ingested_segments(tmp_path: Path, option: list[str]) -> None:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(2), [DAY], per_day=60))
    option = [str(tmp_path / "archive") if o == "ARCHIVE" else o for o in option]
    argv = ["rollup", "--spool", str(spool), "--db", str(tmp_path / "w.duckdb"), *option]
    assert main(argv) == 0
    assert list(spool.rglob("*.parquet")) == []
    if "--archive" in option:
        assert len(list((tmp_path / "archive").rglob("*.parquet"))) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice"),
        (["rollup", "--db", "DB"], "required: --spool"),
        (["rollup", "--spool", "MISSING", "--db", "DB"], "does not exist"),
        (["rollup", "--spool", "SPOOL", "--db", "DB", "--timezone", "Moon/Base"], "time zone"),
        (["rollup", "--spool", "SPOOL", "--db", "DB", "--raw-days", "0"], "at least 1"),
        (["rollup", "--spool", "SPOOL", "--db", "DB", "--raw-days", "x"], "whole number"),
        (["rollup", "--spool", "SPOOL", "--db", "DB", "--wait", "-1"], "negative"),
        (
            ["rollup", "--spool", "SPOOL", "--db", "DB", "--archive", "A", "--delete-ingested"],
            "not allowed with",
        ),
        (["rollup", "--spool", "SPOOL", "--db", "SPOOL"], "is a folder"),
        (["rollup", "--spool", "SPOOL", "--db", "NOTDB"], "cannot open"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "spool").mkdir()
    (tmp_path / "notdb").write_bytes(b"not a database at all" * 50)
    names = {
        "DB": tmp_path / "w.duckdb",
        "SPOOL": tmp_path / "spool",
        "MISSING": tmp_path / "missing",
        "NOTDB": tmp_path / "notdb",
    }
    argv = [str(names[a]) if a in names else a for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("analytics: error: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err
    assert captured.out == ""


def test_subprocess_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "rollup",
            "--spool",
            str(tmp_path / "nope"),
            "--db",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"analytics: error: spool folder {str(tmp_path / 'nope')!r} does not exist "
        "or is not a folder\n"
    )
    assert not (tmp_path / "w.duckdb").exists()


def _rollup_cli(spool: Path, db: Path) -> subprocess.CompletedProcess[str]:
    command = ["-m", "analytics", "rollup", "--spool", str(spool), "--db", str(db)]
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=ROOT)


def _spool_with_garbage(tmp_path: Path, *, all_of_it: bool) -> tuple[Path, int]:
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(3), [DAY], per_day=100))
    segments = sorted(spool.rglob("*.parquet"))
    spoiled = segments if all_of_it else segments[:1]
    for segment in spoiled:
        segment.write_bytes(b"garbage")
    return spool, len(spoiled)


def test_quarantine_warning_is_one_line_on_stderr(tmp_path: Path) -> None:
    spool, _ = _spool_with_garbage(tmp_path, all_of_it=False)
    result = _rollup_cli(spool, tmp_path / "w.duckdb")
    assert result.returncode == 0
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("analytics: WARNING: quarantined corrupt segment day=")
    assert "quarantined 1 corrupt segment" in result.stdout


@pytest.mark.parametrize(
    ("in_the_way", "said"),
    [
        (f"quarantine/day={DAY}", f"File exists: 'quarantine/day={DAY}'"),
        ("quarantine", f"Not a directory: 'quarantine/day={DAY}'"),
    ],
)
def test_a_quarantine_warning_names_the_file_in_the_way(
    tmp_path: Path, in_the_way: str, said: str
) -> None:
    """Not only "(File exists)", which names nothing to fix (review r261 F3)."""
    spool, _ = _spool_with_garbage(tmp_path, all_of_it=False)
    (spool / in_the_way).parent.mkdir(exist_ok=True)
    (spool / in_the_way).write_text("a file where a folder goes")
    result = _rollup_cli(spool, tmp_path / "w.duckdb")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"analytics: WARNING: corrupt segment day={DAY}/"), (
        result.stderr
    )
    assert f".parquet not moved to quarantine ({said}): " in result.stderr


def test_a_run_that_only_quarantines_does_not_say_nothing_to_do(tmp_path: Path) -> None:
    spool, spoiled = _spool_with_garbage(tmp_path, all_of_it=True)
    first = _rollup_cli(spool, tmp_path / "w.duckdb")
    assert first.returncode == 0
    assert "nothing to do" not in first.stdout  # cron's mail must show the data problem
    assert f"quarantined {spoiled} corrupt segments" in first.stdout
    second = _rollup_cli(spool, tmp_path / "w.duckdb")
    assert second.stdout == "nothing to do: no new segments\n"  # moved away: not again


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_ending_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out.rstrip()
    last_two = help_text.splitlines()[-2:]
    assert last_two[0] == "example:"
    assert last_two[1].strip().startswith(f"analytics {command} ")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    docs = (ROOT / "README.md").read_text()
    assert f"analytics {command} " in docs


def test_console_script_and_module_agree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0
    assert all(command in result.stdout for command in COMMANDS)


@pytest.mark.parametrize(
    ("pointed_at", "message"),
    [
        ("a day folder", "is one day folder of a spool: give the spool"),
        (".", "but '{root}/spool' has them: is that the spool?"),
        ("loose", "holds segments directly"),
    ],
)
def test_a_mistyped_spool_is_a_one_line_error_not_nothing_to_do(
    tmp_path: Path, pointed_at: str, message: str
) -> None:
    # An empty spool is fine, so a wrong folder that exists used to pass as "nothing to do".
    spool = tmp_path / "spool"
    write_events(spool, events_for_days(random.Random(5), [DAY], per_day=20))
    loose = tmp_path / "loose"
    loose.mkdir()
    for segment in spool.rglob("*.parquet"):
        (loose / segment.name).write_bytes(segment.read_bytes())
    if pointed_at == "a day folder":
        pointed_at = str(next(spool.glob("day=*")).relative_to(tmp_path))
    result = _rollup_cli(tmp_path / pointed_at, tmp_path / "w.duckdb")
    assert result.returncode == 2
    assert result.stderr.startswith("analytics: error: ")
    assert result.stderr.count("\n") == 1
    assert message.format(root=tmp_path) in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_an_empty_spool_with_its_own_folders_is_still_nothing_to_do(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    for folder in ("salts", "quarantine", "archive"):
        (spool / folder / "day=2026-11-20").mkdir(parents=True)
    result = _rollup_cli(spool, tmp_path / "w.duckdb")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nothing to do: no new segments\n"


FIRST = date(2026, 10, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
PER_DAY = 30


def _spool(root: Path) -> Path:
    spool = root / "spool"
    write_events(spool, events_for_days(random.Random(7), DAYS, per_day=PER_DAY))
    return spool


def test_master_given_to_the_duckdb_rollup_is_an_error_even_with_its_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # README: "An option the chosen engine would ignore is an error, not silence: ...
    # `--output` and `--master` for `--engine spark`". Before, `--master local[2]` (the
    # default's value) passed in silence, unlike `--raw-days 90` or `--wait 10`.
    db = tmp_path / "w.duckdb"
    argv = ["rollup", "--spool", str(_spool(tmp_path)), "--db", str(db), "--master", "local[2]"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "analytics: error: --master is for --engine spark\n"
    assert not db.exists()


# What README's CLI and Reports sections write for each option's value.
README_USAGE = {
    "rollup": [
        "--spool DIR",
        "--db FILE",
        "--timezone ZONE",
        "--raw-days N",
        "--archive DIR",
        "--delete-ingested",
        "--wait SECONDS",
        "--engine {duckdb,spark}",
        "--output DIR",
        "--master URL",
    ],
    "report": [
        "KIND",
        "--db FILE",
        "--site S",
        "--from DATE",
        "--to DATE",
        "--grain {day,week,month}",
        "--top N",
        "--compare",
        "--min-visitors K",
        "--format {table,csv,json,html}",
        "--output FILE",
    ],
    "export": ["--db FILE", "--table TABLE", "--format {parquet,csv}", "--output FILE"],
    "prune": ["--db FILE", "--raw-days N", "--wait SECONDS"],
    "compact": ["--db FILE", "--wait SECONDS"],
}


@pytest.mark.parametrize("command", sorted(README_USAGE))
def test_help_names_every_option_the_way_readme_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, --help said `--top TOP`, `--from START`, `--raw-days RAW_DAYS`, `--db DB`,
    # `--format FORMAT` where README (the contract users read) says N, DATE, FILE and the
    # formats.
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in README_USAGE[command]:
        assert option in text, option
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for option in README_USAGE[command]:
        assert option.split()[0] in readme, option


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--engine", "spark", "--output", "OUT", "--delete-ingested"], "--delete-ingested"),
        (["--engine", "spark", "--output", "OUT", "--archive", "ARCHIVE"], "--archive"),
        (["--engine", "spark", "--output", "OUT", "--raw-days", "30"], "--raw-days"),
        (["--engine", "spark", "--output", "OUT", "--wait", "60"], "--wait"),
        (["--db", "DB", "--output", "OUT"], "--output"),
        (["--db", "DB", "--master", "spark://h:7077"], "--master"),
    ],
)
def test_a_rollup_option_the_engine_ignores_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    # Before, `--engine spark --delete-ingested` rolled up and left every segment in the
    # spool (Spark never disposes of them): cron's spool grew without a word. Likewise
    # --raw-days, --wait and --archive with Spark, --output and --master without it.
    spool, _ = seeded_spool(tmp_path, FIRST, seed=42, days=1)
    names = {"OUT": tmp_path / "out", "ARCHIVE": tmp_path / "archive", "DB": tmp_path / "w.db"}
    argv = [str(names.get(arg, arg)) for arg in extra]
    before = sorted(spool.rglob("*.parquet"))
    assert main(["rollup", "--spool", str(spool), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"analytics: error: {named} ")
    assert err.count("\n") == 1
    assert sorted(spool.rglob("*.parquet")) == before
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "w.db").exists()
