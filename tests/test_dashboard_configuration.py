"""`dashboard()` configuration of the wrong type is a ValueError that names the option and
what it takes: `timezone` and `db_path`."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.dashboard import dashboard
from tests.dashboard_support import PASSWORD, USER

# -- configuration of the wrong type is a ValueError that says what is wanted ---------------
# `timezone=` and `db_path` of the wrong type (a number from a settings file, a zone written as
# bytes) raised zoneinfo's or pathlib's TypeError, "expected str, bytes or os.PathLike object,
# not int", naming neither the option nor what it takes.


@pytest.mark.parametrize("timezone", [123, 1.5, b"Europe/Berlin", ["UTC"], True])
def test_a_timezone_that_is_not_a_string_is_a_clear_value_error(
    tmp_path: Path, timezone: object
) -> None:
    with pytest.raises(ValueError, match=r"^timezone must be an IANA time zone name"):
        dashboard(tmp_path / "a.duckdb", basic=(USER, PASSWORD), timezone=timezone)  # type: ignore[arg-type]


@pytest.mark.parametrize("db_path", [123, None, ["a.duckdb"], 2.5])
def test_a_db_path_that_is_not_a_path_is_a_clear_value_error(db_path: object) -> None:
    with pytest.raises(ValueError, match=r"^db_path must be a file path"):
        dashboard(db_path, basic=(USER, PASSWORD))  # type: ignore[arg-type]


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "UTC", "America/Adak"])
def test_a_timezone_name_is_still_accepted(tmp_path: Path, timezone: str) -> None:
    assert callable(dashboard(tmp_path / "a.duckdb", basic=(USER, PASSWORD), timezone=timezone))
