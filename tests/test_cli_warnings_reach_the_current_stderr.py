"""`analytics.cli.main` called more than once in one process writes its warnings to the
`sys.stderr` of each call.

The CLI's log handler used to keep the `sys.stderr` of the first call: a program (or a test
suite) that calls `main()` again with stderr redirected lost every warning of the later
calls into the first call's stream, while its error lines (printed) arrived.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analytics.cli import main


def _spool_with_a_damaged_segment(root: Path) -> Path:
    spool = root / "spool"
    day = spool / "day=2026-11-01"
    day.mkdir(parents=True)
    (day / "0000000000001-host-1-000001-deadbeef.parquet").write_bytes(b"not parquet at all")
    return spool


def test_a_later_call_warns_on_its_own_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    assert (
        main(
            [
                "rollup",
                "--spool",
                str(_spool_with_a_damaged_segment(tmp_path / "a")),
                "--db",
                str(tmp_path / "a.duckdb"),
            ]
        )
        == 0
    )
    assert "quarantined corrupt segment" in first.getvalue()

    monkeypatch.setattr("sys.stderr", second)
    assert (
        main(
            [
                "rollup",
                "--spool",
                str(_spool_with_a_damaged_segment(tmp_path / "b")),
                "--db",
                str(tmp_path / "b.duckdb"),
            ]
        )
        == 0
    )

    assert "quarantined corrupt segment" in second.getvalue()
    assert first.getvalue().count("quarantined corrupt segment") == 1
