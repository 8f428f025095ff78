"""A report range outside 1900 … 9000 is refused naming the date that is out of bounds. Before,
`--from 0001-01-01 --to 0001-01-05 --compare` blamed the end alone ("end 0001-01-05 is out of
bounds (before 1900)"), and `--from 0001-01-01 --to 2026-11-05` named neither ("date range
0001-01-01 … 2026-11-05 is out of bounds")."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.cli import main
from tests.cli_support import build_one_day_warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_one_day_warehouse(tmp_path_factory.mktemp("bounds"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["pages", "--from", "0001-01-01", "--to", "0001-01-05", "--compare"],
            "start 0001-01-01 and end 0001-01-05 are out of bounds (before 1900)",
        ),
        (
            ["trends", "--from", "0001-01-01", "--to", "0001-01-05"],
            "start 0001-01-01 and end 0001-01-05 are out of bounds (before 1900)",
        ),
        (
            ["pages", "--from", "0001-01-01", "--to", "2026-11-05", "--compare"],
            "start 0001-01-01 is out of bounds (before 1900)",
        ),
        (
            ["summary", "--to", "1900-01-05"],
            "start 1899-12-09 (no start given: 28 days ending with the end) is out of bounds "
            "(before 1900)",
        ),
        (
            ["pages", "--from", "9000-12-01", "--to", "9001-01-31"],
            "end 9001-01-31 is out of bounds (after 9000)",
        ),
        (
            ["pages", "--from", "1899-12-01", "--to", "9001-01-31"],
            "start 1899-12-01 is out of bounds (before 1900), and end 9001-01-31 is out of "
            "bounds (after 9000)",
        ),
        (
            ["pages", "--from", "2026-11-01", "--to", "1899-12-31"],
            "end 1899-12-31 is out of bounds (before 1900)",  # as before
        ),
    ],
)
def test_the_date_out_of_bounds_is_named(
    warehouse: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    kind, *options = argv
    assert main(["report", kind, "--db", str(warehouse), *options]) == 2
    assert capsys.readouterr() == ("", f"analytics: error: {message}\n")
