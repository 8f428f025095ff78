"""Time zone names that are files of this host (`localtime`, `posixrules`) or count leap
seconds (`right/…`), or copy plain IANA names (`posix/…`), are refused with the reason in one
line by validate_timezone, the rollup CLI, the dashboard and the Warehouse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analytics.dashboard import dashboard
from analytics.timezones import validate_timezone
from analytics.warehouse import Warehouse
from tests.dashboard_support import TOKEN
from tests.support import ROOT
from tests.warehouse_support import python_knows


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


NOT_CIVIL = [
    # (name, what the one line must say)
    ("localtime", "differs between machines"),
    ("posixrules", "differs between machines"),
    ("right/UTC", "leap seconds, so their days are not civil days; use 'UTC'"),
    ("right/Europe/Berlin", "leap seconds, so their days are not civil days; use 'Europe/Berlin'"),
    ("right/America/New_York", "use 'America/New_York'"),
    ("posix/Europe/Berlin", "copies of the plain IANA names; use 'Europe/Berlin'"),
    ("posix/UTC", "use 'UTC'"),
]


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_validate_timezone_refuses_host_files_with_the_reason(zone: str, why: str) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=f"unknown time zone {zone!r}") as caught:
        validate_timezone(zone)
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("zone", ["UTC", "Etc/UTC", "Europe/Berlin", "America/New_York", "Zulu"])
def test_plain_iana_names_still_pass(zone: str) -> None:
    assert validate_timezone(zone) == zone


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_cli_rollup_refuses_them_in_one_line_before_any_file(
    tmp_path: Path, zone: str, why: str
) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    spool = tmp_path / "spool"
    spool.mkdir()
    db = tmp_path / "analytics.duckdb"
    done = _cli("rollup", "--spool", str(spool), "--db", str(db), "--timezone", zone)
    assert done.returncode == 2
    assert done.stderr.startswith(f"analytics: error: unknown time zone {zone!r}: ")
    assert why in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not db.exists()


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_dashboard_refuses_them_as_configuration(tmp_path: Path, zone: str, why: str) -> None:
    # The dashboard's zone is configuration (no request parameter takes one): a ValueError at
    # startup, as for an unknown name; before, 'localtime' and 'right/…' served silently.
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=f"unknown time zone {zone!r}") as caught:
        dashboard(tmp_path / "analytics.duckdb", token=TOKEN, timezone=zone)
    assert why in str(caught.value)


@pytest.mark.parametrize(("zone", "why"), NOT_CIVIL)
def test_warehouse_refuses_them_as_configuration(tmp_path: Path, zone: str, why: str) -> None:
    if not python_knows(zone):
        pytest.skip(f"this machine's zoneinfo has no {zone!r}")
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        Warehouse(tmp_path / "w.duckdb", timezone=zone)
    assert not (tmp_path / "w.duckdb").exists()
