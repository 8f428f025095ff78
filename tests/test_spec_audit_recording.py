"""SPEC 4.1/4.2 audit: the recording contract where no earlier test pinned it down.

Each test here failed before the fix it comes with (see the commit that added it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analytics import Recorder
from analytics.event import Event
from analytics.spool import list_segments

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _event(path: str = "/") -> Event:
    return Event(NOON, "example.com", path, "GET", 200, None, None, "direct", None, None, None,
                 None, None, "desktop", False, "undecided")  # fmt: skip


# --- Recorder options: a wrong setting is a one-line ValueError, never a quiet surprise ---


@pytest.mark.parametrize(
    ("option", "value"),
    [
        # From the environment, a setting arrives as text: "false" must not turn hashing on.
        ("visitor_hashing", "false"),
        ("visitor_hashing", "0"),
        ("visitor_hashing", 0),
        ("visitor_hashing", None),
        # A TypeError from comparing text with a number is no configuration message.
        ("flush_interval", "10"),
        ("flush_interval", None),
        ("flush_interval", True),
        ("flush_interval", float("nan")),
        ("flush_interval", float("inf")),
        ("flush_interval", -1),
        ("max_buffer", True),
        ("max_buffer", "1000"),
    ],
)
def test_a_bad_option_value_is_a_value_error_naming_it(
    tmp_path: Path, option: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=option):
        Recorder(tmp_path / "spool", "example.com", **{option: value})


@pytest.mark.parametrize(
    ("option", "value", "hashing"),
    [
        ("visitor_hashing", True, True),
        ("visitor_hashing", False, False),
        ("flush_interval", 0.5, True),
        ("flush_interval", 60, True),
        ("max_buffer", 1, True),
    ],
)
def test_good_option_values_are_taken(
    tmp_path: Path, option: str, value: Any, hashing: bool
) -> None:
    recorder = Recorder(tmp_path / "spool", "example.com", **{option: value})
    assert recorder.hashing is hashing


@pytest.mark.parametrize("spool_dir", ["", "   "])
def test_an_empty_spool_dir_is_refused_not_the_working_directory(
    spool_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="spool_dir"):
        Recorder(spool_dir, "example.com")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("salt_dir", ["", "  "])
def test_an_empty_salt_dir_means_the_default_not_the_working_directory(
    salt_dir: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SPEC 4.1: `salt_dir` (default `<spool_dir>/salts`). An environment variable set empty
    # must not put the day's secret next to the app's code (or its static files).
    workdir = tmp_path / "app"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    spool_dir = tmp_path / "spool"
    recorder = Recorder(spool_dir, "example.com", salt_dir=salt_dir, clock=lambda: NOON)
    assert recorder.salts.salt_dir == spool_dir / "salts"
    assert recorder.visitor_id(NOON.date(), "203.0.113.9", None, b"ua") is not None
    assert [p.name for p in (spool_dir / "salts").iterdir()] == ["2026-11-28.salt"]
    assert list(workdir.iterdir()) == []
    recorder.add(_event())
    assert recorder.flush() == 1
    assert len(list_segments(spool_dir)) == 1
    recorder.close()
