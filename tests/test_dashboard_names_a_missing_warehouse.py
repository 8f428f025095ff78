"""A dashboard given a `db_path` that names nothing (a typo in the file's name or its folder)
says in the server's log which path it was given and what is missing, once per problem; the
HTTP client gets a 503 saying only which kind of problem it is, never a path on the server.

Before, a missing file or folder was "no analytics data yet" with nothing in the log: a typo
in db_path looked like a warehouse not rolled up yet, forever, and nobody knew which path the
dashboard was reading. A deleted warehouse whose old copy is served is logged with its path too.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from tests.dashboard_support import app_for, build_warehouse, get

RANGE = {"from": "2026-04-01", "to": "2026-04-30"}
NO_FILE = (
    "no analytics data yet: the warehouse file does not exist (run `analytics rollup`, "
    "or check the dashboard's db_path)"
)
NO_FOLDER = (
    "the warehouse's folder does not exist: check the dashboard's db_path "
    "(the server's log names it)"
)

# (case, db_path relative to a folder holding `real.duckdb`, the 503's error, the log's
# problem; {root} is that folder, absolute)
CASES = [
    ("file missing", "analytcs.duckdb", NO_FILE, "the file does not exist"),
    ("folder missing", "var/real.duckdb", NO_FOLDER, "folder 'var' does not exist"),
    ("folders missing", "srv/var/real.duckdb", NO_FOLDER, "folder 'srv/var' does not exist"),
    (
        "a file where the folder should be",
        "real.duckdb/x.duckdb",
        NO_FOLDER,
        "'real.duckdb' is a file, not a folder",
    ),
    (
        "absolute, folder missing",
        "{root}/var/real.duckdb",
        NO_FOLDER,
        "folder '{root}/var' does not exist",
    ),
    ("absolute, file missing", "{root}/analytcs.duckdb", NO_FILE, "the file does not exist"),
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "real.duckdb").write_bytes(b"")  # only a name here: never read
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "analytics.dashboard" and r.levelno >= logging.WARNING
    ]


def _as_logged(given: str) -> str:
    return repr(given) if os.path.isabs(given) else f"{given!r} (= {os.path.abspath(given)})"


@pytest.mark.parametrize(
    ("given", "error", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_db_path_naming_nothing_is_named_in_the_log_not_to_the_client(
    root: Path, caplog: pytest.LogCaptureFixture, given: str, error: str, problem: str
) -> None:
    given = given.format(root=root)
    before = sorted(p.name for p in root.iterdir())
    app = app_for(Path(given))
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        for _ in range(3):
            api = get(app, "/api/timeseries", RANGE)
            assert api.status_code == 503
            assert int(api.headers["retry-after"]) > 0
            assert api.json() == {"error": error}
            page = get(app, "/", RANGE)
            assert page.status_code == 503
            assert error.replace("'", "&#x27;") in page.text
            for body in (api.text, page.text):
                assert str(root) not in body
                assert "duckdb" not in body.replace("analytics rollup", "")
    # Once per problem, not once per request.
    assert _warnings(caplog) == [
        f"dashboard cannot use {_as_logged(given)}: {problem.format(root=root)}"
    ]
    assert sorted(p.name for p in root.iterdir()) == before  # nothing created


def test_the_log_names_a_deleted_warehouse_whose_old_copy_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    built = build_warehouse(tmp_path / "built", per_day=5)
    path = tmp_path / "analytics.duckdb"
    shutil.copy(built, path)
    app = app_for(path)
    assert get(app, "/api/timeseries", RANGE).status_code == 200
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="analytics.dashboard"):
        assert get(app, "/api/timeseries", RANGE).status_code == 200
    assert _warnings(caplog) == [
        f"dashboard keeps its old copy of {str(path)!r}: the file does not exist"
    ]
