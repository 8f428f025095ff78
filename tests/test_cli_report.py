"""`analytics report`: every kind in every format through the CLI, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.cli import KINDS, REPORT_FORMATS, main
from analytics.warehouse import Warehouse
from tests.warehouse_support import events_for_days, fixed_clock, write_events

FIRST = date(2026, 10, 1)
RANGE = ["--from", "2026-10-01", "--to", "2026-10-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    days = [FIRST - timedelta(days=28) + timedelta(days=i) for i in range(56)]
    write_events(root / "spool", events_for_days(random.Random(1), days, per_day=40))
    path = root / "w.duckdb"
    Warehouse(path, clock=fixed_clock(datetime(2026, 10, 30, tzinfo=UTC))).run(root / "spool")
    return path


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_format(
    db: Path, kind: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", kind, "--db", str(db), *RANGE, "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        rows = json.loads(out)
        assert isinstance(rows, list)
        assert all(isinstance(row, dict) for row in rows)
    elif fmt == "csv":
        header = next(csv.reader(io.StringIO(out)))
        assert header
    elif fmt == "html":
        assert "<svg" in out
        assert "http://" not in out.replace("http://www.w3.org/2000/svg", "")
    else:
        assert out.strip()


def test_report_to_a_file(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    argv = ["report", "referrers", "--db", str(db), *RANGE, "--format", "html"]
    assert main([*argv, "--compare", "--grain", "week", "--output", str(out)]) == 0
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "visits", "--db", "DB"], "unknown report kind 'visits'"),
        (["report", "pages", "--db", "MISSING"], "does not exist"),
        (["report", "pages", "--db", "DB", "--from", "2026-02-30"], "bad date"),
        (["report", "pages", "--db", "DB", "--to", "yesterday"], "bad date"),
        (["report", "pages", "--db", "DB", "--grain", "hour"], "invalid choice"),
        (["report", "pages", "--db", "DB", "--format", "pdf"], "unknown format 'pdf'"),
        (["report", "pages", "--db", "DB", "--top", "0"], "at least 1"),
        (["report", "pages", "--db", "DB", "--output", "NOFOLDER"], "cannot write"),
    ],
)
def test_report_errors_are_one_line(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    names = {"DB": db, "MISSING": tmp_path / "m.duckdb", "NOFOLDER": tmp_path / "x" / "r.txt"}
    argv = [str(names[a]) if a in names else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics: error: ")
    assert err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "m.duckdb").exists()


def test_min_visitors_folds_small_rows(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "pages", "--db", str(db), *RANGE, "--format", "json"]
    assert main(base) == 0
    plain = json.loads(capsys.readouterr().out)
    # A threshold with enough small rows that (other) reaches it: (other) is their sum.
    visitors = sorted(r["visitors"] for r in plain)
    k = next(v for v in visitors if sum(x for x in visitors if x < v) >= v)
    assert main([*base, "--min-visitors", str(k)]) == 0
    folded = json.loads(capsys.readouterr().out)
    assert folded[-1]["path"] == "(other)"
    assert all(r["visitors"] >= k for r in folded)
    assert sum(r["pageviews"] for r in folded) == sum(r["pageviews"] for r in plain)
    # Everything folded, and (other) itself below K: the row stays, its numbers do not.
    assert main([*base, "--min-visitors", "100000"]) == 0
    folded = json.loads(capsys.readouterr().out)
    assert folded == [{"path": "(other)", "pageviews": None, "visitors": None}]
